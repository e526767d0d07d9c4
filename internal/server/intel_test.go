package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

type feedEnv struct {
	t    *testing.T
	st   store.Store
	http *httptest.Server
	n    int
}

func newFeedEnv(t *testing.T) *feedEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(ctx, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &feedEnv{t: t, st: st, http: hs}
}

// put stores an indicator the way `healthgate intel add` does.
func (e *feedEnv) put(typ intel.Type, value string) store.Indicator {
	e.t.Helper()
	n, err := intel.Normalize(typ, value)
	if err != nil {
		e.t.Fatal(err)
	}
	e.n++
	now := time.Now().UTC()
	out, err := e.st.PutIndicators(context.Background(), []store.Indicator{{
		ID: "ind" + string(rune('a'+e.n)), Type: string(typ), Value: n.Value, Source: "test", Confidence: 90, Status: intel.StatusActive,
		FirstSeen: now, LastSeen: now, Expires: now.Add(time.Hour), FeedKind: string(n.Entry.Kind), FeedValue: n.Entry.Value, FullHash: n.FullHash,
	}}, store.Change{Actor: "test", At: now})
	if err != nil {
		e.t.Fatal(err)
	}
	return out[0]
}

func (e *feedEnv) get(path, inm string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+path, nil)
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func errorCode(b []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	return e.Error.Code
}

func TestFeedSnapshotDeltaETag(t *testing.T) {
	e := newFeedEnv(t)
	e.put(intel.TypeSHA256, strings.Repeat("ab", 32))
	dom := e.put(intel.TypeDomain, "phish.example")
	e.put(intel.TypeTool, "AnyDesk")
	e.put(intel.TypePayee, "acct-9") // not on the agent feed

	resp, body := e.get("/v1/feed", "")
	if resp.StatusCode != 200 {
		t.Fatalf("snapshot: %d %s", resp.StatusCode, body)
	}
	var snap intel.Feed
	if err := json.Unmarshal(body, &snap); err != nil {
		t.Fatal(err)
	}
	if !snap.Snapshot || snap.Version != 3 || len(snap.Add.Prefixes) != 1 || len(snap.Add.SHA256) != 1 || len(snap.Add.Tool) != 1 {
		t.Errorf("snapshot = %+v", snap)
	}
	if strings.Contains(string(body), "phish.example") {
		t.Error("a domain travelled in clear text")
	}
	set := &intel.Set{}
	if err := set.Apply(snap.Remove, snap.Add); err != nil {
		t.Fatal(err)
	}
	if set.Checksum() != snap.Checksum {
		t.Errorf("checksum %s does not match the entries (%s)", snap.Checksum, set.Checksum())
	}
	etag := resp.Header.Get("ETag")
	if etag != `"v3"` {
		t.Errorf("ETag = %q", etag)
	}
	if resp, _ := e.get("/v1/feed?since=3", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", resp.StatusCode)
	}

	// Retire the domain and add a URL: the delta carries both changes.
	if _, err := e.st.SetIndicatorStatus(context.Background(), dom.ID, intel.StatusRetired, store.Change{Actor: "test", Reason: "fp", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.put(intel.TypeURL, "http://bad.example/login/")
	resp, body = e.get("/v1/feed?since=3", etag)
	if resp.StatusCode != 200 {
		t.Fatalf("delta: %d %s", resp.StatusCode, body)
	}
	var delta intel.Feed
	if err := json.Unmarshal(body, &delta); err != nil {
		t.Fatal(err)
	}
	if delta.Snapshot || delta.Since != 3 || delta.Version != 5 || len(delta.Remove.Prefixes) != 1 || len(delta.Add.Prefixes) != 1 {
		t.Errorf("delta = %+v", delta)
	}
	if err := set.Apply(delta.Remove, delta.Add); err != nil {
		t.Fatal(err)
	}
	if set.Checksum() != delta.Checksum {
		t.Error("checksum after applying the delta does not match")
	}
	if want := intel.HashPrefix("bad.example/login/"); !set.HasPrefix(want) || set.HasPrefix(intel.HashPrefix("phish.example/")) {
		t.Error("delta applied to the wrong prefixes")
	}
	// The first server moved its cached feed forward by deltas; a fresh
	// server reads every entry. Both must give the same feed.
	_, body = e.get("/v1/feed", "")
	var advanced intel.Feed
	json.Unmarshal(body, &advanced)
	fresh, err := server.New(context.Background(), server.Options{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	fresh.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/feed", nil))
	var rebuilt intel.Feed
	json.Unmarshal(rec.Body.Bytes(), &rebuilt)
	if advanced.Version != 5 || advanced.Checksum != rebuilt.Checksum || rebuilt.Checksum != set.Checksum() {
		t.Errorf("feed advanced by deltas (v%d %s) differs from one rebuilt (v%d %s)", advanced.Version, advanced.Checksum, rebuilt.Version, rebuilt.Checksum)
	}
}

func TestFeedBadVersions(t *testing.T) {
	e := newFeedEnv(t)
	e.put(intel.TypeTool, "anydesk")
	for _, tt := range []struct {
		query  string
		status int
		code   string
	}{
		{"since=2", 400, "feed_version_ahead"},
		{"since=", 200, ""},
		{"since=abc", 400, "bad_feed_version"},
		{"since=-1", 400, "bad_feed_version"},
		{"since=1.5", 400, "bad_feed_version"},
		{"since=+1", 400, "bad_feed_version"},
		{"since=99999999999999999999", 400, "bad_feed_version"},
		{"since=1", 200, ""},
		{"since=0", 200, ""},
	} {
		resp, body := e.get("/v1/feed?"+tt.query, "")
		if resp.StatusCode != tt.status || errorCode(body) != tt.code {
			t.Errorf("%s: %d %q, want %d %q", tt.query, resp.StatusCode, errorCode(body), tt.status, tt.code)
		}
	}
}

func TestFullHashes(t *testing.T) {
	e := newFeedEnv(t)
	e.put(intel.TypeURL, "http://bad.example/login/")
	expr := "bad.example/login/"
	prefix := intel.FormatPrefix(intel.HashPrefix(expr))
	full := intel.FullHash(expr)
	post := func(ct, body string) (int, []byte) {
		resp, err := http.Post(e.http.URL+"/v1/feed/full-hashes", ct, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := post("application/json", `{"prefixes":["`+prefix+`","00000000"]}`)
	var got intel.FullHashResponse
	if err := json.Unmarshal(body, &got); status != 200 || err != nil {
		t.Fatalf("%d %s", status, body)
	}
	if len(got.Matches) != 1 || got.Matches[0].Prefix != prefix || len(got.Matches[0].FullHashes) != 1 ||
		got.Matches[0].FullHashes[0] != hexString(full[:]) || got.CacheSeconds <= 0 {
		t.Errorf("answer = %+v", got)
	}
	many := make([]string, intel.MaxFullHashPrefixes+1)
	for i := range many {
		many[i] = `"00000000"`
	}
	for _, tt := range []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"too many", "application/json", `{"prefixes":[` + strings.Join(many, ",") + `]}`, 400, "too_many_prefixes"},
		{"none", "application/json", `{"prefixes":[]}`, 400, "bad_prefixes"},
		{"short", "application/json", `{"prefixes":["abc"]}`, 400, "bad_prefix"},
		{"full hash instead", "application/json", `{"prefixes":["` + hexString(full[:]) + `"]}`, 400, "bad_prefix"},
		{"not hex", "application/json", `{"prefixes":["zzzzzzzz"]}`, 400, "bad_prefix"},
		{"unknown field", "application/json", `{"prefixes":["00000000"],"url":"http://x"}`, 400, "bad_json"},
		{"wrong type", "text/plain", `{"prefixes":["00000000"]}`, 415, "unsupported_media_type"},
	} {
		status, body := post(tt.ct, tt.body)
		if status != tt.status || errorCode(body) != tt.code {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, errorCode(body), tt.status, tt.code)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// putBulkDomains stores n active phishing domains at once: one feed
// version, a delta too large to send as one.
func (e *feedEnv) putBulkDomains(t *testing.T, n int) {
	t.Helper()
	now := time.Now()
	var ins []store.Indicator
	for i := range n {
		norm, _ := intel.Normalize(intel.TypeDomain, "phish"+strconv.Itoa(i)+".example")
		ins = append(ins, store.Indicator{ID: "bulk" + strconv.Itoa(i), Type: "domain", Value: norm.Value, Source: "t", Status: intel.StatusActive,
			FirstSeen: now, LastSeen: now, FeedKind: string(norm.Entry.Kind), FeedValue: norm.Entry.Value, FullHash: norm.FullHash})
	}
	if _, err := e.st.PutIndicators(context.Background(), ins, store.Change{Actor: "t", At: now}); err != nil {
		t.Fatal(err)
	}
}

func TestFeedLargeDeltaIsSnapshot(t *testing.T) {
	e := newFeedEnv(t)
	e.put(intel.TypeTool, "anydesk")
	e.putBulkDomains(t, 1200)
	for _, since := range []string{"1", "1"} { // the second answer comes from the cache
		resp, body := e.get("/v1/feed?since="+since, "")
		var f intel.Feed
		if err := json.Unmarshal(body, &f); resp.StatusCode != 200 || err != nil {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		if !f.Snapshot || f.Version != 2 || f.Add.Len() != 1201 {
			t.Errorf("since=1 with 1200 changes: snapshot=%v version=%d entries=%d, want the snapshot", f.Snapshot, f.Version, f.Add.Len())
		}
	}
	// A small delta is a delta, and the second ask is served from the cache.
	e.put(intel.TypeTool, "rustdesk")
	for range 2 {
		_, body := e.get("/v1/feed?since=2", "")
		var f intel.Feed
		json.Unmarshal(body, &f)
		if f.Snapshot || f.Version != 3 || f.Add.Len() != 1 || f.Add.Tool[0] != "rustdesk" {
			t.Errorf("small delta = %+v", f)
		}
	}
}

func TestServerExpiresIndicators(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	n, _ := intel.Normalize(intel.TypeURL, "http://old.example/")
	if _, err := st.PutIndicators(ctx, []store.Indicator{{ID: "old", Type: "url", Value: n.Value, Source: "t", Status: intel.StatusActive,
		FirstSeen: now, LastSeen: now, Expires: now.Add(time.Hour), FeedKind: string(n.Entry.Kind), FeedValue: n.Entry.Value}}, store.Change{At: now}); err != nil {
		t.Fatal(err)
	}
	// The server's clock is two hours ahead: its first maintenance pass
	// expires the indicator.
	srv, err := server.New(ctx, server.Options{Store: st, Now: func() time.Time { return now.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, err := st.Indicator(ctx, "old", "", "")
		if err == nil && in.Status == intel.StatusExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("indicator not expired by the server: %+v, %v", in, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs, _ := st.IndicatorEvents(ctx, "old")
	if last := evs[len(evs)-1]; last.Actor != "system" || last.ToStatus != intel.StatusExpired {
		t.Errorf("audit = %+v", last)
	}
	cancel()
	<-done
}

// deltaCounter counts the store's feed deltas asked since one version.
type deltaCounter struct {
	store.Store
	since int64
	n     atomic.Int32
}

func (d *deltaCounter) FeedDelta(ctx context.Context, since int64, limit int) (store.FeedDelta, bool, error) {
	if since == d.since {
		d.n.Add(1)
	}
	return d.Store.FeedDelta(ctx, since, limit)
}

// TestFeedSnapshotForOldVersionCached: when a delta is too large and the
// snapshot is sent instead, that choice is cached with the version like a
// delta, so agents far behind do not each make the store read half the
// feed.
func TestFeedSnapshotForOldVersionCached(t *testing.T) {
	e := newFeedEnv(t)
	e.put(intel.TypeTool, "anydesk")
	e.putBulkDomains(t, 1200)
	counter := &deltaCounter{Store: e.st, since: 1}
	srv, err := server.New(context.Background(), server.Options{Store: counter})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/feed?since=1", nil))
		var f intel.Feed
		if err := json.Unmarshal(rec.Body.Bytes(), &f); rec.Code != 200 || err != nil || !f.Snapshot || f.Version != 2 {
			t.Fatalf("since=1: %d snapshot=%v version=%d %v", rec.Code, f.Snapshot, f.Version, err)
		}
	}
	if got := counter.n.Load(); got != 1 {
		t.Errorf("three asks since=1 at one version read the store's delta %d times, want once", got)
	}
}
