package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var partnerTests = []storeTest{
	{"PartnerCreate", testPartnerCreate},
	{"PartnerTokens", testPartnerTokens},
	{"TAXIIObjectsPaging", testTAXIIPaging},
	{"TAXIIObjectsFilters", testTAXIIFilters},
	{"TAXIIObjectsReader", testTAXIIReader},
	{"TAXIIDateAddedMonotonic", testTAXIIMonotonic},
	{"TAXIIStatus", testTAXIIStatus},
	{"TAXIIVersionsByCreatorOnly", testTAXIICreatorOnly},
	{"TAXIIVersionContentFixed", testTAXIIVersionContent},
	{"TAXIICreatorRace", testTAXIICreatorRace},
	{"PullState", testPullState},
}

func partner(id, name string) (store.Partner, store.PartnerToken) {
	return store.Partner{ID: id, Name: name, Read: []string{"indicators"}, Write: []string{"indicators"}, Created: t0},
		store.PartnerToken{ID: "tok-" + id, PartnerID: id, Hash: []byte("hash-" + id), Created: t0, Expires: t0.Add(90 * 24 * time.Hour)}
}

func testPartnerCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	p, tok := partner("p1", "org-a")
	if err := s.CreatePartner(ctx, p, tok); err != nil {
		t.Fatal(err)
	}
	dup, dupTok := partner("p2", "org-a")
	if err := s.CreatePartner(ctx, dup, dupTok); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same name again: err = %v, want ErrConflict", err)
	}
	if _, err := s.PartnerToken(ctx, dupTok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of the refused partner was stored: %v", err)
	}
	for _, key := range []string{"p1", "org-a"} {
		got, err := s.Partner(ctx, key)
		if err != nil {
			t.Fatalf("Partner(%s): %v", key, err)
		}
		if got.ID != "p1" || got.Name != "org-a" || len(got.Read) != 1 || got.Read[0] != "indicators" || len(got.Write) != 1 || !got.Created.Equal(t0) {
			t.Errorf("Partner(%s) = %+v", key, got)
		}
	}
	if _, err := s.Partner(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown partner: err = %v", err)
	}
	b, btok := partner("p3", "org-b")
	b.Write = nil
	if err := s.CreatePartner(ctx, b, btok); err != nil {
		t.Fatal(err)
	}
	all, err := s.Partners(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "org-a" || all[1].Name != "org-b" || len(all[1].Write) != 0 {
		t.Errorf("Partners = %+v, %v", all, err)
	}
}

func testPartnerTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	p, tok := partner("p1", "org-a")
	if err := s.CreatePartner(ctx, p, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.PartnerToken(ctx, tok.ID)
	if err != nil || string(got.Hash) != string(tok.Hash) || got.PartnerID != "p1" || !got.Expires.Equal(tok.Expires) || !got.ValidAt(t0) {
		t.Fatalf("PartnerToken = %+v, %v", got, err)
	}
	second := tok
	second.ID = "tok-2"
	if err := s.AddPartnerToken(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPartnerToken(ctx, second); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same token id twice: %v", err)
	}
	orphan := tok
	orphan.ID, orphan.PartnerID = "tok-3", "nobody"
	if err := s.AddPartnerToken(ctx, orphan); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of an unknown partner: err = %v, want ErrNotFound", err)
	}
	n, err := s.RevokePartnerTokens(ctx, "p1", t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("RevokePartnerTokens = %d, %v; want 2", n, err)
	}
	got, _ = s.PartnerToken(ctx, tok.ID)
	if got.ValidAt(t0.Add(2*time.Hour)) || !got.Revoked.Equal(t0.Add(time.Hour)) {
		t.Errorf("revoked token = %+v", got)
	}
	if n, _ := s.RevokePartnerTokens(ctx, "p1", t0.Add(2*time.Hour)); n != 0 {
		t.Errorf("second revocation touched %d tokens", n)
	}
}

func taxiiObject(i int, version time.Time) store.TAXIIObject {
	id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
	return store.TAXIIObject{ID: id, Type: "indicator", SpecVersion: "2.1", Version: version,
		Body: []byte(fmt.Sprintf(`{"id":%q}`, id))}
}

// testTAXIIPaging stores many objects with one date_added and pages through
// them with a small limit: every object once, in order.
func testTAXIIPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	var objs []store.TAXIIObject
	for i := range 1000 {
		objs = append(objs, taxiiObject(i, t0))
	}
	res, err := s.AddTAXIIObjects(ctx, "indicators", objs, store.TAXIIStatus{Requested: t0})
	if err != nil {
		t.Fatal(err)
	}
	if added := res.DateAdded; !added.Equal(t0) || res.Refused != nil {
		t.Errorf("date_added = %v, refused %v; want %v, none", added, res.Refused, t0)
	}
	seen := map[string]bool{}
	var after *store.TAXIICursor
	prev := ""
	pages := 0
	for {
		page, more, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page {
			if seen[o.ID] {
				t.Fatalf("%s seen twice", o.ID)
			}
			if o.ID <= prev {
				t.Fatalf("%s after %s: out of order", o.ID, prev)
			}
			if !o.DateAdded.Equal(t0) || string(o.Body) == "" {
				t.Fatalf("object %+v", o)
			}
			seen[o.ID], prev = true, o.ID
		}
		if !more {
			break
		}
		last := page[len(page)-1]
		after = &store.TAXIICursor{DateAdded: last.DateAdded, ID: last.ID, Version: last.Version}
	}
	if len(seen) != 1000 || pages != 143 {
		t.Errorf("saw %d objects in %d pages, want 1000 in 143", len(seen), pages)
	}
	// Another collection is separate.
	if page, _, _ := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "sightings"}); len(page) != 0 {
		t.Errorf("sightings holds %d objects", len(page))
	}
}

func testTAXIIFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	v1, v2 := t0, t0.Add(time.Hour)
	a1, a2, b := taxiiObject(1, v1), taxiiObject(1, v2), taxiiObject(2, v1)
	mal := store.TAXIIObject{ID: "malware--00000000-0000-4000-8000-000000000003", Type: "malware", SpecVersion: "2.1", Version: v1, Body: []byte(`{}`)}
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{a1, b, mal}, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	// The same (id, version) again is left alone; a new version is added.
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{a1, a2}, store.TAXIIStatus{Requested: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ids := func(q store.TAXIIQuery) string {
		q.Collection = "indicators"
		page, _, err := s.TAXIIObjects(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, o := range page {
			out += fmt.Sprintf("%s@%d ", o.ID[len(o.ID)-1:], o.Version.Sub(t0)/time.Hour)
		}
		return out
	}
	tests := []struct {
		name string
		q    store.TAXIIQuery
		want string
	}{
		{"default is last", store.TAXIIQuery{}, "2@0 3@0 1@1 "},
		{"all", store.TAXIIQuery{Versions: []string{"all"}}, "1@0 2@0 3@0 1@1 "},
		{"first", store.TAXIIQuery{Versions: []string{"first"}}, "1@0 2@0 3@0 "},
		{"exact", store.TAXIIQuery{Versions: []string{v2.Format(time.RFC3339Nano)}}, "1@1 "},
		{"first or last", store.TAXIIQuery{IDs: []string{a1.ID}, Versions: []string{"first", "last"}}, "1@0 1@1 "},
		{"type", store.TAXIIQuery{Types: []string{"malware"}}, "3@0 "},
		{"id", store.TAXIIQuery{IDs: []string{b.ID}}, "2@0 "},
		{"spec_version 2.0", store.TAXIIQuery{SpecVersions: []string{"2.0"}}, ""},
		{"added_after", store.TAXIIQuery{AddedAfter: t0, Versions: []string{"all"}}, "1@1 "},
		{"limit", store.TAXIIQuery{Limit: 1}, "2@0 "},
	}
	for _, tt := range tests {
		if got := ids(tt.q); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// testTAXIIReader: PosterOnly objects are returned only to the partner
// that posted them, as if absent for everyone else, also when choosing the
// first and last versions; an empty Reader sees everything.
func testTAXIIReader(t *testing.T, s store.Store) {
	ctx := context.Background()
	v1, v2 := t0, t0.Add(time.Hour)
	by := func(o store.TAXIIObject, partner string, only bool) store.TAXIIObject {
		o.PostedBy, o.PosterOnly = partner, only
		return o
	}
	// 1: shared by A, then a restricted version; 2: restricted by A;
	// 3: restricted by B; 4: Healthgate's own.
	objs := []store.TAXIIObject{
		by(taxiiObject(1, v1), "A", false), by(taxiiObject(1, v2), "A", true),
		by(taxiiObject(2, v1), "A", true), by(taxiiObject(3, v1), "B", true), taxiiObject(4, v1),
	}
	if _, err := s.AddTAXIIObjects(ctx, "indicators", objs, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	ids := func(q store.TAXIIQuery) string {
		q.Collection = "indicators"
		out := ""
		for {
			page, more, err := s.TAXIIObjects(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page {
				out += fmt.Sprintf("%s@%d ", o.ID[len(o.ID)-1:], o.Version.Sub(t0)/time.Hour)
			}
			if !more {
				return out
			}
			last := page[len(page)-1]
			q.After = &store.TAXIICursor{DateAdded: last.DateAdded, ID: last.ID, Version: last.Version}
		}
	}
	tests := []struct {
		name string
		q    store.TAXIIQuery
		want string
	}{
		{"no reader: everything", store.TAXIIQuery{Versions: []string{"all"}}, "1@0 1@1 2@0 3@0 4@0 "},
		{"A: last", store.TAXIIQuery{Reader: "A"}, "1@1 2@0 4@0 "},
		{"A: all", store.TAXIIQuery{Reader: "A", Versions: []string{"all"}}, "1@0 1@1 2@0 4@0 "},
		{"B: last is the last B may see", store.TAXIIQuery{Reader: "B"}, "1@0 3@0 4@0 "},
		{"B: first", store.TAXIIQuery{Reader: "B", Versions: []string{"first"}}, "1@0 3@0 4@0 "},
		{"B: all, one a page", store.TAXIIQuery{Reader: "B", Versions: []string{"all"}, Limit: 1}, "1@0 3@0 4@0 "},
		{"B: a hidden exact version", store.TAXIIQuery{Reader: "B", Versions: []string{v2.Format(time.RFC3339Nano)}}, ""},
		{"C: one a page", store.TAXIIQuery{Reader: "C", Limit: 1}, "1@0 4@0 "},
		{"C: a hidden id", store.TAXIIQuery{Reader: "C", IDs: []string{taxiiObject(2, v1).ID}}, ""},
	}
	for _, tt := range tests {
		if got := ids(tt.q); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	page, _, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", Reader: "A", IDs: []string{taxiiObject(2, v1).ID}})
	if err != nil || len(page) != 1 || page[0].PostedBy != "A" || !page[0].PosterOnly {
		t.Errorf("A's restricted object = %+v, %v", page, err)
	}
}

// testTAXIIMonotonic: a call with an older clock still gets a later
// date_added than everything already in the collection.
func testTAXIIMonotonic(t *testing.T, s store.Store) {
	ctx := context.Background()
	first, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{taxiiObject(1, t0)}, store.TAXIIStatus{Requested: t0})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{taxiiObject(2, t0)}, store.TAXIIStatus{Requested: t0.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !second.DateAdded.After(first.DateAdded) {
		t.Errorf("date_added went from %v to %v", first.DateAdded, second.DateAdded)
	}
	page, _, _ := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", AddedAfter: first.DateAdded})
	if len(page) != 1 || page[0].ID != taxiiObject(2, t0).ID {
		t.Errorf("added_after the first call: %+v", page)
	}
}

func testTAXIIStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	st := store.TAXIIStatus{ID: "st-1", PartnerID: "p1", Requested: t0, Body: []byte(`{"status":"complete"}`)}
	if _, err := s.AddTAXIIObjects(ctx, "indicators", nil, st); err != nil {
		t.Fatal(err)
	}
	got, err := s.TAXIIStatus(ctx, "st-1")
	if err != nil || got.PartnerID != "p1" || string(got.Body) != string(st.Body) || !got.Requested.Equal(t0) {
		t.Errorf("TAXIIStatus = %+v, %v", got, err)
	}
	// A failing call (duplicate status id) stores none of its objects.
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{taxiiObject(9, t0)}, st); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate status id: err = %v, want ErrConflict", err)
	}
	if page, _, _ := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators"}); len(page) != 0 {
		t.Errorf("a failed call left %d objects behind", len(page))
	}
	if _, err := s.TAXIIStatus(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown status: err = %v", err)
	}
	// Purging forgets the statuses of requests made before the cut, not
	// at it or after, and nothing else.
	later := store.TAXIIStatus{ID: "st-2", PartnerID: "p1", Requested: t0.Add(time.Hour), Body: []byte(`{}`)}
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{taxiiObject(1, t0)}, later); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeTAXIIStatus(ctx, t0); err != nil || n != 0 {
		t.Errorf("PurgeTAXIIStatus(t0) = %d, %v; want 0 (st-1 was requested at t0)", n, err)
	}
	if n, err := s.PurgeTAXIIStatus(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("PurgeTAXIIStatus(t0+1m) = %d, %v; want 1", n, err)
	}
	if _, err := s.TAXIIStatus(ctx, "st-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged status still there: %v", err)
	}
	if _, err := s.TAXIIStatus(ctx, "st-2"); err != nil {
		t.Errorf("later status purged: %v", err)
	}
	if page, _, _ := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators"}); len(page) != 1 {
		t.Errorf("purging statuses touched objects: %d left", len(page))
	}
}

func posted(o store.TAXIIObject, by string) store.TAXIIObject {
	o.PostedBy = by
	return o
}

func withBody(o store.TAXIIObject, body string) store.TAXIIObject {
	o.Body = []byte(body)
	return o
}

// versionsOf returns the stored versions of an object, as "poster@hours"
// after t0, and its body at match[version]=last.
func versionsOf(t *testing.T, s store.Store, id string) (versions, last string) {
	t.Helper()
	ctx := context.Background()
	page, _, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", IDs: []string{id}, Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page {
		versions += fmt.Sprintf("%s@%d ", o.PostedBy, o.Version.Sub(t0)/time.Hour)
	}
	page, _, err = s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "indicators", IDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) == 1 {
		last = string(page[0].Body)
	}
	return versions, last
}

// refusals renders TAXIIAdded.Refused for comparison: "-" for an object
// taken, "creator" or "content" for one refused.
func refusals(t *testing.T, res store.TAXIIAdded, n int) string {
	t.Helper()
	if res.Refused != nil && len(res.Refused) != n {
		t.Fatalf("Refused has %d entries for %d objects", len(res.Refused), n)
	}
	out := ""
	for i := range n {
		var err error
		if res.Refused != nil {
			err = res.Refused[i]
		}
		switch {
		case err == nil:
			out += "- "
		case errors.Is(err, store.ErrTAXIINotCreator):
			out += "creator "
		case errors.Is(err, store.ErrTAXIIVersionExists):
			out += "content "
		default:
			t.Fatalf("object %d refused with %v", i, err)
		}
	}
	return out
}

// testTAXIICreatorOnly: a new version of an object id already in the
// collection is taken only from the partner (or Healthgate, "") that
// first posted the id; others' versions are refused, naming the id, and
// the rest of their call is stored.
func testTAXIICreatorOnly(t *testing.T, s store.Store) {
	ctx := context.Background()
	v1, v2, v3 := t0, t0.Add(time.Hour), t0.Add(2*time.Hour)
	a, own := taxiiObject(1, v1), taxiiObject(2, v1)
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{posted(a, "A"), own}, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	revoke := withBody(taxiiObject(1, v2), `{"revoked":true}`)
	tests := []struct {
		name     string
		objs     []store.TAXIIObject
		want     string
		versions string // of object 1, after the call
	}{
		{"B versions A's object", []store.TAXIIObject{posted(revoke, "B"), posted(taxiiObject(3, v1), "B")}, "creator - ", "A@0 "},
		{"Healthgate versions A's object", []store.TAXIIObject{revoke}, "creator ", "A@0 "},
		{"B versions Healthgate's object", []store.TAXIIObject{posted(taxiiObject(2, v2), "B")}, "creator ", "A@0 "},
		{"B re-posts A's version as it is", []store.TAXIIObject{posted(a, "B")}, "- ", "A@0 "},
		{"A versions its own object", []store.TAXIIObject{posted(taxiiObject(1, v2), "A")}, "- ", "A@0 A@1 "},
		{"B posts an older version", []store.TAXIIObject{posted(taxiiObject(1, v1.Add(-time.Hour)), "B")}, "creator ", "A@0 A@1 "},
		{"A, then B, in one call", []store.TAXIIObject{posted(taxiiObject(1, v3), "A"), posted(withBody(taxiiObject(1, v3.Add(time.Hour)), `{}`), "B")}, "- creator ", "A@0 A@1 A@2 "},
	}
	for _, tt := range tests {
		res, err := s.AddTAXIIObjects(ctx, "indicators", tt.objs, store.TAXIIStatus{Requested: t0.Add(time.Minute)})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := refusals(t, res, len(tt.objs)); got != tt.want {
			t.Errorf("%s: outcome %q, want %q", tt.name, got, tt.want)
		}
		for i, err := range res.Refused {
			if err != nil && !strings.Contains(err.Error(), tt.objs[i].ID) {
				t.Errorf("%s: refusal %q does not name %s", tt.name, err, tt.objs[i].ID)
			}
		}
		if got, _ := versionsOf(t, s, a.ID); got != tt.versions {
			t.Errorf("%s: versions of the object %q, want %q", tt.name, got, tt.versions)
		}
	}
	if got, _ := versionsOf(t, s, own.ID); got != "@0 " {
		t.Errorf("Healthgate's object: versions %q", got)
	}
	if got, _ := versionsOf(t, s, taxiiObject(3, v1).ID); got != "B@0 " {
		t.Errorf("B's own new object: versions %q", got)
	}
}

// testTAXIIVersionContent: an (id, version) already stored keeps its
// content: the same content again (even with keys in another order) is
// fine, other content is refused, in one call as across calls; and the
// status stored with the call tells it.
func testTAXIIVersionContent(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := withBody(taxiiObject(1, t0), `{"a":1,"b":"x"}`)
	if _, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{posted(o, "A")}, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	other := withBody(taxiiObject(2, t0), `{"n":1}`)
	tests := []struct {
		name string
		objs []store.TAXIIObject
		want string
	}{
		{"same again", []store.TAXIIObject{o}, "- "},
		{"same, keys reordered", []store.TAXIIObject{withBody(o, `{ "b": "x", "a": 1 }`)}, "- "},
		{"other content", []store.TAXIIObject{withBody(o, `{"a":1,"b":"y","revoked":true}`)}, "content "},
		{"twice in one call, then other", []store.TAXIIObject{other, other, withBody(other, `{"n":2}`)}, "- - content "},
	}
	for _, tt := range tests {
		for i := range tt.objs {
			tt.objs[i].PostedBy = "A"
		}
		var rendered store.TAXIIAdded
		st := store.TAXIIStatus{ID: "st-" + tt.name, PartnerID: "A", Requested: t0.Add(time.Minute),
			Render: func(res store.TAXIIAdded) ([]byte, error) {
				rendered = res
				return []byte(fmt.Sprintf(`{"failures":%d}`, len(slices.DeleteFunc(slices.Clone(res.Refused), func(e error) bool { return e == nil })))), nil
			}}
		res, err := s.AddTAXIIObjects(ctx, "indicators", tt.objs, st)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := refusals(t, res, len(tt.objs))
		if got != tt.want {
			t.Errorf("%s: outcome %q, want %q", tt.name, got, tt.want)
		}
		if r := refusals(t, rendered, len(tt.objs)); r != got || !rendered.DateAdded.Equal(res.DateAdded) {
			t.Errorf("%s: Render saw %q at %v, the call returned %q at %v", tt.name, r, rendered.DateAdded, got, res.DateAdded)
		}
		stored, err := s.TAXIIStatus(ctx, st.ID)
		if want := fmt.Sprintf(`{"failures":%d}`, strings.Count(tt.want, "content")); err != nil || string(stored.Body) != want {
			t.Errorf("%s: stored status %q, %v; want %s", tt.name, stored.Body, err, want)
		}
		for i, err := range res.Refused {
			if err != nil && (!strings.Contains(err.Error(), tt.objs[i].ID) || !strings.Contains(err.Error(), "already exists with other content")) {
				t.Errorf("%s: refusal %q", tt.name, err)
			}
		}
	}
	if vs, last := versionsOf(t, s, o.ID); vs != "A@0 " || last != string(o.Body) {
		t.Errorf("object 1: versions %q, body %s; want A@0, %s", vs, last, o.Body)
	}
	if vs, last := versionsOf(t, s, other.ID); vs != "A@0 " || last != string(other.Body) {
		t.Errorf("object 2: versions %q, body %s; want A@0, %s", vs, last, other.Body)
	}
}

// testTAXIICreatorRace: two partners post versions of the same new ids at
// once; for each id exactly one of them becomes its creator, and the
// other's version is refused.
func testTAXIICreatorRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 20
	results := make([][]store.TAXIIAdded, 2)
	results[0], results[1] = make([]store.TAXIIAdded, n), make([]store.TAXIIAdded, n)
	for i := range n {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for p, name := range []string{"A", "B"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := posted(withBody(taxiiObject(100+i, t0.Add(time.Duration(p)*time.Hour)), `{"by":"`+name+`"}`), name)
				<-start
				res, err := s.AddTAXIIObjects(ctx, "indicators", []store.TAXIIObject{o}, store.TAXIIStatus{Requested: t0})
				if err != nil {
					t.Error(err)
					return
				}
				results[p][i] = res
			}()
		}
		close(start)
		wg.Wait()
	}
	if t.Failed() {
		return
	}
	for i := range n {
		id := taxiiObject(100+i, t0).ID
		a, b := refusals(t, results[0][i], 1), refusals(t, results[1][i], 1)
		vs, _ := versionsOf(t, s, id)
		switch {
		case a == "- " && b == "creator " && vs == "A@0 ":
		case b == "- " && a == "creator " && vs == "B@1 ":
		default:
			t.Errorf("%s: A %q, B %q, stored %q", id, a, b, vs)
		}
	}
}

func testPullState(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.PullState(ctx, "org-a", "indicators"); err != nil || !got.IsZero() {
		t.Fatalf("PullState before any pull = %v, %v", got, err)
	}
	at := t0.Add(123456 * time.Microsecond)
	for _, v := range []time.Time{t0, at} {
		if err := s.SetPullState(ctx, "org-a", "indicators", v); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.PullState(ctx, "org-a", "indicators"); err != nil || !got.Equal(at) {
		t.Errorf("PullState = %v, %v; want %v", got, err, at)
	}
	if got, _ := s.PullState(ctx, "org-b", "indicators"); !got.IsZero() {
		t.Errorf("another partner's state = %v", got)
	}
}
