package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
)

// t0 is the virtual start of every daemon test.
var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// fakeClock runs virtual time: After advances the clock by d at once, runs
// the events that fall due and answers immediately, so hours of schedule
// take milliseconds. Once the clock passes its horizon it stops the daemon.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	horizon time.Time
	stop    context.CancelFunc
	events  []clockEvent
}

type clockEvent struct {
	at time.Time
	fn func()
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock(horizon time.Duration, stop context.CancelFunc) *fakeClock {
	return &fakeClock{now: t0, horizon: t0.Add(horizon), stop: stop}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []func()
	kept := c.events[:0]
	for _, e := range c.events {
		if !e.at.After(now) {
			due = append(due, e.fn)
		} else {
			kept = append(kept, e)
		}
	}
	c.events = kept
	c.mu.Unlock()
	for _, fn := range due {
		fn()
	}
	c.mu.Lock()
	now = c.now // an event may have set the clock (a clock jump)
	past := now.After(c.horizon)
	c.mu.Unlock()
	if past {
		c.stop()
	}
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// at runs fn when virtual time reaches t0+offset.
func (c *fakeClock) at(offset time.Duration, fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, clockEvent{t0.Add(offset), fn})
}

// fakeServer is a health service that checks nothing: it enrols any key,
// hands out nonces, and answers every report with a certificate of the
// configured lifetime. While down it answers 503 to everything.
type fakeServer struct {
	*httptest.Server
	clock    *fakeClock
	lifetime time.Duration

	mu       sync.Mutex
	down     bool
	attempts []time.Time // virtual times of requests refused while down
	reports  []time.Time // virtual times of accepted reports
}

func newFakeServer(t *testing.T, clock *fakeClock, lifetime time.Duration) *fakeServer {
	s := &fakeServer{clock: clock, lifetime: lifetime}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		if r.URL.Path == "/v1/enroll" || r.URL.Path == "/v1/challenge" {
			s.attempts = append(s.attempts, now)
		}
		http.Error(w, `{"error":{"code":"unavailable","message":"down"}}`, http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/enroll":
		var req struct {
			PublicKey devicekey.JWK `json:"public_key"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"device_id": "dev-1", "jkt": req.PublicKey.Thumbprint()})
	case "/v1/challenge":
		json.NewEncoder(w).Encode(map[string]string{"nonce": fmt.Sprintf("nonce-%08d", len(s.reports))})
	case "/v1/reports":
		if _, err := evidence.Parse(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.reports = append(s.reports, now)
		exp := now.Add(s.lifetime)
		json.NewEncoder(w).Encode(map[string]any{
			"tier": "affirming", "score": 100, "findings": []any{},
			"certificate": fakeJWT(now, exp), "expires_at": exp,
		})
	default:
		http.NotFound(w, r)
	}
}

func (s *fakeServer) attemptTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

func (s *fakeServer) reportTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.reports...)
}

func fakeJWT(iat, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]int64{"iat": iat.Unix(), "exp": exp.Unix()})
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc(payload) + ".c2ln"
}

// daemonRig is one daemon wired to a fake server and a fake clock.
type daemonRig struct {
	ctx    context.Context
	clock  *fakeClock
	server *fakeServer
	daemon *Daemon
	root   string
	state  string
	sent   []QueuedReport
}

type rigOptions struct {
	horizon  time.Duration
	interval time.Duration
	lifetime time.Duration
	state    string      // reuse a state directory (a restart)
	server   *fakeServer // reuse a server
	clock    *fakeClock  // with server
	ctx      context.Context
}

func newRig(t *testing.T, o rigOptions) *daemonRig {
	t.Helper()
	if o.lifetime == 0 {
		o.lifetime = 4 * time.Hour
	}
	ctx, clock := o.ctx, o.clock
	if clock == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		t.Cleanup(cancel)
		clock = newFakeClock(o.horizon, cancel)
	}
	srv := o.server
	if srv == nil {
		srv = newFakeServer(t, clock, o.lifetime)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := o.state
	if state == "" {
		state = t.TempDir()
	}
	a, err := New(Config{Server: srv.URL, StateDir: state, Root: root, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	d, err := NewDaemon(a, DaemonConfig{
		Interval: o.interval, WatchPaths: []string{"etc/hosts"},
		Clock: clock, Rand: rng.Float64,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &daemonRig{ctx: ctx, clock: clock, server: srv, daemon: d, root: root, state: state}
	d.OnSent = func(q QueuedReport, _ *Result) { r.sent = append(r.sent, q) }
	return r
}

func (r *daemonRig) run(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.daemon.Run(r.ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop at the end of virtual time")
	}
}

// testWriter sends the daemon's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

func TestDaemonBacksOffWhileServerIsDown(t *testing.T) {
	// Reports are daily, so every try during the two-hour outage is a retry.
	r := newRig(t, rigOptions{horizon: 3 * time.Hour, interval: 24 * time.Hour})
	r.server.setDown(true)
	r.clock.at(2*time.Hour, func() { r.server.setDown(false) })
	r.run(t)

	g := gaps(r.server.attemptTimes())
	if len(g) < 8 {
		t.Fatalf("got %d retries in a 2h outage, want at least 8: %v", len(g), g)
	}
	if g[0] < DefaultMinBackoff/2 || g[0] > DefaultMinBackoff {
		t.Errorf("first retry after %v, want within [%v, %v]", g[0], DefaultMinBackoff/2, DefaultMinBackoff)
	}
	// Retry i waits within [c/2, c] for c = min(5s·2^i, 15m): doubling
	// ceilings give non-decreasing delays until the cap, then stay under it.
	for i, d := range g {
		ceiling := min(DefaultMinBackoff<<min(i, 20), DefaultMaxBackoff)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("retry %d after %v, want within [%v, %v]", i+1, d, ceiling/2, ceiling)
		}
	}
	if last := g[len(g)-1]; last < DefaultMaxBackoff/2 {
		t.Errorf("last retry after %v: backoff never reached its cap region [%v, %v]", last, DefaultMaxBackoff/2, DefaultMaxBackoff)
	}
	reports := r.server.reportTimes()
	if len(reports) != 1 {
		t.Fatalf("got %d reports after recovery, want 1", len(reports))
	}
	if after := reports[0].Sub(t0.Add(2 * time.Hour)); after > DefaultMaxBackoff {
		t.Errorf("report sent %v after recovery, want within %v", after, DefaultMaxBackoff)
	}
	if n := r.daemon.Queue().Len(); n != 0 {
		t.Errorf("queue holds %d reports after recovery, want 0", n)
	}
}

func TestDaemonDrainsQueueInOrder(t *testing.T) {
	r := newRig(t, rigOptions{horizon: 2 * time.Hour, interval: 10 * time.Minute})
	r.server.setDown(true)
	r.clock.at(time.Hour, func() { r.server.setDown(false) })
	var queuedAtRecovery int
	r.clock.at(time.Hour-time.Second, func() { queuedAtRecovery = r.daemon.Queue().Len() })
	r.run(t)

	if queuedAtRecovery < 5 {
		t.Fatalf("%d reports queued during a 1h outage at a 10m interval, want at least 5", queuedAtRecovery)
	}
	if len(r.sent) < queuedAtRecovery {
		t.Fatalf("sent %d reports, want at least the %d queued", len(r.sent), queuedAtRecovery)
	}
	for i := 1; i < len(r.sent); i++ {
		if prev, cur := r.sent[i-1], r.sent[i]; cur.Seq <= prev.Seq || cur.CollectedAt.Before(prev.CollectedAt) {
			t.Errorf("report %d (seq %d, %v) sent after seq %d (%v): out of order",
				i, cur.Seq, cur.CollectedAt, prev.Seq, prev.CollectedAt)
		}
	}
	for i := 0; i < queuedAtRecovery; i++ {
		if !r.sent[i].CollectedAt.Before(t0.Add(time.Hour)) {
			t.Errorf("report %d collected at %v, want one of those queued during the outage", i, r.sent[i].CollectedAt)
		}
	}
	if got := r.daemon.Queue().Dropped(); got != 0 {
		t.Errorf("dropped %d reports, want 0", got)
	}
}

func TestDaemonKeepsQueueAcrossRestart(t *testing.T) {
	state := t.TempDir()
	first := newRig(t, rigOptions{horizon: 40 * time.Minute, interval: 10 * time.Minute, state: state})
	first.server.setDown(true)
	first.run(t)
	queued := first.daemon.Queue().Len()
	if queued < 3 {
		t.Fatalf("%d reports queued before the restart, want at least 3", queued)
	}

	second := newRig(t, rigOptions{horizon: 5 * time.Minute, interval: time.Hour, state: state})
	if got := second.daemon.Queue().Len(); got != queued {
		t.Fatalf("after restart the queue holds %d reports, want %d", got, queued)
	}
	second.run(t)
	if len(second.sent) != queued+1 {
		t.Fatalf("sent %d reports after restart, want the %d queued and the new one", len(second.sent), queued)
	}
	for i := 1; i < len(second.sent); i++ {
		if second.sent[i].Seq <= second.sent[i-1].Seq {
			t.Errorf("report seq %d sent after seq %d", second.sent[i].Seq, second.sent[i-1].Seq)
		}
	}
	if got := second.daemon.Queue().Len(); got != 0 {
		t.Errorf("queue holds %d reports, want 0", got)
	}
}

func TestDaemonReportsWhenWatchedFileChanges(t *testing.T) {
	r := newRig(t, rigOptions{horizon: 30 * time.Minute, interval: time.Hour})
	changeAt := 10 * time.Minute
	r.clock.at(changeAt, func() {
		err := os.WriteFile(filepath.Join(r.root, "etc/hosts"), []byte("127.0.0.1 localhost\n6.6.6.6 pay.example\n"), 0o644)
		if err != nil {
			t.Error(err)
		}
	})
	r.run(t)

	reports := r.server.reportTimes()
	if len(reports) != 2 {
		t.Fatalf("got %d reports, want 2 (start, hosts change): %v", len(reports), reports)
	}
	if after := reports[1].Sub(t0.Add(changeAt)); after < 0 || after > DefaultWatchEvery {
		t.Errorf("report %v after the change, want within %v", after, DefaultWatchEvery)
	}
}

func TestDaemonRenewsAtHalfLife(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		min, max time.Duration // between reports
	}{
		{"contraindicated 5m", 5 * time.Minute, 150 * time.Second, 150*time.Second + DefaultWatchEvery},
		{"warning 1h", time.Hour, 30 * time.Minute, 30*time.Minute + DefaultWatchEvery},
		{"affirming 4h: the interval comes first", 4 * time.Hour, 54 * time.Minute, 66 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{horizon: 4 * time.Hour, interval: time.Hour, lifetime: tt.lifetime})
			r.run(t)
			g := gaps(r.server.reportTimes())
			if len(g) < 2 {
				t.Fatalf("got %d reports in 4h, want at least 3", len(g)+1)
			}
			for i, d := range g {
				if d < tt.min || d > tt.max {
					t.Errorf("report %d came %v after the one before, want within [%v, %v]", i+1, d, tt.min, tt.max)
				}
			}
		})
	}
}

func TestDaemonStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := &fakeClock{now: t0, horizon: t0.Add(1000 * time.Hour), stop: cancel}
	r := newRig(t, rigOptions{ctx: ctx, clock: clock, interval: time.Hour})
	clock.at(90*time.Minute, cancel)
	r.run(t)
	if now := clock.Now(); now.Sub(t0) > 2*time.Hour {
		t.Errorf("daemon ran on until %v after cancel at 1h30m", now.Sub(t0))
	}
}

func TestBackoff(t *testing.T) {
	d := &Daemon{cfg: DaemonConfig{MinBackoff: 5 * time.Second, MaxBackoff: 15 * time.Minute}}
	tests := []struct {
		name     string
		attempt  int
		rand     float64
		min, max time.Duration
	}{
		{"first try, low draw", 0, 0, 2500 * time.Millisecond, 2500 * time.Millisecond},
		{"first try, high draw", 0, 0.999999, 2500 * time.Millisecond, 5 * time.Second},
		{"fourth try", 3, 0.5, 20 * time.Second, 40 * time.Second},
		{"capped", 10, 0.999999, 7*time.Minute + 30*time.Second, 15 * time.Minute},
		{"huge attempt does not overflow", 200, 0.5, 7*time.Minute + 30*time.Second, 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.cfg.Rand = func() float64 { return tt.rand }
			if got := d.backoff(tt.attempt); got < tt.min || got > tt.max {
				t.Errorf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, got, tt.min, tt.max)
			}
		})
	}
}

func TestRenewalDelay(t *testing.T) {
	now := t0
	tests := []struct {
		name   string
		res    Result
		want   time.Duration
		wantOK bool
	}{
		{"from the certificate", Result{Certificate: fakeJWT(now, now.Add(time.Hour))}, 30 * time.Minute, true},
		{"device clock off: certificate still decides", Result{Certificate: fakeJWT(now.Add(-3*time.Minute), now.Add(2*time.Minute)), ExpiresAt: now.Add(2 * time.Minute)}, 150 * time.Second, true},
		{"floor for very short certificates", Result{Certificate: fakeJWT(now, now.Add(20*time.Second))}, minRenewal, true},
		{"fallback to expires_at", Result{Certificate: "garbage", ExpiresAt: now.Add(2 * time.Hour)}, time.Hour, true},
		{"already expired", Result{Certificate: "garbage", ExpiresAt: now.Add(-time.Minute)}, 0, false},
		{"nothing to go by", Result{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := renewalDelay(&tt.res, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("renewalDelay = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDaemonConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     DaemonConfig
		wantErr bool
	}{
		{"defaults", DaemonConfig{}, false},
		{"one minute", DaemonConfig{Interval: time.Minute}, false},
		{"one day", DaemonConfig{Interval: 24 * time.Hour}, false},
		{"too often", DaemonConfig{Interval: 59 * time.Second}, true},
		{"too rare", DaemonConfig{Interval: 25 * time.Hour}, true},
		{"backoff upside down", DaemonConfig{MinBackoff: time.Minute, MaxBackoff: time.Second}, true},
		{"watch too often", DaemonConfig{WatchEvery: time.Millisecond}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

// jump sets the clock by d at once (negative: back), as when a user or NTP
// corrects the system time; the horizon moves with it.
func (c *fakeClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.horizon = c.horizon.Add(d)
}

func TestDaemonKeepsReportingAfterClockJumpsBack(t *testing.T) {
	// The clock runs 30 days ahead, then is corrected: deadlines computed
	// from the wrong time must not put reports and watching to sleep for
	// 30 days.
	const back = 30 * 24 * time.Hour
	r := newRig(t, rigOptions{horizon: 4 * time.Hour, interval: time.Hour})
	jumpAt := 30 * time.Minute
	r.clock.at(jumpAt, func() { r.clock.jump(-back) })
	changeAt := 2 * time.Hour
	r.clock.at(changeAt, func() {
		if err := os.WriteFile(filepath.Join(r.root, "etc/hosts"), []byte("6.6.6.6 pay.example\n"), 0o644); err != nil {
			t.Error(err)
		}
	})
	r.run(t)

	var after []time.Time
	for _, at := range r.server.reportTimes() {
		if at.Before(t0) {
			after = append(after, at)
		}
	}
	// 3.5h left after the jump at a 1h interval, plus the hosts change.
	if len(after) < 3 {
		t.Fatalf("got %d reports in the 3.5h after the clock went back, want at least 3: %v", len(after), r.server.reportTimes())
	}
	if g := gaps(after); len(g) > 0 {
		for _, d := range g {
			if d > time.Hour+time.Hour/10+DefaultWatchEvery {
				t.Errorf("reports %v apart after the clock went back, want at most the interval", d)
			}
		}
	}
}

func TestDaemonBackoffStaysWithinBounds(t *testing.T) {
	for _, cfg := range []DaemonConfig{
		{},
		{MinBackoff: time.Minute, MaxBackoff: time.Hour},
		{MinBackoff: time.Second, MaxBackoff: 24 * time.Hour},
	} {
		cfg.Rand = func() float64 { return 0 }
		cfg.setDefaults()
		d := &Daemon{cfg: cfg}
		prev := time.Duration(0)
		for attempt := 0; attempt < 70; attempt++ {
			got := d.backoff(attempt)
			if got < cfg.MinBackoff/2 || got > cfg.MaxBackoff {
				t.Errorf("min %v max %v: backoff(%d) = %v, want within [%v, %v]",
					cfg.MinBackoff, cfg.MaxBackoff, attempt, got, cfg.MinBackoff/2, cfg.MaxBackoff)
			}
			if got < prev {
				t.Errorf("min %v max %v: backoff(%d) = %v shrank from %v", cfg.MinBackoff, cfg.MaxBackoff, attempt, got, prev)
			}
			prev = got
		}
	}
}

func TestDaemonQueuesNoPartialReportAtShutdown(t *testing.T) {
	// SIGTERM arrives while posture is being collected: the collectors
	// give up, and what they return is not the device's posture.
	r := newRig(t, rigOptions{horizon: time.Hour, interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.daemon.enqueue(ctx, r.clock.Now())
	if n := r.daemon.Queue().Len(); n != 0 {
		r, _, _ := r.daemon.Queue().Peek()
		t.Fatalf("a report collected while shutting down was queued (%d), facts unknown: %v", n, r.Facts.Unknown)
	}
}

func TestAgentConcurrentReportsEnrolOnce(t *testing.T) {
	// The checkout endpoint reports while the daemon sends its queue.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := newFakeClock(time.Hour, cancel)
	var reports sync.WaitGroup
	var mu sync.Mutex
	enrolled := 0
	srv := newFakeServer(t, clock, time.Hour)
	inner := srv.Server.Config.Handler
	srv.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/enroll" {
			mu.Lock()
			enrolled++
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	})
	a, err := New(Config{Server: srv.URL, StateDir: t.TempDir(), Root: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		reports.Add(1)
		go func() {
			defer reports.Done()
			if _, err := a.ReportOnce(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	reports.Wait()
	mu.Lock()
	defer mu.Unlock()
	if enrolled != 1 {
		t.Errorf("%d enrolments for one device key, want 1", enrolled)
	}
}

func TestDaemonWatchedFileChurnKeepsBackoff(t *testing.T) {
	// While the server is down, a watched file that some program rewrites
	// every minute queues a report each time; it must not turn each one
	// into an immediate retry that ignores the backoff.
	r := newRig(t, rigOptions{horizon: 2 * time.Hour, interval: 24 * time.Hour})
	r.server.setDown(true)
	for i := 1; i < 120; i++ {
		r.clock.at(time.Duration(i)*time.Minute, func() {
			if err := os.WriteFile(filepath.Join(r.root, "etc/hosts"), fmt.Appendf(nil, "127.0.0.1 localhost # %d\n", i), 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	r.run(t)
	// Backoff alone gives about ten tries in two hours.
	if n := len(r.server.attemptTimes()); n > 20 {
		t.Errorf("%d tries in a 2h outage, want at most 20: the backoff was ignored", n)
	}
	if r.daemon.Queue().Len() == 0 {
		t.Error("the reports of the changes were not queued")
	}
}

func TestDaemonKeepsReportsWhenChallengeIsGarbage(t *testing.T) {
	// For an hour the server hands out nonces the evidence schema refuses
	// (a broken deployment). That is the server's fault, not the reports':
	// they must wait in the queue, not be dropped as refused for good.
	r := newRig(t, rigOptions{horizon: 2 * time.Hour, interval: 20 * time.Minute})
	var mu sync.Mutex
	broken := true
	r.clock.at(time.Hour, func() { mu.Lock(); broken = false; mu.Unlock() })
	inner := r.server.Server.Config.Handler
	r.server.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		b := broken
		mu.Unlock()
		if b && req.URL.Path == "/v1/challenge" {
			io.WriteString(w, `{"nonce":"x"}`)
			return
		}
		inner.ServeHTTP(w, req)
	})
	r.run(t)
	if got := r.daemon.Queue().Dropped(); got != 0 {
		t.Errorf("dropped %d reports because of the server's nonces", got)
	}
	if len(r.sent) < 3 {
		t.Errorf("sent %d reports, want the 3 queued during the hour and more", len(r.sent))
	}
	if r.daemon.Queue().Len() != 0 {
		t.Errorf("%d reports left in the queue", r.daemon.Queue().Len())
	}
}
