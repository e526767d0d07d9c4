package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
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
	// call.
	//
	// Objects are taken in order, each against the collection as the
	// objects before it left it. An object whose (id, version) is already
	// there with the same content (JSON-equal body) is left as it is and
	// not refused. It is refused, and the others still stored, when
	//   - its id is there and was first posted by someone else (PostedBy;
	//     "" is Healthgate): only an object's creator may add versions of
	//     it (STIX 2.1 section 3.6), so nobody can revoke or rewrite
	//     another's intelligence (ErrTAXIINotCreator);
	//   - its (id, version) is there with other content
	//     (ErrTAXIIVersionExists).
	// Calls on one collection are serialised, so two calls racing to post
	// one new id cannot both become its creator.
	AddTAXIIObjects(ctx context.Context, collection string, objs []TAXIIObject, status TAXIIStatus) (TAXIIAdded, error)
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
	// Render, when set, makes Body inside AddTAXIIObjects from what the
	// call did, so the stored status tells which objects were refused.
	Render func(TAXIIAdded) ([]byte, error)
}

// Why AddTAXIIObjects refuses an object; the errors of TAXIIAdded.Refused
// wrap them and say which object.
var (
	ErrTAXIINotCreator    = errors.New("only the creator of an object may add versions of it")
	ErrTAXIIVersionExists = errors.New("version already exists with other content")
)

// TAXIIAdded is what a call of AddTAXIIObjects did.
type TAXIIAdded struct {
	DateAdded time.Time
	// Refused[i] is why objs[i] was not stored, nil for an object stored
	// or already there as it is; Refused is nil when nothing was refused.
	Refused []error
}

// TAXIIStored is what a collection already holds of the ids of a call to
// AddTAXIIObjects: the poster of each id's first version (the one with
// the earliest date_added, then the earliest version) and the bodies of
// the (id, version) pairs of the call that are stored.
type TAXIIStored struct {
	Creators map[string]string
	Bodies   map[TAXIIVersion][]byte
}

// TAXIIVersion names one version of an object, as stored: to the
// microsecond.
type TAXIIVersion struct {
	ID      string
	Version int64 // Unix microseconds
}

// VersionOf returns the version o is stored as.
func (o TAXIIObject) VersionOf() TAXIIVersion {
	return TAXIIVersion{ID: o.ID, Version: o.Version.Truncate(time.Microsecond).UnixMicro()}
}

// SortTAXIIObjects applies the rules of AddTAXIIObjects to objs, in order,
// given what the collection holds: it returns the objects to insert (new
// (id, version) pairs, each once) and the refusals, as TAXIIAdded.Refused.
// The backends share it so they refuse alike.
func SortTAXIIObjects(objs []TAXIIObject, held TAXIIStored) (insert []TAXIIObject, refused []error) {
	creators := maps.Clone(held.Creators)
	bodies := maps.Clone(held.Bodies)
	if creators == nil {
		creators = map[string]string{}
	}
	if bodies == nil {
		bodies = map[TAXIIVersion][]byte{}
	}
	refuse := func(i int, err error) {
		if refused == nil {
			refused = make([]error, len(objs))
		}
		refused[i] = err
	}
	for i, o := range objs {
		v := o.VersionOf()
		body, there := bodies[v]
		switch creator, known := creators[o.ID]; {
		case there && sameJSON(body, o.Body):
			// Already stored as it is: nothing to do, also for another
			// poster, whom it does not let change anything.
		case known && creator != o.PostedBy:
			refuse(i, &taxiiRefusal{ErrTAXIINotCreator, o.ID + " was first posted by another organisation: only its creator may add versions of it"})
		case there:
			refuse(i, &taxiiRefusal{ErrTAXIIVersionExists, "version " + o.Version.UTC().Format(time.RFC3339Nano) + " of " + o.ID + " already exists with other content"})
		default:
			insert = append(insert, o)
			bodies[v] = o.Body
			if !known {
				creators[o.ID] = o.PostedBy
			}
		}
	}
	return insert, refused
}

// taxiiRefusal is an error of TAXIIAdded.Refused: a message naming the
// object, and the reason it wraps.
type taxiiRefusal struct {
	reason error
	msg    string
}

func (e *taxiiRefusal) Error() string { return e.msg }
func (e *taxiiRefusal) Unwrap() error { return e.reason }

// sameJSON reports whether two JSON texts have the same value: objects
// with their keys in another order, or other spacing, are the same.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
