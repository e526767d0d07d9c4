// Package taxii implements the TAXII 2.1 (OASIS, 2021) server Healthgate
// offers partner organisations under /taxii2/, and the client `healthgate
// intel pull` uses to read other organisations' collections.
//
// Partners authenticate with an HTTP Bearer token (NewToken); rights are
// per collection. Paging uses an opaque `next` cursor, HMAC-signed, that
// encodes the position (date_added, id, version) of the last object
// returned, so any number of objects sharing one date_added page with no
// duplicates and no gaps. See docs/TAXII.md.
package taxii
