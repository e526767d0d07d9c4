package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// watched collects what a watcher delivers.
type watched struct {
	mu   sync.Mutex
	got  map[string]int // id → times delivered
	lost int
}

func (w *watched) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[id]
}

// waitFor waits until every id was delivered at least once.
func (w *watched) waitFor(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for w.count(id) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("decision %s never reached the other node", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func watchDecision(id string, at time.Time) store.Decision {
	return store.Decision{ID: id, RPID: "rp1", Created: at, Event: "payment", Account: "acct-" + id, DeviceID: "dev1",
		Amount: "12.5", AmountValue: 12.5, Currency: "CNY", Outcome: "allow", Reasons: []string{}, Signals: []byte(`{}`)}
}

// TestWatchDecisions: a node is told of every decision the other node
// commits, once, with the fields velocity needs, and of its
// announcements; never of its own; and no decision is lost or doubled
// across a dropped connection.
func TestWatchDecisions(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	a, b := nodes[0], nodes[1]
	now := time.Now().Truncate(time.Millisecond).UTC()

	// Made before a starts watching: found by its first catch-up.
	if err := b.RecordDecisions(ctx, []store.Decision{watchDecision("before", now)}); err != nil {
		t.Fatal(err)
	}
	// Made long before since: not a's business (it loaded those itself).
	if err := b.RecordDecisions(ctx, []store.Decision{watchDecision("old", now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}

	w := &watched{got: map[string]int{}}
	var first store.Decision
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.WatchPeers(wctx, now, map[string]time.Time{"known": now}, store.PeerHandlers{
			Decision: func(d store.Decision) {
				w.mu.Lock()
				defer w.mu.Unlock()
				if d.ID == "before" {
					first = d
				}
				w.got[d.ID]++
			},
			Announcement: func(kind string, body []byte) {
				w.mu.Lock()
				defer w.mu.Unlock()
				w.got[kind+" "+string(body)]++
			},
			Lost: func(error) {
				w.mu.Lock()
				defer w.mu.Unlock()
				w.lost++
			},
		})
	}()
	w.waitFor(t, "before")
	w.mu.Lock()
	want := store.Decision{ID: "before", RPID: "rp1", Created: now, Event: "payment", Account: "acct-before", DeviceID: "dev1", AmountValue: 12.5}
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Errorf("delivered %+v, want %+v", first, want)
	}
	w.mu.Unlock()

	// A decision the caller already has, a's own, and a batch of b's too
	// large for one notification.
	if err := b.RecordDecisions(ctx, []store.Decision{watchDecision("known", now)}); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordDecisions(ctx, []store.Decision{watchDecision("own", now)}); err != nil {
		t.Fatal(err)
	}
	var batch []store.Decision
	var ids []string
	for i := range 100 {
		id := fmt.Sprintf("batch-%03d", i)
		batch, ids = append(batch, watchDecision(id, now)), append(ids, id)
	}
	if err := b.RecordDecisions(ctx, batch); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, ids...)

	// Announcements: b's reach a, a's own do not; bad ones are refused.
	if err := a.Announce(ctx, "greeting", []byte(`"from a"`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Announce(ctx, "greeting", []byte(`{"from":"b"}`)); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, `greeting {"from":"b"}`)
	for _, bad := range []struct {
		kind string
		body []byte
	}{{"", []byte(`1`)}, {"k", []byte(`{`)}, {"k", []byte(`"` + strings.Repeat("x", 8000) + `"`)}} {
		if err := b.Announce(ctx, bad.kind, bad.body); err == nil {
			t.Errorf("Announce(%q, %.20s…) accepted", bad.kind, bad.body)
		}
	}

	// Drop a's watch connection, and have b decide while a reconnects.
	var killed int
	if err := b.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"healthgate-watch-"+a.Node()).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d watch connections (%v), want 1", killed, err)
	}
	if err := b.RecordDecisions(ctx, []store.Decision{watchDecision("during", now.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "during")
	if err := b.RecordDecisions(ctx, []store.Decision{watchDecision("after", now.Add(2*time.Second))}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "after")
	time.Sleep(100 * time.Millisecond) // room for a wrong second delivery

	stop()
	if err := <-done; err != context.Canceled {
		t.Errorf("WatchDecisions returned %v, want context.Canceled", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, n := range w.got {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	for _, id := range []string{"old", "known", "own", `greeting "from a"`} {
		if w.got[id] != 0 {
			t.Errorf("%s delivered, want not", id)
		}
	}
	if len(w.got) != 104 {
		t.Errorf("%d decisions and announcements delivered, want 104", len(w.got))
	}
	if w.lost == 0 {
		t.Error("the dropped connection was not reported")
	}
}

// TestAnnounceTooLarge: a decision that cannot be announced is refused
// with its batch, rather than stored where other nodes never hear of it.
func TestAnnounceTooLarge(t *testing.T) {
	db := openNodes(t, 1)[0]
	d := watchDecision("big", time.Now())
	d.Account = strings.Repeat("x", 8000)
	if err := db.RecordDecisions(context.Background(), []store.Decision{d}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("err = %v, want too large to announce", err)
	}
	if _, err := db.Decision(context.Background(), "rp1", "big"); err != store.ErrNotFound {
		t.Errorf("stored anyway: %v", err)
	}
}
