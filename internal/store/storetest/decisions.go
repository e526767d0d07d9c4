package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// Backends write a batch of decisions in multi-row statements of several
// sizes. These tests read every row back so that a chunk lost, written
// twice, shifted by a column or out of order fails, and check that a
// batch with a duplicate stores nothing. Each case works under its own id
// prefix, relying parties, devices and accounts, so that cases sharing a
// store do not see each other.
var decisionBatchTests = []storeTest{
	{"DecisionBatchSizes", testDecisionBatchSizes},
	{"DecisionBatchConflictStoresNothing", testDecisionBatchConflict},
	{"DecisionBatchPairOnce", testDecisionBatchPairOnce},
}

// numberedDecision returns decision i of a batch, every field of it
// different from those of its neighbours. Some share a created_at, so
// DecisionsSince orders them by insertion alone.
func numberedDecision(prefix string, i int) store.Decision {
	d := store.Decision{
		ID:           fmt.Sprintf("%s-%03d", prefix, i),
		RPID:         fmt.Sprintf("%s-rp%d", prefix, i%2),
		Created:      t0.Add(time.Duration(i/3) * time.Millisecond),
		Event:        []string{"login", "payment", "register"}[i%3],
		Account:      fmt.Sprintf("%s-acct-%d", prefix, i),
		DeviceID:     fmt.Sprintf("%s-dev-%d", prefix, i),
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
		// Signals come back as they were given, spaces, key order and
		// repeated keys included (a JSON-normalising column would fail).
		d.Signals = []byte(` { "z" : 1 ,"a":[ 2,1 ], "z":3 } `)
	}
	return d
}

// storedDecision is d as the store gives it back.
func storedDecision(d store.Decision) store.Decision {
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

// decisionsWithPrefix returns, in DecisionsSince order, the decisions
// whose id starts with prefix.
func decisionsWithPrefix(t *testing.T, s store.Store, prefix string) []store.Decision {
	t.Helper()
	var all []store.Decision
	if err := s.DecisionsSince(context.Background(), time.Time{}, func(d store.Decision) error {
		if strings.HasPrefix(d.ID, prefix) {
			all = append(all, d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

func testDecisionBatchSizes(t *testing.T, s store.Store) {
	for _, n := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 512} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			ctx := context.Background()
			prefix := fmt.Sprintf("size%d", n)
			ds := make([]store.Decision, n)
			for i := range ds {
				ds[i] = numberedDecision(prefix, i)
			}
			if err := s.RecordDecisions(ctx, ds); err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				got, err := s.Decision(ctx, d.RPID, d.ID)
				if err != nil {
					t.Fatalf("Decision(%s): %v", d.ID, err)
				}
				if want := storedDecision(d); !sameDecision(got, want) {
					t.Errorf("Decision(%s) = %+v, want %+v", d.ID, got, want)
				}
			}
			all := decisionsWithPrefix(t, s, prefix+"-")
			if got, want := len(all), n; got != want {
				t.Fatalf("DecisionsSince gave %d decisions, want %d", got, want)
			}
			for i, got := range all {
				if want := storedDecision(ds[i]); !sameDecision(got, want) {
					t.Errorf("DecisionsSince[%d] = %+v, want %+v", i, got, want)
				}
			}
			// A pair is written only when the caller did not know it.
			for _, d := range ds {
				if d.DeviceID == "" {
					continue
				}
				seen, count, err := s.DeviceAccounts(ctx, d.RPID, d.DeviceID, d.Account)
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

func testDecisionBatchConflict(t *testing.T, s store.Store) {
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
			prefix := "conflict-" + strings.ReplaceAll(tt.name, " ", "-")
			// The stored decision's pair is known, so a pair from the
			// failed batch would show.
			old := numberedDecision(prefix+"-old", 1)
			if err := s.RecordDecisions(ctx, []store.Decision{old}); err != nil {
				t.Fatal(err)
			}
			ds := make([]store.Decision, tt.n)
			for i := range ds {
				ds[i] = numberedDecision(prefix+"-new", i)
			}
			if tt.self > 0 {
				ds[tt.self].ID = ds[tt.dup].ID
			} else {
				ds[tt.dup].ID = old.ID
			}
			if err := s.RecordDecisions(ctx, ds); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("RecordDecisions = %v, want ErrConflict", err)
			}
			all := decisionsWithPrefix(t, s, prefix+"-")
			if len(all) != 1 || !sameDecision(all[0], storedDecision(old)) {
				t.Errorf("after the failed batch the store holds %+v, want only %+v", all, storedDecision(old))
			}
			for _, d := range ds {
				if seen, n, err := s.DeviceAccounts(ctx, d.RPID, d.DeviceID, d.Account); err != nil || seen || n != 0 {
					t.Errorf("pair of %s from the failed batch: %v, %d, %v", d.ID, seen, n, err)
				}
			}
			// The caller then records each decision alone: only the
			// duplicate fails.
			conflicts := 0
			for _, d := range ds {
				err := s.RecordDecisions(ctx, []store.Decision{d})
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
			if got, want := len(decisionsWithPrefix(t, s, prefix+"-")), 1+tt.n-1; got != want {
				t.Errorf("after recording alone the store holds %d decisions, want %d", got, want)
			}
		})
	}
}

// testDecisionBatchPairOnce: a (device, account) pair that several
// decisions of one batch bring is recorded once.
func testDecisionBatchPairOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ds []store.Decision
	for i := range 3 {
		d := numberedDecision("pair", 0)
		d.ID = fmt.Sprintf("pair-d%d", i)
		d.Created = t0.Add(time.Duration(2-i) * time.Minute)
		ds = append(ds, d)
	}
	if err := s.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if seen, n, err := s.DeviceAccounts(ctx, ds[0].RPID, ds[0].DeviceID, ds[0].Account); err != nil || !seen || n != 1 {
		t.Errorf("DeviceAccounts = %v, %d, %v; want true, 1", seen, n, err)
	}
	if list, err := s.DeviceAccountList(ctx, ds[0].RPID, ds[0].DeviceID, -1); err != nil || len(list) != 1 {
		t.Errorf("DeviceAccountList with no limit = %v, %v", list, err)
	}
}
