package store

// PartnerStore persists partner organisations (their TAXII credentials and
// per-collection rights) and the STIX objects shared with them.
type PartnerStore interface {
}
