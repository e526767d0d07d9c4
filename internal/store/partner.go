package store

import (
	"context"
	"time"
)

// PartnerStore persists partner organisations (their TAXII credentials and
// per-collection rights) and the STIX objects shared with them.
type PartnerStore interface {
	// CreatePartner stores a partner and its first token in one
	// transaction. A name already taken gives ErrConflict.
	CreatePartner(ctx context.Context, p Partner, first PartnerToken) error
	// Partner returns the partner with the given id or name, or
	// ErrNotFound.
	Partner(ctx context.Context, idOrName string) (Partner, error)
	// Partners lists every partner, by name.
	Partners(ctx context.Context) ([]Partner, error)
	// AddPartnerToken stores another token of an existing partner
	// (ErrNotFound when there is no such partner).
	AddPartnerToken(ctx context.Context, t PartnerToken) error
	// PartnerToken returns the token with the given id, or ErrNotFound.
	PartnerToken(ctx context.Context, id string) (PartnerToken, error)
	// RevokePartnerTokens revokes every unrevoked token of a partner and
	// returns how many.
	RevokePartnerTokens(ctx context.Context, partnerID string, at time.Time) (int64, error)

	// AddTAXIIObjects stores objects in a collection and, when status.ID is
	// set, the status resource of the request, all in one transaction:
	// either everything is stored or nothing is. Every object of one call
	// gets the same date_added: status.Requested (truncated to the
	// microsecond), or 1 µs after the newest date_added already in the
	// collection if that is later, so date_added never goes backwards and
	// a client that has seen one object of a call has seen a committed
	// call. An object whose (id, version) is already in the collection is
	// left as it is. It returns the date_added used.
	AddTAXIIObjects(ctx context.Context, collection string, objs []TAXIIObject, status TAXIIStatus) (time.Time, error)
	// TAXIIObjects returns up to q.Limit objects of a collection that match
	// q, ordered by (date_added, id, version), and whether there are more.
	TAXIIObjects(ctx context.Context, q TAXIIQuery) (objs []TAXIIObject, more bool, err error)
	// TAXIIStatus returns a stored status resource, or ErrNotFound.
	TAXIIStatus(ctx context.Context, id string) (TAXIIStatus, error)
	// PurgeTAXIIStatus forgets status resources of requests made before t
	// and returns how many.
	PurgeTAXIIStatus(ctx context.Context, before time.Time) (int64, error)

	// PullState returns the added_after to resume pulling a partner's
	// collection from (zero when never pulled).
	PullState(ctx context.Context, partner, collection string) (time.Time, error)
	// SetPullState records it.
	SetPullState(ctx context.Context, partner, collection string, addedAfter time.Time) error
}

// Partner is another organisation that exchanges threat intelligence over
// TAXII. Read and Write name the collections (by alias) it may read and
// add to.
type Partner struct {
	ID      string
	Name    string
	Read    []string
	Write   []string
	Created time.Time
}

// PartnerToken is a partner's HTTP Bearer credential. Only the SHA-256 of
// its secret is stored; the token is shown once when it is made.
type PartnerToken struct {
	ID        string
	PartnerID string
	Hash      []byte
	Created   time.Time
	Expires   time.Time
	Revoked   time.Time // zero while not revoked
}

// ValidAt reports whether the token is neither expired nor revoked at t.
func (t PartnerToken) ValidAt(at time.Time) bool {
	return t.Revoked.IsZero() && at.Before(t.Expires)
}

// TAXIIObject is one version of a STIX object in a TAXII collection.
type TAXIIObject struct {
	Collection  string
	ID          string
	Type        string
	SpecVersion string
	Version     time.Time // modified (or created)
	DateAdded   time.Time // set by AddTAXIIObjects
	Body        []byte    // the object, JSON
	// PostedBy is the id of the partner that added the object; empty for
	// Healthgate's own.
	PostedBy string
	// PosterOnly: only PostedBy may read the object back (a partner's
	// TLP:AMBER, AMBER+STRICT or RED object). See TAXIIQuery.Reader.
	PosterOnly bool
}

// TAXIICursor is the position after the last object of a page.
type TAXIICursor struct {
	DateAdded time.Time
	ID        string
	Version   time.Time
}

// TAXIIQuery selects objects of a collection. Empty filters match
// everything, except Versions, which defaults to the last version of each
// object.
type TAXIIQuery struct {
	Collection   string
	AddedAfter   time.Time    // exclusive; zero: from the start
	After        *TAXIICursor // exclusive; from a `next` cursor
	IDs          []string
	Types        []string
	SpecVersions []string
	// Versions holds "last", "first", "all" and exact versions (formatted
	// with time.RFC3339Nano); any match selects an object version.
	Versions []string
	Limit    int
	// Reader is the id of the partner asking. When set, PosterOnly objects
	// of other partners are left out as if they were not stored at all:
	// from pages, from "first" and "last", from exact versions. Empty:
	// every object, for Healthgate's own reads; the TAXII server always
	// sets it.
	Reader string
}

// TAXIIStatus is a TAXII status resource, kept as the JSON answered, and
// readable only by the partner whose request it describes.
type TAXIIStatus struct {
	ID        string
	PartnerID string
	Requested time.Time
	Body      []byte
}
