package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/postgres"
)

// RecordDecisions inserts a batch in multi-row statements of several
// sizes, sent together. These tests read every row back so that a chunk
// lost, written twice, shifted by a column or out of order fails. They
// are those of the SQLite backend (decisions_multirow_test.go).

func openClosed(t *testing.T) *postgres.DB {
	t.Helper()
	db := open(t)
	t.Cleanup(func() { db.Close() })
	return db
}

var multirowT0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// numberedDecision returns decision i of a batch, every field of it
// different from those of its neighbours. Some share a created_at, so
// DecisionsSince orders them by insertion alone.
func numberedDecision(prefix string, i int) store.Decision {
	d := store.Decision{
		ID:           fmt.Sprintf("%s-%03d", prefix, i),
		RPID:         fmt.Sprintf("rp%d", i%2),
		Created:      multirowT0.Add(time.Duration(i/3) * time.Millisecond),
		Event:        []string{"login", "payment", "register"}[i%3],
		Account:      fmt.Sprintf("acct-%d", i),
		DeviceID:     fmt.Sprintf("dev-%d", i),
		Amount:       fmt.Sprintf("%d.%02d", i, i%100),
		AmountValue:  float64(i) + float64(i%100)/100,
		Currency:     fmt.Sprintf("C%02d", i),
		Channel:      fmt.Sprintf("channel-%d", i),
		Payee:        fmt.Sprintf("payee-%d", i),
		MerchantHost: fmt.Sprintf("shop%d.example", i),
		IPNet:        fmt.Sprintf("net-%d", i),
		Outcome:      []string{"allow", "warn", "deny"}[i%3],
		Signals:      fmt.Appendf(nil, `{"i":%d}`, i),
		PairKnown:    i%3 == 1,
	}
	switch i % 4 {
	case 0:
		d.Reasons = nil
	case 1:
		d.Reasons = []string{}
	case 2:
		d.Reasons = []string{fmt.Sprintf("reason_%d", i)}
	case 3:
		d.Reasons = []string{"device_at_risk", `quote"back\slash`, "<html>&amp;", "line\u2028sep\ttab\x01", "nul\x00byte"}
	}
	if i%5 == 4 {
		d.DeviceID = ""
	}
	if i%7 == 6 {
		d.Signals = nil
	}
	if i%11 == 10 {
		// Not JSONB: the bytes come back as they were, spaces and key
		// order included.
		d.Signals = []byte(` { "z" : 1 ,"a":[ 2,1 ], "z":3 } `)
	}
	return d
}

// stored is d as the store gives it back.
func stored(d store.Decision) store.Decision {
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	if d.Signals == nil {
		d.Signals = []byte("{}")
	}
	d.PairKnown = false
	return d
}

// sameDecision reports whether got equals want, times compared as instants.
func sameDecision(got, want store.Decision) bool {
	if !got.Created.Equal(want.Created) || !got.FeedbackAt.Equal(want.FeedbackAt) {
		return false
	}
	got.Created, got.FeedbackAt = want.Created, want.FeedbackAt
	return reflect.DeepEqual(got, want)
}

func allDecisions(t *testing.T, db *postgres.DB) []store.Decision {
	t.Helper()
	var all []store.Decision
	if err := db.DecisionsSince(context.Background(), time.Time{}, func(d store.Decision) error {
		all = append(all, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

func TestRecordDecisionsBatchSizes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 512} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			ctx := context.Background()
			db := openClosed(t)
			ds := make([]store.Decision, n)
			for i := range ds {
				ds[i] = numberedDecision("dec", i)
			}
			if err := db.RecordDecisions(ctx, ds); err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				got, err := db.Decision(ctx, d.RPID, d.ID)
				if err != nil {
					t.Fatalf("Decision(%s): %v", d.ID, err)
				}
				if want := stored(d); !sameDecision(got, want) {
					t.Errorf("Decision(%s) = %+v, want %+v", d.ID, got, want)
				}
			}
			all := allDecisions(t, db)
			if got, want := len(all), n; got != want {
				t.Fatalf("DecisionsSince gave %d decisions, want %d", got, want)
			}
			for i, got := range all {
				if want := stored(ds[i]); !sameDecision(got, want) {
					t.Errorf("DecisionsSince[%d] = %+v, want %+v", i, got, want)
				}
			}
			for _, d := range ds {
				if d.DeviceID == "" {
					continue
				}
				seen, count, err := db.DeviceAccounts(ctx, d.RPID, d.DeviceID, d.Account)
				if err != nil {
					t.Fatal(err)
				}
				wantSeen, wantCount := !d.PairKnown, 0
				if wantSeen {
					wantCount = 1
				}
				if seen != wantSeen || count != wantCount {
					t.Errorf("DeviceAccounts(%s) = %v, %d; want %v, %d", d.ID, seen, count, wantSeen, wantCount)
				}
			}
		})
	}
}

func TestRecordDecisionsConflictStoresNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		dup  int // index of the decision given an id already stored
		self int // if > 0, index of a second decision with the id of dup, which is then new
	}{
		{name: "alone", n: 1, dup: 0},
		{name: "first of 40", n: 40, dup: 0},
		{name: "in the first statement", n: 40, dup: 17},
		{name: "in a later statement", n: 40, dup: 35},
		{name: "last of 40", n: 40, dup: 39},
		{name: "last of 100", n: 100, dup: 99},
		{name: "twice in one statement", n: 40, dup: 3, self: 20},
		{name: "twice in the batch, in two statements", n: 40, dup: 3, self: 37},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := openClosed(t)
			// The stored decision's pair is known, so a pair from the
			// failed batch would show.
			old := numberedDecision("old", 1)
			if err := db.RecordDecisions(ctx, []store.Decision{old}); err != nil {
				t.Fatal(err)
			}
			ds := make([]store.Decision, tt.n)
			for i := range ds {
				ds[i] = numberedDecision("new", i)
			}
			if tt.self > 0 {
				ds[tt.self].ID = ds[tt.dup].ID
			} else {
				ds[tt.dup].ID = old.ID
			}
			if err := db.RecordDecisions(ctx, ds); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("RecordDecisions = %v, want ErrConflict", err)
			}
			all := allDecisions(t, db)
			if len(all) != 1 || !sameDecision(all[0], stored(old)) {
				t.Errorf("after the failed batch the store holds %+v, want only %+v", all, stored(old))
			}
			for _, d := range ds {
				if seen, n, err := db.DeviceAccounts(ctx, d.RPID, d.DeviceID, d.Account); err != nil || seen || n != 0 {
					t.Errorf("pair of %s from the failed batch: %v, %d, %v", d.ID, seen, n, err)
				}
			}
			// The caller then records each decision alone: only the
			// duplicate fails.
			conflicts := 0
			for _, d := range ds {
				err := db.RecordDecisions(ctx, []store.Decision{d})
				switch {
				case errors.Is(err, store.ErrConflict):
					conflicts++
				case err != nil:
					t.Fatalf("RecordDecisions(%s) alone: %v", d.ID, err)
				}
			}
			if conflicts != 1 {
				t.Errorf("recorded alone, %d decisions conflicted, want 1", conflicts)
			}
			if got, want := len(allDecisions(t, db)), 1+tt.n-1; got != want {
				t.Errorf("after recording alone the store holds %d decisions, want %d", got, want)
			}
		})
	}
}

// TestRecordDecisionsPairFirstSeen: a pair that several decisions of one
// batch bring is recorded once, as first seen by the first of them.
func TestRecordDecisionsPairFirstSeen(t *testing.T) {
	ctx := context.Background()
	db := openClosed(t)
	var ds []store.Decision
	for i := range 3 {
		d := numberedDecision("d", 0)
		d.ID = fmt.Sprintf("d%d", i)
		d.Created = multirowT0.Add(time.Duration(2-i) * time.Minute)
		ds = append(ds, d)
	}
	if err := db.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if seen, n, err := db.DeviceAccounts(ctx, ds[0].RPID, ds[0].DeviceID, ds[0].Account); err != nil || !seen || n != 1 {
		t.Errorf("DeviceAccounts = %v, %d, %v; want true, 1", seen, n, err)
	}
	if list, err := db.DeviceAccountList(ctx, ds[0].RPID, ds[0].DeviceID, -1); err != nil || len(list) != 1 {
		t.Errorf("DeviceAccountList with no limit = %v, %v", list, err)
	}
}

// openNodes opens the same fresh schema n times, as n server nodes
// sharing one database would.
func openNodes(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	u := freshSchema(t)
	nodes := make([]*postgres.DB, n)
	for i := range nodes {
		db, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	return nodes
}

// TestAPIKeyRotationAcrossNodes: two nodes rotating one relying party's
// key at once leave one key valid past the grace period, as if one
// rotation had followed the other. Without the lock on the relying party
// each rotation would miss the other's new key.
func TestAPIKeyRotationAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	grace := multirowT0.Add(time.Hour)
	for round := range 20 {
		rp := fmt.Sprintf("rp%d", round)
		key := func(id string) store.APIKey {
			return store.APIKey{ID: id, RPID: rp, Hash: []byte(id), Scopes: []string{store.ScopeDecisions},
				Created: multirowT0, Expires: multirowT0.Add(365 * 24 * time.Hour)}
		}
		if err := nodes[0].CreateRelyingParty(ctx, store.RelyingParty{ID: rp, Name: rp, Created: multirowT0}, key(rp+"-old")); err != nil {
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
				ds[i] = store.Decision{ID: fmt.Sprintf("r%d-n%d-%d", round, node, i), RPID: "rp", Created: multirowT0,
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
