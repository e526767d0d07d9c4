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

// TestCrossNodeCore races the nodes on what the conformance suite only
// races within one store: enrolling one device, replaying one nonce,
// creating one secret. The SQLite backend can serialise these in process;
// here only the database can.
func TestCrossNodeCore(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	const n = 16
	t0 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)

	t.Run("Enroll", func(t *testing.T) {
		var wg sync.WaitGroup
		created := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := store.Device{ID: "dev1", PublicKey: []byte(`{}`), JKT: "jkt-dev1", EnrolledAt: t0.Add(time.Duration(i) * time.Second)}
				var got store.Device
				got, created[i], errs[i] = nodes[i%2].EnrollDevice(ctx, d)
				if errs[i] == nil && got.ID != "dev1" {
					errs[i] = fmt.Errorf("stored device %+v", got)
				}
			}()
		}
		wg.Wait()
		wins := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("enrolment %d: %v", i, errs[i])
			}
			if created[i] {
				wins++
			}
		}
		if wins != 1 {
			t.Errorf("%d enrolments created the device, want 1", wins)
		}
	})

	t.Run("Replay", func(t *testing.T) {
		storetest.Race(t, n, store.ErrNonceReplayed, func(i int) error {
			return nodes[i%2].RecordReport(ctx, store.Report{ID: fmt.Sprintf("r%d", i), DeviceID: "dev1", Nonce: "same-nonce",
				NonceExp: t0.Add(5 * time.Minute), Received: t0, Tier: "affirming", Session: fmt.Sprintf("s%d", i)})
		})
	})

	t.Run("Secret", func(t *testing.T) {
		var wg sync.WaitGroup
		got := make([][]byte, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := nodes[i%2].Secret(ctx, "key", func() ([]byte, error) { return fmt.Appendf(nil, "secret-%d", i), nil })
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			}()
		}
		wg.Wait()
		for _, v := range got {
			if string(v) != string(got[0]) {
				t.Fatalf("nodes got different secrets: %q vs %q", v, got[0])
			}
		}
	})
}

// TestLatestReportSameMillisecond: reports received in the same
// millisecond come back in the order they were stored, as with SQLite's
// rowid.
func TestLatestReportSameMillisecond(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	defer db.Close()
	t0 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	if _, _, err := db.EnrollDevice(ctx, store.Device{ID: "dev1", PublicKey: []byte(`{}`), JKT: "j1", EnrolledAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "a", "c"} {
		r := store.Report{ID: id, DeviceID: "dev1", Nonce: "n-" + id, NonceExp: t0.Add(time.Minute), Received: t0, Tier: "affirming"}
		if err := db.RecordReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.LatestReport(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c" {
		t.Errorf("latest = %s, want c", got.ID)
	}
	if got.Findings == nil {
		t.Error("findings of a report without findings = nil, want []")
	}
}
