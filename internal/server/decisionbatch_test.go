package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// batchStore records how decisions reach the store; a batch holding the
// id "bad" fails.
type batchStore struct {
	store.Store
	mu      sync.Mutex
	batches [][]string
}

func (s *batchStore) RecordDecisions(_ context.Context, ds []store.Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, len(ds))
	for i, d := range ds {
		if d.ID == "bad" {
			return errors.New("bad decision")
		}
		ids[i] = d.ID
	}
	s.batches = append(s.batches, ids)
	return nil
}

func TestDecisionBatcher(t *testing.T) {
	st := &batchStore{}
	b := newDecisionBatcher(st)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Many at once: every one is stored once, in fewer transactions.
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		b.begin()
		wg.Go(func() {
			id := "d" + string(rune('A'+i%26)) + string(rune('a'+i/26))
			if i == 17 {
				id = "bad"
			}
			errs[i] = b.record(ctx, store.Decision{ID: id})
		})
	}
	wg.Wait()
	stored := 0
	for _, ids := range st.batches {
		stored += len(ids)
	}
	for i, err := range errs {
		if (err != nil) != (i == 17) {
			t.Errorf("decision %d: err = %v", i, err)
		}
	}
	if stored != n-1 {
		t.Errorf("%d decisions stored, want %d (all but the bad one)", stored, n-1)
	}
	// However the decisions fell into batches, the bad one costs about
	// 2·log2(n) extra transactions, not one per neighbour: if all 200
	// were in one batch, storing the others one by one would take 199.
	if len(st.batches) > n/4 {
		t.Errorf("%d transactions for %d decisions: no batching, or the bad one cost its neighbours a transaction each", len(st.batches), n)
	}

	// A decision begun and abandoned does not hold the others back, and
	// a lone decision is committed.
	b.begin()
	b.begin()
	done := make(chan error, 1)
	go func() { done <- b.record(ctx, store.Decision{ID: "lone"}) }()
	b.abandon()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deciding != 0 || len(b.pending) != 0 {
		t.Errorf("after all: deciding %d, pending %d; want 0, 0", b.deciding, len(b.pending))
	}
}

// TestDecisionBatchBisect: a batch holding one bad decision stores the
// others in a transaction per halving, and fails only the bad one.
func TestDecisionBatchBisect(t *testing.T) {
	st := &batchStore{}
	b := newDecisionBatcher(st)
	const n, bad = 200, 117
	batch := make([]pendingDecision, n)
	for i := range batch {
		id := fmt.Sprintf("d%d", i)
		if i == bad {
			id = "bad"
		}
		batch[i] = pendingDecision{store.Decision{ID: id}, make(chan error, 1)}
	}
	b.commit(batch)
	for i, p := range batch {
		if err := <-p.err; (err != nil) != (i == bad) {
			t.Errorf("decision %d: err = %v", i, err)
		}
	}
	stored := 0
	for _, ids := range st.batches {
		stored += len(ids)
	}
	if stored != n-1 || len(st.batches) > 8 { // 8 = ⌈log2 200⌉ halvings
		t.Errorf("%d decisions stored in %d transactions, want %d in at most 8", stored, len(st.batches), n-1)
	}
}

// TestDecisionBatcherWait checks the committer's rule.
func TestDecisionBatcherWait(t *testing.T) {
	for _, tt := range []struct {
		pending, deciding int
		waited, want      time.Duration
	}{
		{pending: 1, waited: 0, want: decisionMinWait},
		{pending: 1, waited: decisionMinWait, want: 0},
		{pending: 1, deciding: 3, waited: decisionMinWait, want: decisionWindow - decisionMinWait},
		{pending: 1, deciding: 3, waited: decisionWindow, want: 0},
		{pending: decisionBatchTarget, deciding: 3, waited: 0, want: 0},
	} {
		b := &decisionBatcher{pending: make([]pendingDecision, tt.pending), deciding: tt.deciding}
		if got := b.waitLocked(tt.waited); got != tt.want {
			t.Errorf("pending %d, deciding %d, waited %v: wait %v, want %v", tt.pending, tt.deciding, tt.waited, got, tt.want)
		}
	}
}
