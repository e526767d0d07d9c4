package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/stix"
)

// A statement marking: not TLP, so it does not restrict sharing.
const statementMarking = "marking-definition--2b6c4bd7-5f3a-4c8e-9d1e-7a6b5c4d3e2f"

// tlpCases are the markings a partner may put on an object and whether
// another partner may then read the object.
var tlpCases = []struct {
	name     string
	refs     []string // object_marking_refs
	granular string   // a granular marking on description
	shared   bool
}{
	{name: "unmarked", shared: true},
	{name: "TLP 1.0 WHITE", refs: []string{stix.TLPWhite.ID}, shared: true},
	{name: "TLP 2.0 CLEAR", refs: []string{stix.TLP2Clear}, shared: true},
	{name: "TLP 1.0 AMBER", refs: []string{stix.TLPAmber.ID}},
	{name: "TLP 1.0 GREEN", refs: []string{stix.TLPGreen.ID}, shared: true},
	{name: "TLP 2.0 AMBER", refs: []string{stix.TLP2Amber}},
	{name: "TLP 2.0 AMBER+STRICT", refs: []string{stix.TLP2AmberStrict}},
	{name: "TLP 1.0 RED", refs: []string{stix.TLPRed.ID}},
	{name: "TLP 2.0 RED", refs: []string{stix.TLP2Red}},
	{name: "TLP 2.0 GREEN", refs: []string{stix.TLP2Green}, shared: true},
	{name: "GREEN and RED: the stricter wins", refs: []string{stix.TLP2Green, stix.TLP2Red}},
	{name: "statement marking only", refs: []string{statementMarking}, shared: true},
	{name: "granular RED on the description", refs: []string{stix.TLP2Green}, granular: stix.TLP2Red},
	{name: "granular GREEN on the description", granular: stix.TLP2Green, shared: true},
}

func markedIndicator(i int, modified time.Time, refs []string, granular string) map[string]any {
	o := indicator(i, modified)
	if len(refs) > 0 {
		o["object_marking_refs"] = refs
	}
	if granular != "" {
		o["description"] = "seen in a phishing campaign against our customers"
		o["granular_markings"] = []map[string]any{{"marking_ref": granular, "selectors": []string{"description"}}}
	}
	return o
}

// listIDs reads the ids of an envelope or a manifest answer.
func listIDs(t *testing.T, a answer) (ids []string, more bool, next string) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var page struct {
		More    bool              `json:"more"`
		Next    string            `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		t.Fatal(err)
	}
	for _, raw := range page.Objects {
		var m struct{ ID string }
		json.Unmarshal(raw, &m)
		ids = append(ids, m.ID)
	}
	return ids, page.More, page.Next
}

// pageAll pages through path with limit and returns every id in order. It
// fails on a short page that is not the last.
func pageAll(t *testing.T, o *org, tok, path string, limit int) []string {
	t.Helper()
	var all []string
	next := ""
	for pages := 0; ; pages++ {
		p := fmt.Sprintf("%s?limit=%d", path, limit)
		if next != "" {
			p += "&next=" + url.QueryEscape(next)
		}
		ids, more, n := listIDs(t, o.do("GET", p, tok, nil))
		all = append(all, ids...)
		if !more {
			return all
		}
		if len(ids) != limit || n == "" {
			t.Fatalf("%s page %d: %d objects (limit %d), next %q, more true", path, pages, len(ids), limit, n)
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		next = n
	}
}

// TestTLPPartnerObjects: partner A posts objects at every TLP level, mixed
// in one collection with Healthgate's own and another partner's. Partner B
// reads objects, manifest, objects by id and versions and sees only what
// is CLEAR, GREEN or unmarked; A sees all of its own; paging with any
// limit returns every visible object exactly once.
func TestTLPPartnerObjects(t *testing.T) {
	o := newOrg(t)
	tokA := o.partner("org-a", nil, []string{"indicators"})
	tokB := o.partner("org-b", nil, []string{"indicators"})
	tokC := o.partner("org-c", nil, nil) // reads only

	// Healthgate's own indicator, TLP:GREEN.
	own := markedIndicator(900, t0, []string{stix.TLPGreen.ID}, "")
	if err := Publish(context.Background(), o.store, "indicators", []any{own}, t0); err != nil {
		t.Fatal(err)
	}
	// A posts every case three times over (three requests, so restricted
	// and shared objects alternate in runs across date_added values).
	wantA, wantB := []string{own["id"].(string)}, []string{own["id"].(string)}
	hidden := map[string]string{} // id → case
	for round := range 3 {
		o.advance(time.Second)
		var objs []any
		for i, tc := range tlpCases {
			obj := markedIndicator(round*100+i, t0, tc.refs, tc.granular)
			objs = append(objs, obj)
			id := obj["id"].(string)
			wantA = append(wantA, id)
			if tc.shared {
				wantB = append(wantB, id)
			} else {
				hidden[id] = tc.name
			}
		}
		a := o.do("POST", indicatorsPath+"objects/", tokA, envelopeOf(objs...))
		if a.status != http.StatusAccepted || a.json(t)["failure_count"] != 0.0 {
			t.Fatalf("A posts round %d: %d %s", round, a.status, a.body)
		}
	}
	// B posts a RED object of its own: A must not see it, B must.
	o.advance(time.Second)
	bRed := markedIndicator(800, t0, []string{stix.TLP2Red}, "")
	if a := o.do("POST", indicatorsPath+"objects/", tokB, envelopeOf(bRed)); a.status != http.StatusAccepted || a.json(t)["failure_count"] != 0.0 {
		t.Fatalf("B posts: %d %s", a.status, a.body)
	}
	wantB = append(wantB, bRed["id"].(string))
	wantC := slices.Clone(wantB[:len(wantB)-1])

	for _, reader := range []struct {
		name, tok string
		want      []string
	}{
		{"A sees all of its own", tokA, wantA},
		{"B sees only what A shared", tokB, wantB},
		{"C (read only) sees only what was shared", tokC, wantC},
	} {
		t.Run(reader.name, func(t *testing.T) {
			for _, path := range []string{indicatorsPath + "objects/", indicatorsPath + "manifest/"} {
				for _, limit := range []int{1, 2, 3, 7, 1000} {
					if got := pageAll(t, o, reader.tok, path, limit); !slices.Equal(got, reader.want) {
						t.Errorf("%s limit %d:\n got %v\nwant %v", path, limit, got, reader.want)
					}
				}
			}
			// The date_added headers are those of the visible objects.
			a := o.do("GET", indicatorsPath+"manifest/", reader.tok, nil)
			var m struct {
				Objects []ManifestRecord `json:"objects"`
			}
			json.Unmarshal(a.body, &m)
			if got, want := a.header.Get("X-TAXII-Date-Added-Last"), m.Objects[len(m.Objects)-1].DateAdded; got != want {
				t.Errorf("X-TAXII-Date-Added-Last = %s, want %s (the last visible object)", got, want)
			}
		})
	}

	// By id, versions, and filters: a hidden object answers exactly as an
	// absent one.
	absent := "indicator--00000000-0000-4000-8000-00000000dead"
	absentObj := o.do("GET", indicatorsPath+"objects/"+absent+"/", tokB, nil)
	absentVers := o.do("GET", indicatorsPath+"objects/"+absent+"/versions/", tokB, nil)
	if absentObj.status != http.StatusNotFound || absentVers.status != http.StatusNotFound {
		t.Fatalf("absent object: %d, versions %d", absentObj.status, absentVers.status)
	}
	for _, id := range wantA[1:] {
		name, isHidden := hidden[id]
		if !isHidden {
			name = "shared"
		}
		t.Run(name+" "+id, func(t *testing.T) {
			version := stix.FormatTimestamp(t0)
			for _, tt := range []struct {
				what, path string
				absent     answer
			}{
				{"object", indicatorsPath + "objects/" + id + "/", absentObj},
				{"object at its version", indicatorsPath + "objects/" + id + "/?match[version]=" + version, absentObj},
				{"versions", indicatorsPath + "objects/" + id + "/versions/", absentVers},
			} {
				if a := o.do("GET", tt.path, tokA, nil); a.status != http.StatusOK {
					t.Errorf("A: %s: %d %s", tt.what, a.status, a.body)
				}
				b := o.do("GET", tt.path, tokB, nil)
				switch {
				case !isHidden && b.status != http.StatusOK:
					t.Errorf("B: %s: %d %s", tt.what, b.status, b.body)
				case isHidden && (b.status != tt.absent.status || b.json(t)["title"] != tt.absent.json(t)["title"]):
					t.Errorf("B: %s of a hidden object: %d %s, want as absent: %d %s", tt.what, b.status, b.body, tt.absent.status, tt.absent.body)
				}
			}
			for _, path := range []string{indicatorsPath + "objects/?match[id]=" + id, indicatorsPath + "manifest/?match[id]=" + id} {
				ids, more, next := listIDs(t, o.do("GET", path, tokB, nil))
				if want := !isHidden; (len(ids) == 1) != want || more || next != "" {
					t.Errorf("B: %s: ids %v more %v next %q, want visible %v", path, ids, more, next, want)
				}
			}
		})
	}
	if a := o.do("GET", indicatorsPath+"objects/"+bRed["id"].(string)+"/", tokA, nil); a.status != http.StatusNotFound {
		t.Errorf("A reads B's RED object: %d %s", a.status, a.body)
	}
}

// TestTLPVersions: A's object is GREEN, then a later version is RED. B
// sees the GREEN version as the last and only one; A sees both.
func TestTLPVersions(t *testing.T) {
	o := newOrg(t)
	tokA := o.partner("org-a", nil, []string{"indicators"})
	tokB := o.partner("org-b", nil, nil)
	v1, v2 := t0.Add(-time.Hour), t0
	green, red := markedIndicator(1, v1, []string{stix.TLP2Green}, ""), markedIndicator(1, v2, []string{stix.TLP2Red}, "")
	id := green["id"].(string)
	if a := o.do("POST", indicatorsPath+"objects/", tokA, envelopeOf(green, red)); a.status != http.StatusAccepted || a.json(t)["success_count"] != 2.0 {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	modifiedOf := func(a answer) []string {
		t.Helper()
		if a.status != http.StatusOK {
			return []string{fmt.Sprint(a.status)}
		}
		var env stix.Envelope
		json.Unmarshal(a.body, &env)
		var out []string
		for _, raw := range env.Objects {
			var m struct{ Modified string }
			json.Unmarshal(raw, &m)
			out = append(out, m.Modified)
		}
		return out
	}
	versionsOf := func(a answer) []string {
		t.Helper()
		var v struct{ Versions []string }
		json.Unmarshal(a.body, &v)
		return v.Versions
	}
	f1, f2 := stix.FormatTimestamp(v1), stix.FormatTimestamp(v2)
	for _, tt := range []struct {
		name, tok string
		want      []string
	}{
		{"A: object is the RED version", tokA, []string{f2}},
		{"B: object is the GREEN version", tokB, []string{f1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := modifiedOf(o.do("GET", indicatorsPath+"objects/"+id+"/", tt.tok, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("object = %v, want %v", got, tt.want)
			}
			if got := modifiedOf(o.do("GET", indicatorsPath+"objects/", tt.tok, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("objects = %v, want %v", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, tok, path string
		want            []string
	}{
		{"A: all versions", tokA, "objects/" + id + "/versions/", []string{f1, f2}},
		{"B: only the GREEN version", tokB, "objects/" + id + "/versions/", []string{f1}},
		{"B: match[version]=all", tokB, "objects/?match[version]=all", []string{f1}},
		{"B: match[version]=first,last", tokB, "objects/?match[version]=first,last", []string{f1}},
		{"B: the RED version by its timestamp", tokB, "objects/" + id + "/?match[version]=" + f2, []string{"404"}},
		{"A: the RED version by its timestamp", tokA, "objects/" + id + "/?match[version]=" + f2, []string{f2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := o.do("GET", indicatorsPath+tt.path, tt.tok, nil)
			got := versionsOf(a)
			if got == nil {
				got = modifiedOf(a)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s = %v, want %v (%s)", tt.path, got, tt.want, a.body)
			}
		})
	}
}
