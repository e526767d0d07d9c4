package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/taxii"
)

// TestSightingsCrossOnlyAboveK: twelve of organisation A's devices see the
// same malware. When the day closes, A shares aggregate sightings with its
// partners over TAXII — but only counts with at least k distinct devices
// behind them. Organisation B pulls A's sightings collection: with the
// default k (50) nothing crosses; with k = 11 one sighting of 12 does.
func TestSightingsCrossOnlyAboveK(t *testing.T) {
	const hash = "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	for _, tt := range []struct {
		name      string
		k         int
		wantCount int // 0: nothing shared
	}{
		{"default k=50: twelve devices stay inside", 0, 0},
		{"k=11: twelve devices are shared", 11, 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newEnvWith(t, func(o *server.Options) { o.SightingK = tt.k })
			ctx := context.Background()
			for range 12 {
				d := a.enroll()
				c := d.claims(d.nonce())
				c.Findings = []evidence.Finding{{Code: "malware", Subject: hash}}
				if status, m := a.post("/v1/reports", evidence.MediaType, d.sign(c, d.key)); status != http.StatusOK {
					t.Fatalf("report: %d %v", status, m)
				}
			}
			// The day closes (after its grace period) in the maintenance pass.
			a.clock.Add(24*time.Hour + 15*time.Minute)
			a.srv.Maintain(ctx)

			// Organisation B, a partner of A allowed to read sightings.
			tok, rec, err := taxii.NewToken("org-b", 0, a.clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.store().CreatePartner(ctx, store.Partner{ID: "org-b", Name: "org-b", Read: []string{"sightings"}, Created: a.clock.Now()}, rec); err != nil {
				t.Fatal(err)
			}
			b := &taxii.Client{HTTP: a.http.Client(), Token: tok}
			coll, _, err := b.FindCollection(ctx, a.http.URL+"/taxii2/", "sightings")
			if err != nil {
				t.Fatal(err)
			}
			page, err := b.Objects(ctx, coll, taxii.ObjectsQuery{})
			if err != nil {
				t.Fatal(err)
			}
			var counts []int
			for _, raw := range page.Objects {
				var s struct {
					Type  string `json:"type"`
					Count int    `json:"count"`
				}
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				if s.Type == "sighting" {
					counts = append(counts, s.Count)
				}
			}
			switch {
			case tt.wantCount == 0 && len(counts) != 0:
				t.Errorf("sightings crossed below k: %v", counts)
			case tt.wantCount != 0 && (len(counts) != 1 || counts[0] != tt.wantCount):
				t.Errorf("sightings = %v, want one of %d", counts, tt.wantCount)
			}
		})
	}
}

// TestIncidence: devices whose agent says a match is new to them are
// counted as new cases; the service learns how many, not which.
func TestIncidence(t *testing.T) {
	const hash = "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	e := newEnv(t)
	admin, _ := e.rp("ops", store.ScopeAdmin)
	for i := range 3 {
		d := e.enroll()
		c := d.claims(d.nonce())
		c.Findings = []evidence.Finding{{Code: "malware", Subject: hash, New: i < 2}}
		if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c, d.key)); status != http.StatusOK {
			t.Fatalf("report: %d %v", status, m)
		}
	}
	e.clock.Add(24*time.Hour + 15*time.Minute)
	e.srv.Maintain(context.Background())
	status, m := e.call("GET", "/v1/surveillance/prevalence?key=sha256:"+hash+"&days=3", admin, nil)
	if status != http.StatusOK {
		t.Fatalf("prevalence: %d %v", status, m)
	}
	var found bool
	for _, d := range m["days"].([]any) {
		day := d.(map[string]any)
		if day["devices"] == float64(3) {
			found = true
			if got, want := day["new"], float64(2); got != want {
				t.Errorf("new = %v, want %v (%v)", got, want, day)
			}
		}
	}
	if !found {
		t.Errorf("no day with the 3 devices: %v", m)
	}
}

// TestCCM: per thousand reporting devices, how many ran known malware, for
// devices with and without working antivirus.
func TestCCM(t *testing.T) {
	const eicar = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f" // on the default policy's list
	e := newEnv(t)
	admin, _ := e.rp("ops", store.ScopeAdmin)
	report := func(av, malware bool) {
		d := e.enroll()
		c := d.claims(d.nonce())
		if !av {
			c.Facts.Antivirus = &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{}}
		}
		if malware {
			c.Facts.Processes.Running = append(c.Facts.Processes.Running, evidence.Process{Name: "svch0st", SHA256: eicar})
		}
		if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c, d.key)); status != http.StatusOK {
			t.Fatalf("report: %d %v", status, m)
		}
	}
	for _, r := range []struct{ av, malware bool }{{true, true}, {true, false}, {true, false}, {true, false}, {false, true}, {false, false}} {
		report(r.av, r.malware)
	}
	e.clock.Add(24*time.Hour + 15*time.Minute)
	e.srv.Maintain(context.Background())
	status, m := e.call("GET", "/v1/surveillance/ccm?days=3", admin, nil)
	if status != http.StatusOK {
		t.Fatalf("ccm: %d %v", status, m)
	}
	days := m["days"].([]any)
	if len(days) != 1 {
		t.Fatalf("days = %v, want one", days)
	}
	day := days[0].(map[string]any)
	prot, unprot := day["protected"].(map[string]any), day["unprotected"].(map[string]any)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"protected reporting", prot["reporting"], float64(4)},
		{"protected malware", prot["malware"], float64(1)},
		{"protected per mille", prot["per_mille"], float64(250)},
		{"unprotected per mille", unprot["per_mille"], float64(500)},
		{"relative risk", day["relative_risk"], float64(2)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v (%v)", c.name, c.got, c.want, day)
		}
	}
	if status, _ := e.call("GET", "/v1/surveillance/ccm?days=0", admin, nil); status != http.StatusBadRequest {
		t.Errorf("days=0: %d, want 400", status)
	}
}

// TestScheduledPartnerPull: organisation B's server is configured to pull
// organisation A's indicators collection; a pull turn merges what A shared
// into B's feed, attributed to A at B's trust in it.
func TestScheduledPartnerPull(t *testing.T) {
	ctx := context.Background()
	a := newEnvWith(t, nil)
	tok, rec, err := taxii.NewToken("org-b", 0, a.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store().CreatePartner(ctx, store.Partner{ID: "org-b", Name: "org-b", Created: a.clock.Now()}, rec); err != nil {
		t.Fatal(err)
	}
	admin, _ := a.rp("soc", store.ScopeAdmin)
	const hash = "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	if status, m := a.call("POST", "/v1/admin/indicators", admin, jsonBody(map[string]any{"indicators": []map[string]any{
		{"type": "sha256", "value": hash, "reason": "banking trojan"}}})); status != http.StatusCreated {
		t.Fatalf("add at A: %d %v", status, m)
	}
	b := newEnvWith(t, func(o *server.Options) {
		o.PartnerPulls = []server.PartnerPull{{Partner: "org-a", URL: a.http.URL + "/taxii2/", Token: tok, Trust: 60,
			Every: time.Hour, Client: a.http.Client()}}
	})
	feedHas := func() bool {
		_, m := b.call("GET", "/v1/feed", "", nil)
		return strings.Contains(string(jsonBody(m)), hash)
	}
	if feedHas() {
		t.Fatal("B's feed has the hash before any pull")
	}
	if err := b.srv.PullPartners(ctx); err != nil {
		t.Fatal(err)
	}
	if !feedHas() {
		t.Error("after the scheduled pull B's feed lacks A's indicator")
	}
	bAdmin, _ := b.rp("soc", store.ScopeAdmin)
	_, m := b.call("GET", "/v1/admin/indicators?type=sha256", bAdmin, nil)
	// Confidence is B's trust in A (60) capped by A's own confidence (50).
	if s := string(jsonBody(m)); !strings.Contains(s, `"source":"partner:org-a"`) || !strings.Contains(s, `"confidence":50`) {
		t.Errorf("B's indicator: %s", s)
	}
	// A pull configuration is checked: every problem at once.
	err = (server.PartnerPull{Trust: 101, Every: time.Second}).Validate()
	for _, want := range []string{"partner name", "URL", "token", "trust", "interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %s", err, want)
		}
	}
}

// TestPartnerTLPNotReshared: organisation A posts indicators marked GREEN,
// AMBER and RED into the shared collection of Healthgate's server.
// Partner B, paging one object at a time, gets only the GREEN one; A gets
// all three back.
func TestPartnerTLPNotReshared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	client := func(id string, write []string) *taxii.Client {
		tok, rec, err := taxii.NewToken(id, 0, e.clock.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store().CreatePartner(ctx, store.Partner{ID: id, Name: id, Write: write, Created: e.clock.Now()}, rec); err != nil {
			t.Fatal(err)
		}
		return &taxii.Client{HTTP: e.http.Client(), Token: tok}
	}
	a, b := client("org-a", []string{"indicators"}), client("org-b", nil)
	coll, _, err := a.FindCollection(ctx, e.http.URL+"/taxii2/", "indicators")
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var objs []any
	for i, marking := range []string{stix.TLP2Amber, stix.TLP2Green, stix.TLPRed.ID} {
		objs = append(objs, map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i+1),
			"created": now, "modified": now, "valid_from": now, "pattern_type": "stix",
			"pattern":             fmt.Sprintf("[domain-name:value = 'pay%d.example.com']", i),
			"object_marking_refs": []string{marking},
		})
	}
	if st, err := a.AddObjects(ctx, coll, objs); err != nil || st.SuccessCount != 3 {
		t.Fatalf("A posts: %+v, %v", st, err)
	}
	for _, tt := range []struct {
		name string
		c    *taxii.Client
		want []string
	}{
		{"B: only GREEN", b, []string{"indicator--00000002-0000-4000-8000-000000000000"}},
		{"A: all of its own", a, []string{"indicator--00000001-0000-4000-8000-000000000000",
			"indicator--00000002-0000-4000-8000-000000000000", "indicator--00000003-0000-4000-8000-000000000000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			q := taxii.ObjectsQuery{Limit: 1}
			for range 10 {
				page, err := tt.c.Objects(ctx, coll, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, raw := range page.Objects {
					var o struct{ ID string }
					json.Unmarshal(raw, &o)
					got = append(got, o.ID)
				}
				if !page.More {
					break
				}
				q.Next = page.Next
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("objects = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTAXIIStatusPurged: a partner's POST leaves a status resource that the
// maintenance pass forgets after TAXIIStatusRetention, not before.
func TestTAXIIStatusPurged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, rec, err := taxii.NewToken("org-b", 0, e.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store().CreatePartner(ctx, store.Partner{ID: "org-b", Name: "org-b", Read: []string{"indicators"},
		Write: []string{"indicators"}, Created: e.clock.Now()}, rec); err != nil {
		t.Fatal(err)
	}
	b := &taxii.Client{HTTP: e.http.Client(), Token: tok}
	coll, _, err := b.FindCollection(ctx, e.http.URL+"/taxii2/", "indicators")
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.AddObjects(ctx, coll, []any{json.RawMessage(`{"type":"indicator","spec_version":"2.1",` +
		`"id":"indicator--11111111-2222-4333-8444-555555555555","created":"2026-11-29T08:00:00.000Z",` +
		`"modified":"2026-11-29T08:00:00.000Z","pattern":"[file:hashes.'SHA-256' = '17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412']",` +
		`"pattern_type":"stix","valid_from":"2026-11-29T08:00:00Z","indicator_types":["malicious-activity"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(server.TAXIIStatusRetention - time.Minute)
	e.srv.Maintain(ctx)
	if _, err := e.store().TAXIIStatus(ctx, st.ID); err != nil {
		t.Fatalf("status purged before its time: %v", err)
	}
	e.clock.Add(2 * time.Minute)
	e.srv.Maintain(ctx)
	if _, err := e.store().TAXIIStatus(ctx, st.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status kept past TAXIIStatusRetention: %v", err)
	}
}

// TestSharedIDsLinkedAndUnpredictable: the aggregate sighting of a hash
// points at the indicator Healthgate shares for it, and another deployment
// gives the same indicator another id: ids are derived in a namespace of
// each deployment's own, so no partner can compute one and post it first.
func TestSharedIDsLinkedAndUnpredictable(t *testing.T) {
	const hash = "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	ctx := context.Background()
	objectsOf := func(e *env, alias, typ string) []map[string]any {
		coll, _ := taxii.CollectionByAlias(alias)
		objs, _, err := e.store().TAXIIObjects(ctx, store.TAXIIQuery{Collection: coll.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, o := range objs {
			var m map[string]any
			if err := json.Unmarshal(o.Body, &m); err != nil {
				t.Fatal(err)
			}
			if m["type"] == typ {
				out = append(out, m)
			}
		}
		return out
	}
	share := func(e *env) string {
		admin, _ := e.rp("soc", store.ScopeAdmin)
		if status, m := e.call("POST", "/v1/admin/indicators", admin, jsonBody(map[string]any{"indicators": []map[string]any{
			{"type": "sha256", "value": hash, "reason": "banking trojan"}}})); status != http.StatusCreated {
			t.Fatalf("add indicator: %d %v", status, m)
		}
		inds := objectsOf(e, "indicators", "indicator")
		if len(inds) != 1 {
			t.Fatalf("%d indicators shared, want 1", len(inds))
		}
		return inds[0]["id"].(string)
	}

	a := newEnvWith(t, func(o *server.Options) { o.SightingK = 11 })
	id := share(a)
	for range 12 {
		a.enroll().reportFindings(malware(hash))
	}
	a.clock.Add(24*time.Hour + 15*time.Minute)
	a.srv.Maintain(ctx)
	sgs := objectsOf(a, "sightings", "sighting")
	if len(sgs) != 1 || sgs[0]["sighting_of_ref"] != id {
		t.Errorf("sightings %v, want one of indicator %s", sgs, id)
	}

	if other := share(newEnvWith(t, nil)); other == id {
		t.Errorf("two deployments gave the indicator the same id %s", id)
	}
}
