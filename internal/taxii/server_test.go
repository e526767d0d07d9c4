package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

// org is one organisation's Healthgate: a store and a TAXII server.
type org struct {
	t     *testing.T
	store *sqlite.DB
	srv   *httptest.Server
	now   time.Time
	mu    sync.Mutex
}

func newOrg(t *testing.T) *org {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := &org{t: t, store: db, now: t0}
	h, err := NewHandler(Options{Store: db, Now: o.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *org) clock() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.now
}

func (o *org) advance(d time.Duration) {
	o.mu.Lock()
	o.now = o.now.Add(d)
	o.mu.Unlock()
}

// partner registers a partner and returns its token.
func (o *org) partner(name string, read, write []string) string {
	o.t.Helper()
	tok, rec, err := NewToken("id-"+name, 0, t0, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	if err := o.store.CreatePartner(context.Background(), store.Partner{ID: "id-" + name, Name: name, Read: read, Write: write, Created: t0}, rec); err != nil {
		o.t.Fatal(err)
	}
	return tok
}

func (o *org) url(path string) string { return o.srv.URL + path }

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.status, err, a.body)
	}
	return m
}

func (o *org) do(method, path, token string, body []byte, hdr ...string) answer {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, o.url(path), rd)
	req.Header.Set("Accept", MediaType)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := o.srv.Client().Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

var indicatorsPath = APIRoot + "collections/" + Collections[0].ID + "/"

func indicator(i int, modified time.Time) map[string]any {
	return map[string]any{
		"type": "indicator", "spec_version": "2.1",
		"id":      fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i),
		"created": "2026-01-01T00:00:00.000Z", "modified": stix.FormatTimestamp(modified),
		"pattern":      fmt.Sprintf("[domain-name:value = 'evil%d.example.com']", i),
		"pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
	}
}

func envelopeOf(objs ...any) []byte {
	b, _ := json.Marshal(map[string]any{"objects": objs})
	return b
}

// sameShape checks that every property of got exists in the spec's example
// with the same JSON type, recursively.
func sameShape(t *testing.T, where string, spec, got any) {
	t.Helper()
	switch g := got.(type) {
	case map[string]any:
		s, ok := spec.(map[string]any)
		if !ok {
			t.Errorf("%s: an object where the spec has %T", where, spec)
			return
		}
		for k, v := range g {
			sv, ok := s[k]
			if !ok {
				t.Errorf("%s: property %q is not in the spec's example", where, k)
				continue
			}
			sameShape(t, where+"."+k, sv, v)
		}
	case []any:
		s, ok := spec.([]any)
		if !ok || len(s) == 0 {
			t.Errorf("%s: a list where the spec has %T", where, spec)
			return
		}
		for i, v := range g {
			sameShape(t, fmt.Sprintf("%s[%d]", where, i), s[0], v)
		}
	default:
		if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", spec) {
			t.Errorf("%s: %T where the spec has %T", where, got, spec)
		}
	}
}

func specExample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSpecShapes(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("org-b", nil, []string{"indicators"})
	env, _ := os.ReadFile("testdata/envelope.json")
	post := o.do("POST", indicatorsPath+"objects/", tok, env)
	if post.status != http.StatusAccepted {
		t.Fatalf("POST the spec's envelope: %d %s", post.status, post.body)
	}
	st := post.json(t)
	if st["success_count"] != 1.0 || st["failure_count"] != 0.0 || st["status"] != "complete" {
		t.Errorf("status = %s", post.body)
	}
	modified := indicator(7, t0)
	o.do("POST", indicatorsPath+"objects/", tok, envelopeOf(indicator(7, t0.Add(-time.Hour)), modified, indicator(8, t0)))
	statusID := st["id"].(string)
	specID := "indicator--cd981c25-8042-4166-8945-51178443bdac"
	tests := []struct {
		example, path string
		required      []string
	}{
		{"discovery.json", Prefix, []string{"title", "api_roots", "default"}},
		{"api_root.json", APIRoot, []string{"title", "versions", "max_content_length"}},
		{"collections.json", APIRoot + "collections/", []string{"collections"}},
		{"collection.json", indicatorsPath, []string{"id", "title", "can_read", "can_write", "media_types"}},
		{"manifest.json", indicatorsPath + "manifest/?limit=2", []string{"more", "objects"}},
		{"envelope.json", indicatorsPath + "objects/?match[id]=" + specID, []string{"more", "objects"}},
		{"envelope.json", indicatorsPath + "objects/" + specID + "/", []string{"objects"}},
		{"versions.json", indicatorsPath + "objects/" + modified["id"].(string) + "/versions/", []string{"more", "versions"}},
		{"status.json", APIRoot + "status/" + statusID + "/", []string{"id", "status", "total_count", "success_count", "failure_count", "pending_count"}},
		{"error.json", indicatorsPath + "objects/indicator--00000000-0000-4000-8000-00000000dead/", []string{"title", "http_status"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a := o.do("GET", tt.path, tok, nil)
			if tt.example != "error.json" && a.status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tt.path, a.status, a.body)
			}
			if got := a.header.Get("Content-Type"); got != MediaType {
				t.Errorf("Content-Type = %q", got)
			}
			got := a.json(t)
			spec := specExample(t, tt.example)
			if tt.example == "manifest.json" || tt.example == "versions.json" {
				spec["next"] = "opaque" // TAXII 2.1 pages these with next too
			}
			if tt.example == "collections.json" {
				// alias is a collection property (5.2.1); the list example
				// just does not use it.
				spec["collections"].([]any)[0].(map[string]any)["alias"] = "x"
			}
			sameShape(t, tt.example, spec, got)
			for _, k := range tt.required {
				if _, ok := got[k]; !ok {
					t.Errorf("%s: required property %q missing: %s", tt.path, k, a.body)
				}
			}
		})
	}
	// The object by id is exactly what was posted (compacted).
	a := o.do("GET", indicatorsPath+"objects/"+specID+"/", tok, nil)
	var env1 stix.Envelope
	json.Unmarshal(a.body, &env1)
	var want map[string]any
	json.Unmarshal(env, &want)
	wantObj, _ := json.Marshal(want["objects"].([]any)[0])
	var gotObj any
	json.Unmarshal(env1.Objects[0], &gotObj)
	gotB, _ := json.Marshal(gotObj)
	if !bytes.Equal(gotB, wantObj) {
		t.Errorf("object by id = %s, want %s", gotB, wantObj)
	}
	// Versions: both versions of indicator 7, oldest first; the object
	// endpoint gives the last by default.
	a = o.do("GET", indicatorsPath+"objects/"+modified["id"].(string)+"/versions/", tok, nil)
	if v := a.json(t)["versions"].([]any); len(v) != 2 || v[1] != stix.FormatTimestamp(t0) {
		t.Errorf("versions = %s", a.body)
	}
	a = o.do("GET", indicatorsPath+"objects/"+modified["id"].(string)+"/", tok, nil)
	if objs := a.json(t)["objects"].([]any); len(objs) != 1 || objs[0].(map[string]any)["modified"] != stix.FormatTimestamp(t0) {
		t.Errorf("object = %s", a.body)
	}
	if a.header.Get("X-TAXII-Date-Added-First") == "" || a.header.Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("no X-TAXII-Date-Added headers: %v", a.header)
	}
}

// TestPagingSharedTimestamp: 1,000 objects added in one request share one
// date_added; limit 7 pages through all of them once, in order.
func TestPagingSharedTimestamp(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("org-b", nil, []string{"indicators"})
	var objs []any
	for i := range 1000 {
		objs = append(objs, indicator(i, t0))
	}
	if a := o.do("POST", indicatorsPath+"objects/", tok, envelopeOf(objs...)); a.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", a.status, a.body[:min(len(a.body), 300)])
	}
	seen := map[string]bool{}
	var order []string
	next, pages := "", 0
	for {
		path := indicatorsPath + "objects/?limit=7"
		if next != "" {
			path += "&next=" + url.QueryEscape(next)
		}
		a := o.do("GET", path, tok, nil)
		if a.status != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, a.status, a.body)
		}
		pages++
		var env stix.Envelope
		if err := json.Unmarshal(a.body, &env); err != nil {
			t.Fatal(err)
		}
		if first, last := a.header.Get("X-TAXII-Date-Added-First"), a.header.Get("X-TAXII-Date-Added-Last"); first != last || first == "" {
			t.Fatalf("date_added headers %q %q: the objects share one date_added", first, last)
		}
		for _, raw := range env.Objects {
			var m struct{ ID string }
			json.Unmarshal(raw, &m)
			if seen[m.ID] {
				t.Fatalf("%s seen twice", m.ID)
			}
			seen[m.ID] = true
			order = append(order, m.ID)
		}
		if !env.More {
			break
		}
		next = env.Next
	}
	if len(seen) != 1000 || pages != 143 {
		t.Fatalf("saw %d objects in %d pages, want 1000 in 143", len(seen), pages)
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("out of order: %s after %s", order[i], order[i-1])
		}
	}
	// The client does the same.
	c := &Client{HTTP: o.srv.Client(), Token: tok}
	n := 0
	res, err := c.Pull(context.Background(), PullOptions{CollectionURL: o.url(indicatorsPath), Limit: 7,
		Page: func(_ context.Context, objs []stix.Object, _ time.Time) error { n += len(objs); return nil }})
	if err != nil || n != 1000 || res.Pages != 143 || !res.Complete || res.Rejected != 0 {
		t.Errorf("Pull = %+v, %v; %d objects", res, err, n)
	}
}

func TestAuthentication(t *testing.T) {
	o := newOrg(t)
	reader := o.partner("reader", nil, nil)
	writer := o.partner("writer", []string{"sightings"}, []string{"indicators", "sightings"})
	revoked := o.partner("revoked", nil, nil)
	if _, err := o.store.RevokePartnerTokens(context.Background(), "id-revoked", t0); err != nil {
		t.Fatal(err)
	}
	expiredTok, rec, _ := NewToken("id-reader", time.Hour, t0.Add(-2*time.Hour), nil)
	if err := o.store.AddPartnerToken(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	sightingsPath := APIRoot + "collections/" + Collections[1].ID + "/"
	tests := []struct {
		name, method, path, token string
		body                      []byte
		want                      int
	}{
		{"no token", "GET", Prefix, "", nil, 401},
		{"garbage token", "GET", Prefix, "hgp_nope", nil, 401},
		{"wrong secret", "GET", Prefix, reader[:len(reader)-4] + "0000", nil, 401},
		{"revoked", "GET", Prefix, revoked, nil, 401},
		{"expired", "GET", Prefix, expiredTok, nil, 401},
		{"reader discovers", "GET", Prefix, reader, nil, 200},
		{"reader reads indicators", "GET", indicatorsPath + "objects/", reader, nil, 200},
		{"reader cannot post", "POST", indicatorsPath + "objects/", reader, envelopeOf(indicator(1, t0)), 403},
		{"reader cannot read sightings", "GET", sightingsPath + "objects/", reader, nil, 403},
		{"writer reads sightings", "GET", sightingsPath + "objects/", writer, nil, 200},
		{"sightings are read-only", "POST", sightingsPath + "objects/", writer, envelopeOf(indicator(1, t0)), 403},
		{"unknown collection", "GET", APIRoot + "collections/nope/", reader, nil, 404},
		{"unknown path", "GET", APIRoot + "nope/", reader, nil, 404},
		{"DELETE not allowed", "DELETE", indicatorsPath + "objects/", reader, nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := o.do(tt.method, tt.path, tt.token, tt.body)
			if a.status != tt.want {
				t.Fatalf("%d, want %d: %s", a.status, tt.want, a.body)
			}
			if a.status >= 400 {
				e := a.json(t)
				if e["title"] == "" || e["http_status"] != fmt.Sprint(tt.want) {
					t.Errorf("not a TAXII error: %s", a.body)
				}
			}
			if a.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	// A partner sees only the collections it can read.
	for tok, want := range map[string]int{reader: 1, writer: 2} {
		a := o.do("GET", APIRoot+"collections/", tok, nil)
		if got := len(a.json(t)["collections"].([]any)); got != want {
			t.Errorf("%d collections listed, want %d: %s", got, want, a.body)
		}
	}
}

func TestMediaTypes(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("w", nil, []string{"indicators"})
	tests := []struct {
		name, method, path string
		hdr                []string
		want               int
	}{
		{"json only", "GET", Prefix, []string{"Accept", "application/json"}, 406},
		{"TAXII 2.0", "GET", Prefix, []string{"Accept", "application/taxii+json;version=2.0"}, 406},
		{"q=0", "GET", Prefix, []string{"Accept", "application/taxii+json;version=2.1;q=0"}, 406},
		{"no version", "GET", Prefix, []string{"Accept", "application/taxii+json"}, 200},
		{"any", "GET", Prefix, []string{"Accept", "*/*"}, 200},
		{"no Accept", "GET", Prefix, []string{"Accept", ""}, 200},
		{"one of several", "GET", Prefix, []string{"Accept", "text/html, application/taxii+json;version=2.1"}, 200},
		{"POST as JSON", "POST", indicatorsPath + "objects/", []string{"Content-Type", "application/json"}, 415},
		{"POST as STIX", "POST", indicatorsPath + "objects/", []string{"Content-Type", "application/stix+json;version=2.1"}, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.method == "POST" {
				body = envelopeOf(indicator(1, t0))
			}
			if a := o.do(tt.method, tt.path, tok, body, tt.hdr...); a.status != tt.want {
				t.Errorf("%d, want %d: %s", a.status, tt.want, a.body)
			}
		})
	}
}

func count(t *testing.T, o *org) int {
	t.Helper()
	objs, _, err := o.store.TAXIIObjects(context.Background(), store.TAXIIQuery{Collection: Collections[0].ID, Limit: 1000, Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

func TestBadInput(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("w", nil, []string{"indicators"})
	post := func(body []byte) answer { return o.do("POST", indicatorsPath+"objects/", tok, body) }

	// Per-object failures: the valid objects are stored, each refused one
	// is in the status with its reason.
	wrongVersion := indicator(1, t0)
	wrongVersion["spec_version"] = "2.0"
	badPattern := indicator(2, t0)
	badPattern["pattern"] = "[domain-name:value = 'x.example.com'"
	badHash := indicator(3, t0)
	badHash["pattern"] = "[file:hashes.'SHA-256' = 'abc']"
	sighting := map[string]any{"type": "sighting", "spec_version": "2.1", "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
		"created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z", "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
	a := post(envelopeOf(indicator(0, t0), wrongVersion, badPattern, badHash, sighting, "not an object"))
	if a.status != http.StatusAccepted {
		t.Fatalf("%d %s", a.status, a.body)
	}
	var st Status
	json.Unmarshal(a.body, &st)
	if st.TotalCount != 6 || st.SuccessCount != 1 || st.FailureCount != 5 || len(st.Failures) != 5 {
		t.Fatalf("status = %s", a.body)
	}
	for i, want := range []string{`spec_version must be "2.1"`, `expected "]"`, "64 hex digits", "does not take sighting", "not a JSON object"} {
		if !strings.Contains(st.Failures[i].Message, want) {
			t.Errorf("failure %d = %+v, want it to mention %q", i, st.Failures[i], want)
		}
	}
	if st.Failures[0].ID != wrongVersion["id"] || st.Failures[0].Version == "" {
		t.Errorf("failure does not name the object: %+v", st.Failures[0])
	}
	if got := count(t, o); got != 1 {
		t.Fatalf("%d objects stored, want 1", got)
	}
	// The status can be read back by its owner only.
	other := o.partner("other", nil, nil)
	if a := o.do("GET", APIRoot+"status/"+st.ID+"/", tok, nil); a.status != 200 || !bytes.Contains(a.body, []byte(st.ID)) {
		t.Errorf("owner reads status: %d %s", a.status, a.body)
	}
	if a := o.do("GET", APIRoot+"status/"+st.ID+"/", other, nil); a.status != 404 {
		t.Errorf("another partner reads status: %d", a.status)
	}

	// Requests refused as a whole store nothing.
	big := make([]byte, 0, MaxBodyBytes+1024)
	big = append(big, `{"objects":[`...)
	one, _ := json.Marshal(indicator(5, t0))
	for len(big) < MaxBodyBytes+1 {
		big = append(big, one...)
		big = append(big, ',')
	}
	big = append(big[:len(big)-1], "]}"...)
	many := []byte(`{"objects":[` + strings.TrimSuffix(strings.Repeat(`{},`, 100_000), ",") + `]}`)
	var almost []any
	for i := range MaxObjects + 1 {
		almost = append(almost, map[string]any{"type": "indicator", "id": fmt.Sprint(i)})
	}
	tests := []struct {
		name string
		body []byte
		want int
	}{
		{"over 10 MB", big, 413},
		{"100k objects", many, 413},
		{"10,001 objects", envelopeOf(almost...), 413},
		{"not JSON", []byte(`{"objects":[`), 400},
		{"unknown envelope key", []byte(`{"objects":[],"extra":1}`), 400},
		{"envelope with more", []byte(`{"more":true,"objects":[]}`), 400},
		{"trailing data", append(envelopeOf(indicator(6, t0)), `{}`...), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(tt.body)
			if a.status != tt.want {
				t.Fatalf("%d, want %d: %.300s", a.status, tt.want, a.body)
			}
			if got := count(t, o); got != 1 {
				t.Errorf("%d objects stored after a refused request, want 1", got)
			}
		})
	}

	// Bad queries.
	o.do("POST", indicatorsPath+"objects/", tok, envelopeOf(indicator(10, t0), indicator(11, t0)))
	good := o.do("GET", indicatorsPath+"objects/?limit=1", tok, nil)
	next := good.json(t)["next"].(string)
	forged := []byte(next)
	forged[len(forged)/2] ^= 1
	queries := []struct{ name, query string }{
		{"huge limit", "limit=1000000000000"},
		{"limit over max", "limit=1001"},
		{"limit zero", "limit=0"},
		{"limit not a number", "limit=lots"},
		{"forged next", "next=" + url.QueryEscape(string(forged))},
		{"garbage next", "next=%00%01garbage"},
		{"long next", "next=" + strings.Repeat("A", 5000)},
		{"next for another query", "match[type]=malware&next=" + url.QueryEscape(next)},
		{"bad added_after", "added_after=yesterday"},
		{"added_after with offset", "added_after=2026-01-01T00:00:00%2B01:00"},
		{"bad match id", "match[id]=nope"},
		{"bad match version", "match[version]=newest"},
		{"unknown filter", "match[colour]=red"},
		{"unknown parameter", "colour=red"},
		{"repeated parameter", "limit=1&limit=2"},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			a := o.do("GET", indicatorsPath+"objects/?"+q.query, tok, nil)
			if a.status != 400 || a.json(t)["http_status"] != "400" {
				t.Errorf("%d, want 400: %s", a.status, a.body)
			}
		})
	}
	// The genuine next still works, and an old one expires.
	if a := o.do("GET", indicatorsPath+"objects/?limit=1&next="+url.QueryEscape(next), tok, nil); a.status != 200 {
		t.Errorf("genuine next: %d %s", a.status, a.body)
	}
	o.advance(25 * time.Hour)
	if a := o.do("GET", indicatorsPath+"objects/?limit=1&next="+url.QueryEscape(next), tok, nil); a.status != 400 {
		t.Errorf("day-old next: %d %s", a.status, a.body)
	}
}

// fakeSink records what PullIndicators hands over.
type fakeSink struct {
	calls []sinkCall
	fail  error
}

type sinkCall struct {
	partner string
	trust   int
	ids     []string
}

var _ IndicatorSink = (*fakeSink)(nil)

func (s *fakeSink) MergePartnerIndicators(_ context.Context, partner string, trust int, objs []stix.Indicator) error {
	if s.fail != nil {
		return s.fail
	}
	c := sinkCall{partner: partner, trust: trust}
	for _, o := range objs {
		c.ids = append(c.ids, o.ID)
	}
	s.calls = append(s.calls, c)
	return nil
}

func (s *fakeSink) ids() []string {
	var out []string
	for _, c := range s.calls {
		out = append(out, c.ids...)
	}
	return out
}

// TestTwoOrganisations: a partner posts an indicator into org A's server;
// org B pulls it into its own store with the client.
func TestTwoOrganisations(t *testing.T) {
	ctx := context.Background()
	a := newOrg(t)
	contributor := a.partner("contributor", nil, []string{"indicators"})
	orgBToken := a.partner("org-b", nil, nil)
	b := newOrg(t) // org B's own Healthgate, where the pull state lives

	poster := &Client{HTTP: a.srv.Client(), Token: contributor}
	collURL, coll, err := poster.FindCollection(ctx, a.url(Prefix), "indicators")
	if err != nil {
		t.Fatal(err)
	}
	if !coll.CanWrite || !coll.CanRead {
		t.Errorf("contributor's view of indicators: %+v", coll)
	}
	ind := indicator(42, t0)
	st, err := poster.AddObjects(ctx, collURL, []any{ind})
	if err != nil || st.SuccessCount != 1 {
		t.Fatalf("AddObjects = %+v, %v", st, err)
	}
	if got, err := poster.GetStatus(ctx, a.url(APIRoot), st.ID); err != nil || got.ID != st.ID {
		t.Errorf("GetStatus = %+v, %v", got, err)
	}

	puller := &Client{HTTP: a.srv.Client(), Token: orgBToken}
	collURL, coll, err = puller.FindCollection(ctx, a.url(Prefix), "indicators")
	if err != nil || coll.CanWrite {
		t.Fatalf("org B's view: %+v, %v", coll, err)
	}
	sink := &fakeSink{}
	pull := func() PullResult {
		t.Helper()
		res, err := PullIndicators(ctx, puller, b.store, sink, "org-a", 70, PullOptions{CollectionURL: collURL, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := pull()
	if got := sink.ids(); len(got) != 1 || got[0] != ind["id"] || sink.calls[0].partner != "org-a" || sink.calls[0].trust != 70 {
		t.Fatalf("sink got %+v", sink.calls)
	}
	if !res.Complete || res.AddedAfter.IsZero() {
		t.Errorf("first pull = %+v", res)
	}
	if state, _ := b.store.PullState(ctx, "org-a", collURL); !state.Equal(res.AddedAfter) {
		t.Errorf("pull state %v, want %v", state, res.AddedAfter)
	}
	// Nothing new: nothing merged.
	sink.calls = nil
	if res := pull(); res.Objects != 0 || len(sink.calls) != 0 {
		t.Errorf("second pull merged %+v", sink.calls)
	}
	// Five more (shared date_added, limit 2): exactly those, once each.
	a.advance(time.Minute)
	var more []any
	for i := range 5 {
		more = append(more, indicator(100+i, t0))
	}
	if _, err := poster.AddObjects(ctx, collURL, more); err != nil {
		t.Fatal(err)
	}
	res = pull()
	if got := sink.ids(); len(got) != 5 || res.Pages != 3 {
		t.Errorf("third pull: %d indicators in %d pages: %v", len(got), res.Pages, got)
	}
	// A failing sink stops the pull without advancing the state.
	before, _ := b.store.PullState(ctx, "org-a", collURL)
	a.advance(time.Minute)
	poster.AddObjects(ctx, collURL, []any{indicator(200, t0)})
	sink.fail = fmt.Errorf("intel store down")
	if _, err := PullIndicators(ctx, puller, b.store, sink, "org-a", 70, PullOptions{CollectionURL: collURL}); err == nil {
		t.Error("pull with a failing sink succeeded")
	}
	if after, _ := b.store.PullState(ctx, "org-a", collURL); !after.Equal(before) {
		t.Errorf("state advanced past unmerged indicators: %v -> %v", before, after)
	}
	sink.fail, sink.calls = nil, nil
	pull()
	if got := sink.ids(); len(got) != 1 || got[0] != indicator(200, t0)["id"] {
		t.Errorf("after recovery: %v", got)
	}
}

// TestPullResumesInsideATimestamp: a pull stopped by MaxPages in the middle
// of objects sharing one date_added resumes without losing any.
func TestPullResumesInsideATimestamp(t *testing.T) {
	ctx := context.Background()
	a := newOrg(t)
	w := a.partner("w", nil, []string{"indicators"})
	var objs []any
	for i := range 20 {
		objs = append(objs, indicator(i, t0))
	}
	c := &Client{HTTP: a.srv.Client(), Token: w}
	if _, err := c.AddObjects(ctx, a.url(indicatorsPath), objs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	page := func(_ context.Context, objs []stix.Object, _ time.Time) error {
		for _, o := range objs {
			seen[o.ID]++
		}
		return nil
	}
	res, err := c.Pull(ctx, PullOptions{CollectionURL: a.url(indicatorsPath), Limit: 3, MaxPages: 2, Page: page})
	if err != nil || res.Complete || res.Objects != 6 {
		t.Fatalf("bounded pull = %+v, %v", res, err)
	}
	res, err = c.Pull(ctx, PullOptions{CollectionURL: a.url(indicatorsPath), Limit: 3, AddedAfter: res.AddedAfter, Page: page})
	if err != nil || !res.Complete {
		t.Fatalf("resumed pull = %+v, %v", res, err)
	}
	if len(seen) != 20 {
		t.Errorf("saw %d of 20 objects", len(seen))
	}
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	tok := o.partner("r", []string{"sightings"}, nil)
	s, err := stix.NewAggregateSighting(stix.AggregateSighting{SightingOfRef: "indicator--cd981c25-8042-4166-8945-51178443bdac", Count: 120, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := Publish(ctx, o.store, "sightings", []any{s}, t0); err != nil {
		t.Fatal(err)
	}
	a := o.do("GET", APIRoot+"collections/sightings/objects/", tok, nil)
	if a.status != 200 || !bytes.Contains(a.body, []byte(`"count":120`)) {
		t.Errorf("sightings: %d %s", a.status, a.body)
	}
	bad := indicator(1, t0)
	bad["pattern"] = "nope"
	if err := Publish(ctx, o.store, "indicators", []any{indicator(2, t0), bad}, t0); err == nil {
		t.Error("Publish accepted an invalid object")
	}
	if got := count(t, o); got != 0 {
		t.Errorf("a refused Publish stored %d objects", got)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	scope := cursorScope("c", "")
	f.Add(encodeCursor(key, scope, t0, store.TAXIICursor{DateAdded: t0, ID: "indicator--x", Version: t0}))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(key, scope, t0, s)
		if err == nil && encodeCursor(key, scope, t0, c) != s {
			// Only the exact bytes we signed may decode.
			if _, err := decodeCursor(key, scope, t0, encodeCursor(key, scope, t0, c)); err != nil {
				t.Fatalf("re-encoded cursor does not decode: %v", err)
			}
		}
	})
}

// TestVersionPrecision: an object version with more than millisecond
// precision is named exactly in the manifest, the versions list and the
// status, so a client can ask for it with match[version].
func TestVersionPrecision(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("w", nil, []string{"indicators"})
	ind := indicator(1, t0)
	ind["modified"] = "2026-11-29T08:00:00.123456Z"
	id := ind["id"].(string)
	a := o.do("POST", indicatorsPath+"objects/", tok, envelopeOf(ind, indicator(2, t0)))
	var st Status
	if err := json.Unmarshal(a.body, &st); err != nil || st.SuccessCount != 2 {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	want := map[string]string{id: "2026-11-29T08:00:00.123456Z", indicator(2, t0)["id"].(string): stix.FormatTimestamp(t0)}
	for _, s := range st.Successes {
		if s.Version != want[s.ID] {
			t.Errorf("status: %s version %s, want %s", s.ID, s.Version, want[s.ID])
		}
	}
	var man struct{ Objects []ManifestRecord }
	json.Unmarshal(o.do("GET", indicatorsPath+"manifest/", tok, nil).body, &man)
	if len(man.Objects) != 2 {
		t.Fatalf("manifest: %+v", man)
	}
	for _, r := range man.Objects {
		if r.Version != want[r.ID] {
			t.Errorf("manifest: %s version %s, want %s", r.ID, r.Version, want[r.ID])
		}
	}
	var vs struct{ Versions []string }
	json.Unmarshal(o.do("GET", indicatorsPath+"objects/"+id+"/versions/", tok, nil).body, &vs)
	if len(vs.Versions) != 1 || vs.Versions[0] != want[id] {
		t.Errorf("versions = %v, want [%s]", vs.Versions, want[id])
	}
	for _, r := range man.Objects {
		ids, _, _ := listIDs(t, o.do("GET", indicatorsPath+"objects/?match[version]="+url.QueryEscape(r.Version), tok, nil))
		if len(ids) != 1 || ids[0] != r.ID {
			t.Errorf("match[version]=%s (from the manifest) = %v, want [%s]", r.Version, ids, r.ID)
		}
	}
}

// postStatus posts an envelope and returns the status answered, after
// checking the stored status resource says the same.
func (o *org) postStatus(tok string, objs ...any) Status {
	o.t.Helper()
	a := o.do("POST", indicatorsPath+"objects/", tok, envelopeOf(objs...))
	var st Status
	if err := json.Unmarshal(a.body, &st); err != nil || a.status != http.StatusAccepted {
		o.t.Fatalf("POST: %d %s", a.status, a.body)
	}
	stored := o.do("GET", APIRoot+"status/"+st.ID+"/", tok, nil)
	if !bytes.Equal(bytes.TrimSpace(stored.body), bytes.TrimSpace(a.body)) {
		o.t.Errorf("stored status %s, answered %s", stored.body, a.body)
	}
	return st
}

// lastVersion returns an object as match[version]=last serves it to tok.
func (o *org) lastVersion(tok, id string) map[string]any {
	o.t.Helper()
	a := o.do("GET", indicatorsPath+"objects/"+id+"/", tok, nil)
	var env struct{ Objects []map[string]any }
	if err := json.Unmarshal(a.body, &env); err != nil || len(env.Objects) != 1 {
		o.t.Fatalf("GET %s: %d %s", id, a.status, a.body)
	}
	return env.Objects[0]
}

// TestVersionsOnlyByCreator: a partner cannot add a version of an object
// another partner shared first (here: revoke it for everyone); the status
// lists it as a failure naming the object, and the rest of the POST is
// stored. The creator can.
func TestVersionsOnlyByCreator(t *testing.T) {
	o := newOrg(t)
	all := []string{"indicators"}
	a, b := o.partner("a", all, all), o.partner("b", all, all)
	ind := indicator(1, t0)
	id := ind["id"].(string)
	if st := o.postStatus(a, ind); st.SuccessCount != 1 {
		t.Fatalf("A's indicator: %+v", st)
	}
	revoked := indicator(1, t0.Add(time.Hour))
	revoked["revoked"] = true
	st := o.postStatus(b, revoked, indicator(2, t0))
	if st.SuccessCount != 1 || st.FailureCount != 1 || len(st.Failures) != 1 || len(st.Successes) != 1 ||
		st.Successes[0].ID != indicator(2, t0)["id"] {
		t.Fatalf("B's revocation of A's indicator: %+v", st)
	}
	if f := st.Failures[0]; f.ID != id || f.Version != stix.FormatTimestamp(t0.Add(time.Hour)) || !strings.Contains(f.Message, id) || !strings.Contains(f.Message, "creator") {
		t.Errorf("failure = %+v", f)
	}
	for _, tok := range []string{a, b} {
		if got := o.lastVersion(tok, id); got["revoked"] != nil || got["modified"] != ind["modified"] {
			t.Errorf("last version after B's attempt: %v", got)
		}
	}
	if st := o.postStatus(a, revoked); st.SuccessCount != 1 || st.FailureCount != 0 {
		t.Errorf("A revoking its own indicator: %+v", st)
	}
	if got := o.lastVersion(b, id); got["revoked"] != true {
		t.Errorf("last version after A's revocation: %v", got)
	}
}

// TestVersionContentFixed: posting an (id, version) again with the same
// content succeeds and changes nothing; with other content it is a
// failure, not a silent success, and the first content stays.
func TestVersionContentFixed(t *testing.T) {
	o := newOrg(t)
	tok := o.partner("a", []string{"indicators"}, []string{"indicators"})
	ind := indicator(1, t0)
	id := ind["id"].(string)
	if st := o.postStatus(tok, ind); st.SuccessCount != 1 {
		t.Fatalf("first POST: %+v", st)
	}
	if st := o.postStatus(tok, ind); st.SuccessCount != 1 || st.FailureCount != 0 {
		t.Errorf("same object again: %+v", st)
	}
	changed := indicator(1, t0)
	changed["pattern"] = "[domain-name:value = 'other.example.com']"
	st := o.postStatus(tok, changed)
	if st.SuccessCount != 0 || st.FailureCount != 1 || len(st.Successes) != 0 {
		t.Fatalf("other content, same version: %+v", st)
	}
	if f := st.Failures[0]; f.ID != id || f.Version != stix.FormatTimestamp(t0) || !strings.Contains(f.Message, "already exists with other content") || !strings.Contains(f.Message, id) {
		t.Errorf("failure = %+v", f)
	}
	if got := o.lastVersion(tok, id); got["pattern"] != ind["pattern"] {
		t.Errorf("stored pattern %v, want the first %v", got["pattern"], ind["pattern"])
	}
	if n := count(t, o); n != 1 {
		t.Errorf("%d object versions stored, want 1", n)
	}
}

// TestPublishVersions: Healthgate's own Publish keeps the first content of
// a version it publishes again (a retried pass with fresh noise) without
// an error, and reports objects whose id a partner posted first.
func TestPublishVersions(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	tok := o.partner("a", []string{"indicators"}, []string{"indicators"})
	mine, theirs := indicator(1, t0), indicator(2, t0)
	if st := o.postStatus(tok, theirs); st.SuccessCount != 1 {
		t.Fatalf("partner's indicator: %+v", st)
	}
	if err := Publish(ctx, o.store, "indicators", []any{mine}, t0); err != nil {
		t.Fatal(err)
	}
	again := indicator(1, t0)
	again["name"] = "renamed"
	if err := Publish(ctx, o.store, "indicators", []any{again}, t0); err != nil {
		t.Errorf("publishing a version again: %v", err)
	}
	if got := o.lastVersion(tok, mine["id"].(string)); got["name"] != nil {
		t.Errorf("republishing changed the version: %v", got)
	}
	newer := indicator(2, t0.Add(time.Hour))
	newer["revoked"] = true
	err := Publish(ctx, o.store, "indicators", []any{newer, indicator(3, t0)}, t0)
	if err == nil || !strings.Contains(err.Error(), theirs["id"].(string)) {
		t.Errorf("publishing a version of a partner's object: err = %v", err)
	}
	if got := o.lastVersion(tok, theirs["id"].(string)); got["revoked"] != nil {
		t.Errorf("Publish revoked a partner's object: %v", got)
	}
	if n := count(t, o); n != 3 {
		t.Errorf("%d object versions stored, want 3", n)
	}
}
