package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/postgres"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

var intelT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func intelIndicator(id, value string) store.Indicator {
	return store.Indicator{ID: id, Type: "sha256", Value: value, Source: "test", Confidence: 80, Status: "active",
		FirstSeen: intelT0, LastSeen: intelT0, Expires: intelT0.Add(24 * time.Hour), FeedKind: "sha256", FeedValue: value}
}

// TestFeedVersionsAcrossNodes: two nodes change indicators at the same
// time while an agent-like reader follows the feed by deltas. Every change
// gets its own version, the versions are 1…N without gaps, and the reader,
// always asking for the delta since the last version it saw, ends with
// exactly the feed's snapshot: it never skipped a version that committed
// after a higher one.
func TestFeedVersionsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	a, b := nodes[0], nodes[1]
	const writersPerNode, ops = 3, 30

	var mu sync.Mutex
	var versions []int64 // the version each change was stamped with
	record := func(v int64) {
		mu.Lock()
		versions = append(versions, v)
		mu.Unlock()
	}
	var writers sync.WaitGroup
	errs := make(chan error, 2*writersPerNode+1)
	for n, db := range []*postgres.DB{a, b} {
		for w := range writersPerNode {
			writers.Go(func() {
				for i := range ops {
					id := fmt.Sprintf("n%d-w%d-%d", n, w, i)
					out, err := db.PutIndicators(ctx, []store.Indicator{intelIndicator(id, id)}, store.Change{Actor: "test", At: intelT0})
					if err != nil {
						errs <- err
						return
					}
					record(out[0].FeedVersion)
					if i%3 == 2 { // retire an earlier one of ours
						in, err := db.SetIndicatorStatus(ctx, fmt.Sprintf("n%d-w%d-%d", n, w, i-1), "retired", store.Change{Actor: "test", At: intelT0})
						if err != nil {
							errs <- err
							return
						}
						record(in.FeedVersion)
					}
				}
			})
		}
	}

	done := make(chan struct{})
	var reader sync.WaitGroup
	feed := map[string]bool{}
	var since int64
	follow := func(db *postgres.DB) error {
		d, truncated, err := db.FeedDelta(ctx, since, 1_000_000)
		if err != nil {
			return err
		}
		if truncated || d.Since != since || d.Version < since {
			return fmt.Errorf("FeedDelta(%d) = since %d version %d truncated=%v", since, d.Since, d.Version, truncated)
		}
		for _, e := range d.Remove {
			delete(feed, e.Kind+":"+e.Value)
		}
		for _, e := range d.Add {
			feed[e.Kind+":"+e.Value] = true
		}
		since = d.Version
		return nil
	}
	reader.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if err := follow([]*postgres.DB{a, b}[i%2]); err != nil {
				errs <- err
				return
			}
		}
	})
	writers.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := follow(a); err != nil {
		t.Fatal(err)
	}

	slices.Sort(versions)
	want := make([]int64, len(versions))
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("the %d changes got versions %v, want 1…%d each once", len(versions), versions, len(versions))
	}
	if v, err := b.FeedVersion(ctx); err != nil || v != int64(len(versions)) {
		t.Errorf("FeedVersion = %d, %v; want %d", v, err, len(versions))
	}
	var snap []string
	if _, err := b.FeedSnapshot(ctx, func(kind, value string) error {
		snap = append(snap, kind+":"+value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var followed []string
	for e := range feed {
		followed = append(followed, e)
	}
	slices.Sort(snap)
	slices.Sort(followed)
	if wantLen := 2 * writersPerNode * (ops - ops/3); len(snap) != wantLen {
		t.Errorf("snapshot has %d entries, want %d", len(snap), wantLen)
	}
	if !slices.Equal(followed, snap) {
		t.Errorf("following the deltas gave %d entries, the snapshot has %d: a version was skipped", len(followed), len(snap))
	}
}

// TestPutSameIndicatorAcrossNodes: nodes adding the same indicator at once
// (two partners' pulls, say) give one indicator, created once and then
// refreshed, not a conflict.
func TestPutSameIndicatorAcrossNodes(t *testing.T) {
	ctx := context.Background()
	nodes := openNodes(t, 2)
	a, b := nodes[0], nodes[1]
	const each = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for n, db := range []*postgres.DB{a, b} {
		for i := range each {
			wg.Go(func() {
				in := intelIndicator(fmt.Sprintf("n%d-%d", n, i), "aa")
				if _, err := db.PutIndicators(ctx, []store.Indicator{in}, store.Change{Actor: "test", At: intelT0}); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := a.Indicators(ctx, store.IndicatorFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("Indicators = %+v, %v; want one", list, err)
	}
	evs, err := b.IndicatorEvents(ctx, list[0].ID)
	if err != nil || len(evs) != 2*each {
		t.Fatalf("%d events, %v; want %d", len(evs), err, 2*each)
	}
	if evs[0].Action != "created" || slices.ContainsFunc(evs[1:], func(e store.IndicatorEvent) bool { return e.Action != "refreshed" }) {
		t.Errorf("events = %+v, want created then refreshed", evs)
	}
	if v, _ := a.FeedVersion(ctx); v != 1 {
		t.Errorf("FeedVersion = %d, want 1", v)
	}
}

// TestPutIndicatorsLikeSQLite: PutIndicators works out a whole batch in Go
// and writes it with set-based statements, where the SQLite backend goes
// indicator by indicator. The same batches, repeats and conflicts within
// one batch among them, must give the same results, errors and audit
// trails on both.
func TestPutIndicatorsLikeSQLite(t *testing.T) {
	ctx := context.Background()
	pg := open(t)
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	stores := []store.Store{lite, pg}

	sub := intelT0.Add(1500 * time.Microsecond) // not a whole millisecond
	refresh := intelIndicator("i2", "aa")
	refresh.Confidence, refresh.FirstSeen, refresh.LastSeen, refresh.ChangeReason = 95, intelT0.Add(-time.Hour), sub, "line 2"
	pending := intelIndicator("i3", "bb")
	pending.Status = "pending_review"
	confirm := intelIndicator("i9", "bb")
	confirm.LastSeen = sub.Add(time.Hour)
	again := intelIndicator("i10", "bb")
	again.LastSeen = sub.Add(time.Hour + 300*time.Microsecond) // same millisecond as confirm's
	noFeed := intelIndicator("i5", "ee")
	noFeed.Type, noFeed.FeedKind, noFeed.FeedValue = "payee", "", ""
	local := intelIndicator("i6", "ff")
	local.FirstSeen = time.Date(2026, 3, 1, 20, 0, 0, 0, time.FixedZone("CST", 8*3600))
	retire := intelIndicator("i7", "aa")
	retire.Status = "retired"
	noID := intelIndicator("", "gg")

	steps := []struct {
		name string
		ins  []store.Indicator
	}{
		{"new and refreshed in one batch", []store.Indicator{intelIndicator("i1", "aa"), refresh, pending}},
		{"known id for a new value", []store.Indicator{intelIndicator("i1", "cc")}},
		{"one new id twice", []store.Indicator{intelIndicator("i4", "cc"), intelIndicator("i4", "dd")}},
		{"confirmed twice, with others", []store.Indicator{confirm, noFeed, again, local}},
		{"nothing", nil},
		{"taken off and put back in one batch", []store.Indicator{retire, intelIndicator("i8", "aa")}},
		{"bad indicator after a conflict", []store.Indicator{intelIndicator("i1", "hh"), noID}},
		{"bad indicator after a good one", []store.Indicator{intelIndicator("i11", "hh"), noID}},
	}
	for i, step := range steps {
		var outs [2][]store.Indicator
		var errs [2]error
		for j, s := range stores {
			outs[j], errs[j] = s.PutIndicators(ctx, step.ins, store.Change{Actor: "test", Reason: "step", At: intelT0.Add(time.Duration(i) * time.Minute)})
		}
		if (errs[0] == nil) != (errs[1] == nil) || errors.Is(errs[0], store.ErrConflict) != errors.Is(errs[1], store.ErrConflict) {
			t.Errorf("%s: sqlite err %v, postgres err %v", step.name, errs[0], errs[1])
		}
		if !reflect.DeepEqual(outs[0], outs[1]) {
			t.Errorf("%s:\nsqlite   %+v\npostgres %+v", step.name, outs[0], outs[1])
		}
		compareIntel(t, step.name, stores)
	}
}

// compareIntel compares what the stores hold: indicators, audit trails
// and the feed.
func compareIntel(t *testing.T, step string, stores []store.Store) {
	t.Helper()
	ctx := context.Background()
	var lists [2][]store.Indicator
	var versions [2]int64
	for j, s := range stores {
		var err error
		if lists[j], err = s.Indicators(ctx, store.IndicatorFilter{}); err != nil {
			t.Fatal(err)
		}
		if versions[j], err = s.FeedVersion(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(lists[0], lists[1]) {
		t.Errorf("%s: indicators\nsqlite   %+v\npostgres %+v", step, lists[0], lists[1])
	}
	if versions[0] != versions[1] {
		t.Errorf("%s: feed version sqlite %d, postgres %d", step, versions[0], versions[1])
	}
	for _, in := range lists[0] {
		var evs [2][]store.IndicatorEvent
		for j, s := range stores {
			var err error
			if evs[j], err = s.IndicatorEvents(ctx, in.ID); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(evs[0], evs[1]) {
			t.Errorf("%s: events of %s\nsqlite   %+v\npostgres %+v", step, in.ID, evs[0], evs[1])
		}
	}
	for since := range versions[0] + 1 {
		var ds [2][2][]string
		for j, s := range stores {
			d, _, err := s.FeedDelta(ctx, since, 100)
			if err != nil {
				t.Fatal(err)
			}
			for k, es := range [][]store.FeedEntry{d.Add, d.Remove} {
				for _, e := range es {
					ds[j][k] = append(ds[j][k], e.Kind+":"+e.Value)
				}
				slices.Sort(ds[j][k])
			}
		}
		if !reflect.DeepEqual(ds[0], ds[1]) {
			t.Errorf("%s: delta since %d: sqlite %v, postgres %v", step, since, ds[0], ds[1])
		}
	}
}
