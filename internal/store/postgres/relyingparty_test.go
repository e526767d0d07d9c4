package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/storetest"
)

// The relying-party tests that only a shared database needs; the
// single-store ones are in the conformance suite (storetest).

var rpT0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// TestAPIKeyRotationAcrossNodes: two nodes rotating one relying party's
// key at once leave one key valid past the grace period, as if one
// rotation had followed the other. Without the lock on the relying party
// each rotation would miss the other's new key.
func TestAPIKeyRotationAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	grace := rpT0.Add(time.Hour)
	for round := range 20 {
		rp := fmt.Sprintf("rp%d", round)
		key := func(id string) store.APIKey {
			return store.APIKey{ID: id, RPID: rp, Hash: []byte(id), Scopes: []string{store.ScopeDecisions},
				Created: rpT0, Expires: rpT0.Add(365 * 24 * time.Hour)}
		}
		if err := nodes[0].CreateRelyingParty(ctx, store.RelyingParty{ID: rp, Name: rp, Created: rpT0}, key(rp+"-old")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i, db := range nodes {
			wg.Go(func() {
				if err := db.AddAPIKey(ctx, key(fmt.Sprintf("%s-new%d", rp, i)), grace); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		keys, err := nodes[0].APIKeys(ctx, rp)
		if err != nil {
			t.Fatal(err)
		}
		var valid []string
		for _, k := range keys {
			if k.ValidAt(grace) {
				valid = append(valid, k.ID)
			}
		}
		if len(valid) != 1 {
			t.Errorf("round %d: keys valid after the grace period: %v, want one", round, valid)
		}
	}
}

// TestRecordDecisionsPairsAcrossNodes: batches on two nodes that bring the
// same new (device, account) pairs in opposite orders neither deadlock nor
// record a pair twice.
func TestRecordDecisionsPairsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	const pairs = 24
	for round := range 50 {
		var wg sync.WaitGroup
		for node, db := range nodes {
			ds := make([]store.Decision, pairs)
			for i := range ds {
				p := i
				if node == 1 {
					p = pairs - 1 - i
				}
				ds[i] = store.Decision{ID: fmt.Sprintf("r%d-n%d-%d", round, node, i), RPID: "rp", Created: rpT0,
					DeviceID: fmt.Sprintf("dev-%d", round), Account: fmt.Sprintf("acct-%d", p), Outcome: "allow"}
			}
			wg.Go(func() {
				if err := db.RecordDecisions(ctx, ds); err != nil {
					t.Errorf("round %d, node %d: %v", round, node, err)
				}
			})
		}
		wg.Wait()
		if _, n, err := nodes[0].DeviceAccounts(ctx, "rp", fmt.Sprintf("dev-%d", round), "acct-0"); err != nil || n != pairs {
			t.Errorf("round %d: %d accounts recorded (%v), want %d", round, n, err, pairs)
		}
	}
}

// TestProofsAcrossNodes: a proof of possession shown to two nodes at once
// buys one decision.
func TestProofsAcrossNodes(t *testing.T) {
	nodes := openNodes(t, 2)
	storetest.RaceProofs(t, nodes[0], nodes[1])
}
