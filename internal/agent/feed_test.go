package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

type feedServer struct {
	t      *testing.T
	st     store.Store
	http   *httptest.Server
	mu     sync.Mutex
	bodies []string // full-hash request bodies the server saw
	tamper bool     // corrupt feed checksums
	n      int
}

func newFeedServer(t *testing.T) *feedServer {
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
	fs := &feedServer{t: t, st: st}
	fs.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/feed/full-hashes" {
			b, _ := io.ReadAll(r.Body)
			fs.mu.Lock()
			fs.bodies = append(fs.bodies, string(b))
			fs.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if fs.tamper && r.URL.Path == "/v1/feed" {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, r)
			body := bytes.Replace(rec.Body.Bytes(), []byte(`"checksum":"`), []byte(`"checksum":"00`), 1)
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(fs.http.Close)
	return fs
}

func (fs *feedServer) put(typ intel.Type, value string) store.Indicator {
	fs.t.Helper()
	n, err := intel.Normalize(typ, value)
	if err != nil {
		fs.t.Fatal(err)
	}
	fs.n++
	now := time.Now()
	out, err := fs.st.PutIndicators(context.Background(), []store.Indicator{{
		ID: "i" + strings.Repeat("x", fs.n), Type: string(typ), Value: n.Value, Source: "test", Confidence: 90, Status: intel.StatusActive,
		FirstSeen: now, LastSeen: now, FeedKind: string(n.Entry.Kind), FeedValue: n.Entry.Value, FullHash: n.FullHash,
	}}, store.Change{Actor: "test", At: now})
	if err != nil {
		fs.t.Fatal(err)
	}
	return out[0]
}

func newTestFeedSync(t *testing.T, server, dir string) *FeedSync {
	t.Helper()
	f, err := NewFeedSync(FeedConfig{Server: server, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const (
	malwareHash = "ed01ebfbc9eb5bbea545af4d01bf5f1071661840480439c6e5babe8e080e41aa"
	rogueCA     = "1111111111111111111111111111111111111111111111111111111111111111"
)

func TestFeedSyncAndLocalChecks(t *testing.T) {
	fs := newFeedServer(t)
	fs.put(intel.TypeSHA256, malwareHash)
	fs.put(intel.TypeCert, rogueCA)
	fs.put(intel.TypeTool, "anydesk")
	fs.put(intel.TypeIP, "85.255.112.0/20")
	fs.put(intel.TypeIP, "203.0.113.66")
	phish := fs.put(intel.TypeDomain, "alipay-secure-login.example")
	fs.put(intel.TypeURL, "http://shop.example/fake-checkout/")

	dir := t.TempDir()
	ctx := context.Background()
	f := newTestFeedSync(t, fs.http.URL, dir)
	if changed, err := f.Sync(ctx); err != nil || !changed {
		t.Fatalf("first sync: %v, %v", changed, err)
	}
	if f.Version() != 7 || f.Len() != 7 {
		t.Errorf("version %d, %d entries", f.Version(), f.Len())
	}
	facts := evidence.Facts{
		Processes: &evidence.ProcessFacts{Running: []evidence.Process{
			{Name: "bash", SHA256: strings.Repeat("0", 64)}, {Name: "tasksche.exe", SHA256: malwareHash}, {Name: "AnyDesk.exe"}}},
		Hosts:      &evidence.HostsFacts{Entries: []evidence.HostEntry{{Host: "www.alipay.com", IP: "203.0.113.66"}, {Host: "localhost", IP: "127.0.0.1"}}},
		DNS:        &evidence.DNSFacts{Servers: []string{"85.255.112.36", "1.1.1.1"}},
		Proxy:      &evidence.ProxyFacts{HTTP: "http://203.0.113.66:8080", HTTPS: "203.0.113.66:8080"},
		TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{{Subject: "CN=Evil Root", SHA256: rogueCA}}},
	}
	got := f.Check(facts)
	want := []evidence.Finding{
		{Code: "malware", Subject: malwareHash}, {Code: "remote_control", Subject: "anydesk"},
		{Code: "hosts_hijack", Subject: "www.alipay.com"}, {Code: "rogue_dns", Subject: "85.255.112.36"},
		{Code: "rogue_proxy", Subject: "203.0.113.66"}, {Code: "rogue_ca", Subject: rogueCA},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Check =\n %v\nwant\n %v", got, want)
	}
	if got := f.Check(evidence.Facts{DNS: &evidence.DNSFacts{Servers: []string{"1.1.1.1"}}}); len(got) != 0 {
		t.Errorf("healthy facts gave %v", got)
	}

	for _, tt := range []struct {
		url    string
		listed bool
	}{
		{"https://login.alipay-secure-login.example/pay?id=1", true},
		{"http://ALIPAY-SECURE-LOGIN.example", true},
		{"http://shop.example/fake-checkout/step2.html", true},
		{"http://shop.example/real-checkout/", false},
		{"https://www.alipay.com/", false},
	} {
		v, err := f.CheckURL(ctx, tt.url)
		if err != nil || v.Listed != tt.listed {
			t.Errorf("CheckURL(%q) = %+v, %v; want listed=%v", tt.url, v, err, tt.listed)
		}
	}
	fs.mu.Lock()
	for _, b := range fs.bodies {
		if strings.Contains(b, "alipay") || strings.Contains(b, "shop") || strings.Contains(b, "http") {
			t.Errorf("a full-hash request carried browsing: %s", b)
		}
	}
	asked := len(fs.bodies)
	fs.mu.Unlock()
	if asked == 0 || asked > 3 {
		t.Errorf("%d full-hash requests, want 1 to 3 (listed prefixes only, cached)", asked)
	}

	// Nothing changed: 304, no change.
	if changed, err := f.Sync(ctx); err != nil || changed {
		t.Errorf("sync without changes: %v, %v", changed, err)
	}
	// Retire the phishing domain: a delta removes it.
	if _, err := fs.st.SetIndicatorStatus(ctx, phish.ID, intel.StatusRetired, store.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if changed, err := f.Sync(ctx); err != nil || !changed {
		t.Fatalf("delta sync: %v, %v", changed, err)
	}
	if f.Version() != 8 || f.Len() != 6 {
		t.Errorf("after delta: version %d, %d entries", f.Version(), f.Len())
	}
	if v, _ := f.CheckURL(ctx, "https://login.alipay-secure-login.example/"); v.Listed {
		t.Error("a retired domain is still listed")
	}
	// The feed survives a restart.
	again := newTestFeedSync(t, fs.http.URL, dir)
	if again.Version() != 8 || again.Len() != 6 {
		t.Errorf("reloaded: version %d, %d entries", again.Version(), again.Len())
	}
}

func TestFeedSyncRefusesBadChecksum(t *testing.T) {
	fs := newFeedServer(t)
	fs.put(intel.TypeTool, "anydesk")
	dir := t.TempDir()
	f := newTestFeedSync(t, fs.http.URL, dir)
	fs.tamper = true
	if _, err := f.Sync(context.Background()); !errors.Is(err, ErrFeedChecksum) {
		t.Errorf("tampered feed: err = %v, want ErrFeedChecksum", err)
	}
	if f.Version() != 0 || f.Len() != 0 {
		t.Errorf("a feed that failed its checksum was applied")
	}
	if _, err := os.Stat(filepath.Join(dir, feedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a feed that failed its checksum was stored: %v", err)
	}
}

func TestFeedSyncStartsOverWhenServerIsBehind(t *testing.T) {
	fs := newFeedServer(t)
	for _, v := range []string{"anydesk", "teamviewer", "rustdesk"} {
		fs.put(intel.TypeTool, v)
	}
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := newTestFeedSync(t, fs.http.URL, dir).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A new server (fresh database) at version 1.
	fresh := newFeedServer(t)
	fresh.put(intel.TypeTool, "todesk")
	f := newTestFeedSync(t, fresh.http.URL, dir)
	if f.Version() != 3 {
		t.Fatalf("loaded version %d", f.Version())
	}
	if changed, err := f.Sync(ctx); err != nil || !changed || f.Version() != 1 || f.Len() != 1 {
		t.Errorf("sync against a server that is behind: %v %v, version %d, %d entries", changed, err, f.Version(), f.Len())
	}
}

// TestFeedSyncStartsOverOnWrongBase: a delta from another version than the
// one asked for is not applied, and the feed starts over from a snapshot
// instead of staying old for as long as the server answers so.
func TestFeedSyncStartsOverOnWrongBase(t *testing.T) {
	fs := newFeedServer(t)
	fs.put(intel.TypeTool, "anydesk")
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := newTestFeedSync(t, fs.http.URL, dir).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fs.put(intel.TypeTool, "teamviewer")
	target, _ := url.Parse(fs.http.URL)
	forward := httputil.NewSingleHostReverseProxy(target)
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/feed" && r.URL.Query().Get("since") != "0" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"version":9,"since":7,"checksum":"x","add":{},"remove":{}}`))
			return
		}
		forward.ServeHTTP(w, r)
	}))
	defer wrong.Close()
	f := newTestFeedSync(t, wrong.URL, dir)
	before := f.Version()
	if changed, err := f.Sync(ctx); err != nil || !changed || f.Len() != 2 || f.Version() == before {
		t.Errorf("after a delta from the wrong base: %v %v, version %d (was %d), %d entries; want the snapshot's 2", changed, err, f.Version(), before, f.Len())
	}
}

func TestFeedIgnoresDamagedFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, feedFile), []byte(`{"version":9,"snapshot":true,"checksum":"00","add":{"tool":["anydesk"]}}`), 0o600)
	f := newTestFeedSync(t, "http://127.0.0.1:1", dir)
	if f.Version() != 0 || f.Len() != 0 {
		t.Errorf("damaged feed loaded: version %d", f.Version())
	}
}

func TestFeedSyncDelay(t *testing.T) {
	for _, tt := range []struct {
		failures int
		u        float64
		lo, hi   time.Duration
	}{
		{0, 0, 27 * time.Minute, 27 * time.Minute},
		{0, 0.999, 32 * time.Minute, 33 * time.Minute},
		{1, 0, 30 * time.Second, 30 * time.Second},
		{1, 0.999, 59 * time.Second, time.Minute},
		{3, 0.5, 3 * time.Minute, 3 * time.Minute},
		{30, 0.999, time.Hour + 59*time.Minute, 2 * time.Hour},
		{1 << 30, 0, time.Hour, time.Hour},
		{2, -5, time.Minute, time.Minute}, // u out of range is clamped
	} {
		if got := FeedSyncDelay(tt.failures, tt.u); got < tt.lo || got > tt.hi {
			t.Errorf("FeedSyncDelay(%d, %v) = %v, want in [%v, %v]", tt.failures, tt.u, got, tt.lo, tt.hi)
		}
	}
}

func TestFeedSyncAfterClockJumpsBack(t *testing.T) {
	// The device clock ran a year ahead when the feed was last synced;
	// once it is corrected the feed must not wait a year for its next sync.
	var mu sync.Mutex
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"version":1,"snapshot":true,"checksum":"`+(&intel.Set{}).Checksum()+`"}`)
	}))
	defer srv.Close()
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	a, err := New(Config{Server: srv.URL, StateDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.syncFeedIfDue(ctx)
	now = now.AddDate(-1, 0, 0)
	a.syncFeedIfDue(ctx)
	a.syncFeedIfDue(ctx) // due again only after FeedInterval
	if fetches != 2 {
		t.Errorf("%d feed fetches, want 2 (before and after the clock went back)", fetches)
	}
}

func TestFullHashCacheAfterClockJumpsBack(t *testing.T) {
	fs := newFeedServer(t)
	fs.put(intel.TypeDomain, "alipay-secure-login.example")
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	f, err := NewFeedSync(FeedConfig{Server: fs.http.URL, StateDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	const u = "https://login.alipay-secure-login.example/"
	if v, err := f.CheckURL(ctx, u); err != nil || !v.Listed {
		t.Fatalf("CheckURL = %+v, %v", v, err)
	}
	now = now.AddDate(-1, 0, 0) // the clock is corrected
	if _, err := f.CheckURL(ctx, u); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.bodies) != 2 {
		t.Errorf("%d full-hash requests, want 2: an answer cached for at most an hour was kept a year", len(fs.bodies))
	}
}

func TestAgentFeedClientAllowsLargeSnapshots(t *testing.T) {
	// Reports use a 30s client; a snapshot of up to DefaultFeedMaxBytes
	// needs the feed's own, longer timeout.
	a, err := New(Config{Server: "http://127.0.0.1:1", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.protect.feed.cfg.Client.Timeout; got != 0 && got < 5*time.Minute {
		t.Errorf("feed client timeout %v, want at least 5m", got)
	}
}

func TestAgentErrorFromHugeAnswerIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, strings.Repeat("<html>garbage</html>", 1<<16))
	}))
	defer srv.Close()
	a, err := New(Config{Server: srv.URL, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Enroll(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway {
		t.Fatalf("err = %v, want an APIError 502", err)
	}
	if n := len(err.Error()); n > 1024 {
		t.Errorf("error of %d bytes: the server's whole answer is logged with each retry", n)
	}
}
