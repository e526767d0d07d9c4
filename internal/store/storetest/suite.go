// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test calls Run with a function that opens a fresh, empty
// store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

type storeTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the suite. open must return a new empty store for each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []storeTest{
		{"EnrollIsIdempotent", testEnroll},
		{"UnknownDevice", testUnknownDevice},
		{"ReportConsumesNonce", testReportNonce},
		{"ConcurrentReplays", testConcurrentReplays},
		{"ReportForUnknownDevice", testReportUnknownDevice},
		{"SessionReport", testSessionReport},
		{"PurgeNonces", testPurge},
		{"SigningKeys", testSigningKeys},
		{"Secret", testSecret},
	}
	tests = append(tests, relyingPartyTests...)  // relyingparty.go
	tests = append(tests, decisionBatchTests...) // decisions.go
	tests = append(tests, intelTests...)         // intel.go
	tests = append(tests, partnerTests...)       // partner.go
	tests = append(tests, surveillanceTests...)  // surveillance.go
	tests = append(tests, tpmTests...)           // tpm.go
	tests = append(tests, edgeTests...)          // edge.go
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// Race makes n calls of fn at once and checks that exactly one succeeds
// and every other fails with lost: what single use means, whichever
// goroutine (or node) wins. It returns the winner's i, -1 when none won.
func Race(t *testing.T, n int, lost error, fn func(i int) error) (winner int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	winner = -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("calls %d and %d both succeeded, want exactly 1", winner, i)
		case !errors.Is(err, lost):
			t.Errorf("call %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Errorf("none of %d calls succeeded, want exactly 1", n)
	}
	return winner
}

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

func device(id string) store.Device {
	return store.Device{ID: id, PublicKey: []byte(`{"kty":"OKP"}`), JKT: "jkt-" + id, EnrolledAt: t0}
}

func report(id, dev, nonce string) store.Report {
	return store.Report{ID: id, DeviceID: dev, Nonce: nonce, NonceExp: t0.Add(5 * time.Minute), Received: t0,
		Platform: "linux", Tier: "warning", Score: 85, Findings: []string{"firewall_off"}, PolicyID: "p@1",
		CertID: "c-" + id, CertExp: t0.Add(time.Hour), SWVersion: "1.0"}
}

func mustEnroll(t *testing.T, s store.Store, id string) {
	t.Helper()
	if _, _, err := s.EnrollDevice(context.Background(), device(id)); err != nil {
		t.Fatal(err)
	}
}

func testEnroll(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := device("dev1")
	d.Hardware = true
	got, created, err := s.EnrollDevice(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first enrolment: created = false")
	}
	if got.ID != d.ID || got.JKT != d.JKT || string(got.PublicKey) != string(d.PublicKey) || !got.Hardware || !got.EnrolledAt.Equal(t0) {
		t.Errorf("stored device = %+v, want %+v", got, d)
	}
	again := d
	again.EnrolledAt = t0.Add(time.Hour)
	got, created, err = s.EnrollDevice(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second enrolment: created = true")
	}
	if !got.EnrolledAt.Equal(t0) {
		t.Errorf("re-enrolment changed the enrolment time to %v", got.EnrolledAt)
	}
	other := device("dev2")
	other.JKT = d.JKT
	if _, _, err := s.EnrollDevice(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("enrolling a second id with the same key: err = %v, want ErrConflict", err)
	}
	fetched, err := s.Device(ctx, "dev1")
	if err != nil || fetched.JKT != d.JKT {
		t.Errorf("Device = %+v, %v", fetched, err)
	}
}

func testUnknownDevice(t *testing.T, s store.Store) {
	if _, err := s.Device(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	if _, err := s.LatestReport(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestReport err = %v, want ErrNotFound", err)
	}
}

func testReportNonce(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	r := report("r1", "dev1", "nonce-0001")
	if err := s.RecordReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestReport(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.Tier != r.Tier || got.Score != r.Score || len(got.Findings) != 1 || got.Findings[0] != "firewall_off" ||
		!got.CertExp.Equal(r.CertExp) || got.CertID != r.CertID || got.PolicyID != r.PolicyID {
		t.Errorf("LatestReport = %+v, want %+v", got, r)
	}
	replay := report("r2", "dev1", "nonce-0001")
	if err := s.RecordReport(ctx, replay); !errors.Is(err, store.ErrNonceReplayed) {
		t.Fatalf("replay: err = %v, want ErrNonceReplayed", err)
	}
	if got, _ := s.LatestReport(ctx, "dev1"); got.ID != "r1" {
		t.Errorf("replayed report was stored: latest = %s", got.ID)
	}
	later := report("r3", "dev1", "nonce-0002")
	later.Received = t0.Add(time.Minute)
	if err := s.RecordReport(ctx, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LatestReport(ctx, "dev1"); got.ID != "r3" {
		t.Errorf("latest = %s, want r3", got.ID)
	}
}

// testConcurrentReplays submits the same nonce from many goroutines at once:
// exactly one may win, whatever the backend's batching does.
func testConcurrentReplays(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	const n = 32
	Race(t, n, store.ErrNonceReplayed, func(i int) error {
		return s.RecordReport(ctx, report(fmt.Sprintf("r%d", i), "dev1", "same-nonce"))
	})
	// Distinct nonces in parallel all succeed.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RecordReport(ctx, report(fmt.Sprintf("d%d", i), "dev1", fmt.Sprintf("nonce-%04d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("report %d: %v", i, err)
		}
	}
}

func testReportUnknownDevice(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.RecordReport(ctx, report("r1", "ghost", "nonce-ghost")); err == nil {
		t.Fatal("report for an unknown device was accepted")
	}
	// Its nonce was not consumed, and a good report alongside is unaffected.
	mustEnroll(t, s, "dev1")
	if err := s.RecordReport(ctx, report("r2", "dev1", "nonce-ghost")); err != nil {
		t.Errorf("nonce of a failed report stayed consumed: %v", err)
	}
}

func testPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	if err := s.RecordReport(ctx, report("r1", "dev1", "nonce-0001")); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeNonces(ctx, t0)
	if err != nil || n != 0 {
		t.Fatalf("purge before expiry = %d, %v; want 0", n, err)
	}
	n, err = s.PurgeNonces(ctx, t0.Add(6*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("purge after expiry = %d, %v; want 1", n, err)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	k1 := store.SigningKey{KID: "k1", Algorithm: "EdDSA", Private: []byte{1, 2, 3}, Created: t0}
	k2 := store.SigningKey{KID: "k2", Algorithm: "EdDSA", Private: []byte{4, 5, 6}, Created: t0.Add(time.Hour)}
	for _, k := range []store.SigningKey{k2, k1} {
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSigningKey(ctx, k1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate kid: err = %v, want ErrConflict", err)
	}
	if err := s.RetireSigningKey(ctx, "k1", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RetireSigningKey(ctx, "k1", t0.Add(3*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retiring twice: err = %v, want ErrNotFound", err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KID != "k1" || keys[1].KID != "k2" {
		t.Fatalf("keys = %+v, want k1, k2 oldest first", keys)
	}
	if !keys[0].Retired.Equal(t0.Add(2*time.Hour)) || !keys[1].Retired.IsZero() || string(keys[1].Private) != "\x04\x05\x06" {
		t.Errorf("keys = %+v", keys)
	}
	if err := s.DeleteSigningKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.SigningKeys(ctx); len(keys) != 1 {
		t.Errorf("after delete: %d keys", len(keys))
	}
}

func testSecret(t *testing.T, s store.Store) {
	ctx := context.Background()
	var calls int
	var mu sync.Mutex
	create := func() ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return []byte(fmt.Sprintf("secret-%d", calls)), nil
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Secret(ctx, "nonce-key", create)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if string(v) != string(got[0]) {
			t.Fatalf("secrets differ: %q vs %q", v, got[0])
		}
	}
	if _, err := s.Secret(ctx, "other", func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Error("create error was swallowed")
	}
}

func testSessionReport(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	if _, err := s.SessionReport(ctx, "sess-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no report yet: err = %v, want ErrNotFound", err)
	}
	r := report("r1", "dev1", "nonce-0001")
	r.Session = "sess-1"
	if err := s.RecordReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionReport(ctx, "sess-1")
	if err != nil || got.ID != "r1" || got.Session != "sess-1" || got.Tier != r.Tier {
		t.Fatalf("SessionReport = %+v, %v", got, err)
	}
	// One report per session: a second one is refused and its nonce freed.
	again := report("r2", "dev1", "nonce-0002")
	again.Session = "sess-1"
	if err := s.RecordReport(ctx, again); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second report for one session: err = %v, want ErrConflict", err)
	}
	plain := report("r3", "dev1", "nonce-0002")
	if err := s.RecordReport(ctx, plain); err != nil {
		t.Errorf("nonce of the refused session report stayed consumed: %v", err)
	}
	if got, _ := s.LatestReport(ctx, "dev1"); got.Session != "" || got.ID != "r3" {
		t.Errorf("latest = %+v, want r3 without a session", got)
	}
}
