package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var relyingPartyTests = []storeTest{
	{"RelyingPartyCreate", testRPCreate},
	{"APIKeyRotateRevoke", testAPIKeyRotateRevoke},
	{"DecisionsRecordFetchFeedback", testDecisions},
	{"DeviceAccounts", testDeviceAccounts},
	{"ProofsSingleUse", testProofs},
	{"ConcurrentProofReplays", testConcurrentProofs},
}

func apiKey(id, rp string) store.APIKey {
	return store.APIKey{ID: id, RPID: rp, Hash: []byte("hash-" + id), Scopes: []string{store.ScopeDecisions},
		Created: t0, Expires: t0.Add(365 * 24 * time.Hour)}
}

func mustCreateRP(t *testing.T, s store.Store, id, name, keyID string) {
	t.Helper()
	if err := s.CreateRelyingParty(context.Background(), store.RelyingParty{ID: id, Name: name, Created: t0}, apiKey(keyID, id)); err != nil {
		t.Fatal(err)
	}
}

func testRPCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRP(t, s, "rp1", "shop", "k1")
	if err := s.CreateRelyingParty(ctx, store.RelyingParty{ID: "rp2", Name: "shop", Created: t0}, apiKey("k2", "rp2")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: err = %v, want ErrConflict", err)
	}
	// The failed create left no key behind.
	if _, err := s.APIKey(ctx, "k2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("key of a refused relying party: err = %v, want ErrNotFound", err)
	}
	for _, q := range []string{"rp1", "shop"} {
		rp, err := s.RelyingParty(ctx, q)
		if err != nil || rp.ID != "rp1" || rp.Name != "shop" || !rp.Created.Equal(t0) {
			t.Errorf("RelyingParty(%q) = %+v, %v", q, rp, err)
		}
	}
	if _, err := s.RelyingParty(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown relying party: err = %v", err)
	}
	mustCreateRP(t, s, "rp0", "bank", "k0")
	rps, err := s.RelyingParties(ctx)
	if err != nil || len(rps) != 2 || rps[0].Name != "bank" || rps[1].Name != "shop" {
		t.Errorf("RelyingParties = %+v, %v", rps, err)
	}
	k, err := s.APIKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	want := apiKey("k1", "rp1")
	if k.RPID != want.RPID || string(k.Hash) != string(want.Hash) || !slices.Equal(k.Scopes, want.Scopes) ||
		!k.Created.Equal(want.Created) || !k.Expires.Equal(want.Expires) || !k.Revoked.IsZero() {
		t.Errorf("APIKey = %+v, want %+v", k, want)
	}
	if err := s.AddAPIKey(ctx, apiKey("k9", "ghost"), time.Time{}); err == nil {
		t.Error("key for an unknown relying party was stored")
	}
}

func testAPIKeyRotateRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRP(t, s, "rp1", "shop", "k1")
	mustCreateRP(t, s, "rp2", "other", "o1")
	grace := t0.Add(24 * time.Hour)
	k2 := apiKey("k2", "rp1")
	k2.Created = t0.Add(time.Minute)
	if err := s.AddAPIKey(ctx, k2, grace); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAPIKey(ctx, k2, time.Time{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate key id: err = %v, want ErrConflict", err)
	}
	keys, err := s.APIKeys(ctx, "rp1")
	if err != nil || len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("APIKeys = %+v, %v", keys, err)
	}
	if !keys[0].Expires.Equal(grace) {
		t.Errorf("rotated-out key expires %v, want the grace end %v", keys[0].Expires, grace)
	}
	if !keys[1].Expires.Equal(k2.Expires) {
		t.Errorf("new key expires %v, want %v", keys[1].Expires, k2.Expires)
	}
	if o, _ := s.APIKey(ctx, "o1"); !o.Expires.Equal(apiKey("o1", "rp2").Expires) {
		t.Errorf("rotation touched another relying party's key: %+v", o)
	}
	if all, _ := s.APIKeys(ctx, ""); len(all) != 3 {
		t.Errorf("all keys: %d, want 3", len(all))
	}
	if err := s.RevokeAPIKey(ctx, "k2", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, "k2", t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking twice: err = %v, want ErrNotFound", err)
	}
	if k, _ := s.APIKey(ctx, "k2"); !k.Revoked.Equal(t0.Add(time.Hour)) || k.ValidAt(t0.Add(2*time.Hour)) {
		t.Errorf("revoked key = %+v", k)
	}
	n, err := s.RevokeRelyingPartyKeys(ctx, "rp1", t0.Add(3*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("RevokeRelyingPartyKeys = %d, %v; want 1", n, err)
	}
	if o, _ := s.APIKey(ctx, "o1"); !o.ValidAt(t0) {
		t.Error("revoking one relying party revoked another's key")
	}
}

func decision(id, rp string, at time.Time) store.Decision {
	return store.Decision{ID: id, RPID: rp, Created: at, Event: "payment", Account: "acct-h", DeviceID: "dev1",
		Amount: "12.50", AmountValue: 12.5, Currency: "CNY", Channel: "web", Payee: "payee-h", MerchantHost: "shop.example",
		IPNet: "net-h", Outcome: "warn", Reasons: []string{"device_at_risk"}, Signals: []byte(`{"a":1}`)}
}

func testDecisions(t *testing.T, s store.Store) {
	ctx := context.Background()
	var batch []store.Decision
	for i := range 5 {
		batch = append(batch, decision(fmt.Sprintf("d%d", i), "rp1", t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := s.RecordDecisions(ctx, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.Decision(ctx, "rp1", "d2")
	if err != nil {
		t.Fatal(err)
	}
	want := batch[2]
	if got.ID != want.ID || !got.Created.Equal(want.Created) || got.Account != want.Account || got.Amount != want.Amount ||
		got.AmountValue != want.AmountValue || got.Outcome != want.Outcome || !slices.Equal(got.Reasons, want.Reasons) ||
		string(got.Signals) != string(want.Signals) || got.IPNet != want.IPNet || got.MerchantHost != want.MerchantHost || got.Feedback != "" {
		t.Errorf("Decision = %+v, want %+v", got, want)
	}
	if _, err := s.Decision(ctx, "rp2", "d2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another relying party's decision: err = %v, want ErrNotFound", err)
	}
	// A batch with a duplicate id stores nothing.
	dup := []store.Decision{decision("d9", "rp1", t0), decision("d1", "rp1", t0)}
	if err := s.RecordDecisions(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate id: err = %v, want ErrConflict", err)
	}
	if _, err := s.Decision(ctx, "rp1", "d9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("part of a failed batch was stored: %v", err)
	}
	if err := s.RecordFeedback(ctx, "rp1", "d2", "fraud", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFeedback(ctx, "rp2", "d3", "fraud", t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("feedback from another relying party: err = %v, want ErrNotFound", err)
	}
	if got, _ := s.Decision(ctx, "rp1", "d2"); got.Feedback != "fraud" || !got.FeedbackAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("feedback not recorded: %+v", got)
	}
	var ids []string
	if err := s.DecisionsSince(ctx, t0.Add(2*time.Minute), func(d store.Decision) error {
		ids = append(ids, d.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"d2", "d3", "d4"}; !slices.Equal(ids, want) {
		t.Errorf("DecisionsSince = %v, want %v", ids, want)
	}
	stop := errors.New("stop")
	if err := s.DecisionsSince(ctx, t0, func(store.Decision) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error: got %v", err)
	}
}

func testDeviceAccounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if seen, n, err := s.DeviceAccounts(ctx, "rp1", "dev1", "a1"); err != nil || seen || n != 0 {
		t.Errorf("empty store: %v, %d, %v", seen, n, err)
	}
	var ds []store.Decision
	for i, acct := range []string{"a1", "a2", "a1", "a3"} {
		d := decision(fmt.Sprintf("d%d", i), "rp1", t0.Add(time.Duration(i)*time.Minute))
		d.Account = acct
		ds = append(ds, d)
	}
	noDevice := decision("nd", "rp1", t0)
	noDevice.DeviceID, noDevice.Account = "", "a9"
	other := decision("o1", "rp2", t0)
	other.Account = "a4"
	ds = append(ds, noDevice, other)
	if err := s.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rp, dev, acct string
		seen          bool
		n             int
	}{
		{"rp1", "dev1", "a1", true, 3},
		{"rp1", "dev1", "a4", false, 3},
		{"rp2", "dev1", "a4", true, 1},
		{"rp1", "dev2", "a1", false, 0},
	} {
		seen, n, err := s.DeviceAccounts(ctx, tt.rp, tt.dev, tt.acct)
		if err != nil || seen != tt.seen || n != tt.n {
			t.Errorf("DeviceAccounts(%s, %s, %s) = %v, %d, %v; want %v, %d", tt.rp, tt.dev, tt.acct, seen, n, err, tt.seen, tt.n)
		}
	}
	list, err := s.DeviceAccountList(ctx, "rp1", "dev1", 10)
	slices.Sort(list)
	if err != nil || !slices.Equal(list, []string{"a1", "a2", "a3"}) {
		t.Errorf("DeviceAccountList = %v, %v", list, err)
	}
	if list, _ := s.DeviceAccountList(ctx, "rp1", "dev1", 2); len(list) != 2 {
		t.Errorf("DeviceAccountList limit 2 gave %d", len(list))
	}
	if list, _ := s.DeviceAccountList(ctx, "rp1", "nodev", 2); len(list) != 0 {
		t.Errorf("unknown device: %v", list)
	}
	// A decision for a pair the caller knows is stored like any other and
	// leaves the pair as it was.
	again := decision("d-again", "rp1", t0.Add(time.Hour))
	again.Account, again.PairKnown = "a1", true
	if err := s.RecordDecisions(ctx, []store.Decision{again}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decision(ctx, "rp1", "d-again"); err != nil {
		t.Errorf("decision with PairKnown not stored: %v", err)
	}
	if seen, n, err := s.DeviceAccounts(ctx, "rp1", "dev1", "a1"); err != nil || !seen || n != 3 {
		t.Errorf("after a known pair: %v, %d, %v; want true, 3", seen, n, err)
	}
}

func testProofs(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := [32]byte{1}, [32]byte{2}
	if err := s.UseProof(ctx, a, t0.Add(6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseProof(ctx, a, t0.Add(6*time.Minute)); !errors.Is(err, store.ErrProofReplayed) {
		t.Fatalf("second use: err = %v, want ErrProofReplayed", err)
	}
	if err := s.UseProof(ctx, b, t0.Add(10*time.Minute)); err != nil {
		t.Fatalf("another proof: %v", err)
	}
	// Purging forgets only what expired before the cut.
	if n, err := s.PurgeProofs(ctx, t0.Add(8*time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	if err := s.UseProof(ctx, b, t0.Add(10*time.Minute)); !errors.Is(err, store.ErrProofReplayed) {
		t.Errorf("unexpired proof forgotten by the purge: err = %v", err)
	}
	if err := s.UseProof(ctx, a, t0.Add(6*time.Minute)); err != nil {
		t.Errorf("a purged proof is no longer known: %v", err)
	}
}

func testConcurrentProofs(t *testing.T, s store.Store) { RaceProofs(t, s) }

// RaceProofs shows one proof to the given stores from 32 goroutines at
// once, in turn: exactly one use may succeed. A backend shared by several
// nodes runs it with a store per node.
func RaceProofs(t *testing.T, nodes ...store.Store) {
	ctx := context.Background()
	Race(t, 32, store.ErrProofReplayed, func(i int) error {
		return nodes[i%len(nodes)].UseProof(ctx, [32]byte{7}, t0.Add(6*time.Minute))
	})
}
