package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var intelTests = []storeTest{
	{"IndicatorPutRefreshAudit", testIndicatorPut},
	{"IndicatorBatchAllOrNothing", testIndicatorBatchAtomic},
	{"FeedSnapshotAndDelta", testFeedDelta},
	{"FeedSharedEntry", testFeedSharedEntry},
	{"IndicatorExpiry", testIndicatorExpiry},
	{"FullHashes", testFullHashes},
}

func indicator(id, typ, value, kind, feedValue string) store.Indicator {
	return store.Indicator{ID: id, Type: typ, Value: value, Source: "test", Confidence: 80, Status: "active",
		FirstSeen: t0, LastSeen: t0, Expires: t0.Add(7 * 24 * time.Hour), FeedKind: kind, FeedValue: feedValue}
}

func change(reason string) store.Change {
	return store.Change{Actor: "test", Reason: reason, At: t0}
}

func mustPut(t *testing.T, s store.Store, ins ...store.Indicator) []store.Indicator {
	t.Helper()
	out, err := s.PutIndicators(context.Background(), ins, change("put"))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func snapshot(t *testing.T, s store.Store) (int64, []string) {
	t.Helper()
	var got []string
	v, err := s.FeedSnapshot(context.Background(), func(kind, value string) error {
		got = append(got, kind+":"+value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return v, got
}

func entries(es []store.FeedEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Kind + ":" + e.Value
	}
	slices.Sort(out)
	return out
}

func testIndicatorPut(t *testing.T, s store.Store) {
	ctx := context.Background()
	got := mustPut(t, s, indicator("i1", "sha256", "aa", "sha256", "aa"))
	if got[0].ID != "i1" || got[0].FeedVersion != 1 {
		t.Errorf("stored = %+v", got[0])
	}
	again := indicator("i2", "sha256", "aa", "sha256", "aa")
	again.Confidence, again.LastSeen, again.FirstSeen = 95, t0.Add(time.Hour), t0.Add(time.Hour)
	got = mustPut(t, s, again)
	if got[0].ID != "i1" || got[0].Confidence != 95 || !got[0].FirstSeen.Equal(t0) || !got[0].LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("refreshed = %+v, want id i1, confidence 95, first seen kept", got[0])
	}
	if v, _ := s.FeedVersion(ctx); v != 1 {
		t.Errorf("a refresh that keeps the indicator on the feed bumped the version to %d", v)
	}
	for _, q := range [][3]string{{"i1", "", ""}, {"", "sha256", "aa"}} {
		in, err := s.Indicator(ctx, q[0], q[1], q[2])
		if err != nil || in.ID != "i1" || in.Confidence != 95 || in.Source != "test" || !in.Expires.Equal(t0.Add(7*24*time.Hour)) {
			t.Errorf("Indicator(%q) = %+v, %v", q, in, err)
		}
	}
	if _, err := s.Indicator(ctx, "nope", "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: err = %v", err)
	}
	if _, err := s.SetIndicatorStatus(ctx, "nope", "retired", change("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retiring an unknown id: err = %v", err)
	}
	ret, err := s.SetIndicatorStatus(ctx, "i1", "retired", store.Change{Actor: "cli:alice", Reason: "false positive", At: t0.Add(2 * time.Hour)})
	if err != nil || ret.Status != "retired" || ret.FeedVersion != 2 {
		t.Errorf("retired = %+v, %v", ret, err)
	}
	evs, err := s.IndicatorEvents(ctx, "i1")
	if err != nil || len(evs) != 3 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	if e := evs[2]; e.Action != "status" || e.Actor != "cli:alice" || e.Reason != "false positive" || e.FromStatus != "active" || e.ToStatus != "retired" || !e.At.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("last event = %+v", e)
	}
	if evs[0].Action != "created" || evs[1].Action != "refreshed" {
		t.Errorf("events = %+v", evs)
	}
	mustPut(t, s, indicator("i3", "tool", "anydesk", "tool", "anydesk"))
	list, err := s.Indicators(ctx, store.IndicatorFilter{Type: "tool"})
	if err != nil || len(list) != 1 || list[0].ID != "i3" {
		t.Errorf("Indicators(type tool) = %+v, %v", list, err)
	}
	list, err = s.Indicators(ctx, store.IndicatorFilter{Status: "retired"})
	if err != nil || len(list) != 1 || list[0].ID != "i1" {
		t.Errorf("Indicators(status retired) = %+v, %v", list, err)
	}
	if list, _ := s.Indicators(ctx, store.IndicatorFilter{Limit: 1}); len(list) != 1 {
		t.Errorf("limit 1 gave %d", len(list))
	}
}

func testIndicatorBatchAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := indicator("", "sha256", "bb", "sha256", "bb") // no id
	if _, err := s.PutIndicators(ctx, []store.Indicator{indicator("i1", "sha256", "aa", "sha256", "aa"), bad}, change("import")); err == nil {
		t.Fatal("a batch with a bad indicator was accepted")
	}
	if list, _ := s.Indicators(ctx, store.IndicatorFilter{}); len(list) != 0 {
		t.Errorf("a refused batch left %d indicators behind", len(list))
	}
	if v, _ := s.FeedVersion(ctx); v != 0 {
		t.Errorf("a refused batch moved the feed to version %d", v)
	}
}

func testFeedDelta(t *testing.T, s store.Store) {
	ctx := context.Background()
	if v, got := snapshot(t, s); v != 0 || len(got) != 0 {
		t.Errorf("empty feed: version %d, %v", v, got)
	}
	pending := indicator("p", "domain", "maybe.example", "prefix", "0000000f")
	pending.Status = "pending_review"
	payee := indicator("y", "payee", "acct-1", "", "")
	mustPut(t, s, indicator("a", "sha256", "aa", "sha256", "aa"), indicator("b", "domain", "evil.example", "prefix", "01020304"), pending, payee)
	v, got := snapshot(t, s)
	if want := []string{"prefix:01020304", "sha256:aa"}; v != 1 || !slices.Equal(got, want) {
		t.Errorf("snapshot = %d %v, want 1 %v", v, got, want)
	}
	mustPut(t, s, indicator("c", "ip", "192.0.2.1", "ip", "192.0.2.1"))
	if _, err := s.SetIndicatorStatus(ctx, "a", "retired", change("fp")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetIndicatorStatus(ctx, "p", "active", change("confirmed")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		since       int64
		add, remove []string
		wantVersion int64
	}{
		{0, []string{"ip:192.0.2.1", "prefix:0000000f", "prefix:01020304"}, []string{"sha256:aa"}, 4},
		{1, []string{"ip:192.0.2.1", "prefix:0000000f"}, []string{"sha256:aa"}, 4},
		{2, []string{"prefix:0000000f"}, []string{"sha256:aa"}, 4},
		{3, []string{"prefix:0000000f"}, []string{}, 4},
		{4, []string{}, []string{}, 4},
	} {
		d, truncated, err := s.FeedDelta(ctx, tt.since, 100)
		if err != nil || truncated {
			t.Fatalf("FeedDelta(%d): %v truncated=%v", tt.since, err, truncated)
		}
		if d.Version != tt.wantVersion || d.Since != tt.since || !slices.Equal(entries(d.Add), tt.add) || !slices.Equal(entries(d.Remove), tt.remove) {
			t.Errorf("FeedDelta(%d) = v%d +%v -%v, want v%d +%v -%v", tt.since, d.Version, entries(d.Add), entries(d.Remove), tt.wantVersion, tt.add, tt.remove)
		}
	}
	if d, truncated, err := s.FeedDelta(ctx, 0, 1); err != nil || !truncated || len(d.Add) != 1 {
		t.Errorf("FeedDelta limit 1 = %+v, truncated=%v, %v", d, truncated, err)
	}
	// Reactivating a retired indicator puts it back.
	mustPut(t, s, indicator("a2", "sha256", "aa", "sha256", "aa"))
	d, _, _ := s.FeedDelta(ctx, 4, 100)
	if d.Version != 5 || !slices.Equal(entries(d.Add), []string{"sha256:aa"}) || len(d.Remove) != 0 {
		t.Errorf("after re-adding: %+v", d)
	}
}

func testFeedSharedEntry(t *testing.T, s store.Store) {
	ctx := context.Background()
	// A domain and a URL on its root share one expression, so one entry.
	mustPut(t, s, indicator("d", "domain", "evil.example", "prefix", "0a0b0c0d"), indicator("u", "url", "http://evil.example/", "prefix", "0a0b0c0d"))
	if _, got := snapshot(t, s); !slices.Equal(got, []string{"prefix:0a0b0c0d"}) {
		t.Errorf("snapshot = %v", got)
	}
	if _, err := s.SetIndicatorStatus(ctx, "d", "retired", change("x")); err != nil {
		t.Fatal(err)
	}
	d, _, _ := s.FeedDelta(ctx, 1, 100)
	if len(d.Remove) != 0 {
		t.Errorf("entry still carried by another indicator was removed: %+v", d)
	}
	if _, err := s.SetIndicatorStatus(ctx, "u", "retired", change("x")); err != nil {
		t.Fatal(err)
	}
	d, _, _ = s.FeedDelta(ctx, 1, 100)
	if !slices.Equal(entries(d.Remove), []string{"prefix:0a0b0c0d"}) {
		t.Errorf("delta after retiring both = %+v", d)
	}
}

func testIndicatorExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	short := indicator("s", "url", "http://x.example/", "prefix", "11111111")
	short.Expires = t0.Add(time.Hour)
	never := indicator("n", "tool", "anydesk", "tool", "anydesk")
	never.Expires = time.Time{}
	pend := indicator("p", "ip", "192.0.2.9", "ip", "192.0.2.9")
	pend.Status, pend.Expires = "pending_review", t0.Add(time.Minute)
	mustPut(t, s, short, never, pend)
	n, err := s.ExpireIndicators(ctx, store.Change{Actor: "system", Reason: "lifetime ended", At: t0.Add(30 * time.Minute)})
	if err != nil || n != 1 {
		t.Errorf("expiring at +30m: %d, %v; want only the pending one", n, err)
	}
	if v, _ := s.FeedVersion(ctx); v != 1 {
		t.Errorf("expiring an indicator that was not on the feed moved the version to %d", v)
	}
	n, err = s.ExpireIndicators(ctx, store.Change{Actor: "system", Reason: "lifetime ended", At: t0.Add(10 * 365 * 24 * time.Hour)})
	if err != nil || n != 1 {
		t.Errorf("expiring later: %d, %v", n, err)
	}
	in, _ := s.Indicator(ctx, "s", "", "")
	if in.Status != "expired" {
		t.Errorf("status = %q", in.Status)
	}
	d, _, _ := s.FeedDelta(ctx, 1, 100)
	if d.Version != 2 || !slices.Equal(entries(d.Remove), []string{"prefix:11111111"}) {
		t.Errorf("delta after expiry = %+v", d)
	}
	evs, _ := s.IndicatorEvents(ctx, "s")
	if len(evs) != 2 || evs[1].Actor != "system" || evs[1].ToStatus != "expired" {
		t.Errorf("events = %+v", evs)
	}
}

func testFullHashes(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := indicator("a", "url", "http://a.example/", "prefix", "01010101")
	a.FullHash = "01010101aa"
	b := indicator("b", "url", "http://b.example/", "prefix", "01010101")
	b.FullHash = "01010101bb"
	c := indicator("c", "url", "http://c.example/", "prefix", "02020202")
	c.FullHash = "02020202cc"
	c.Status = "retired"
	mustPut(t, s, a, b, c)
	got, err := s.FullHashes(ctx, []string{"01010101", "02020202", "03030303"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.Equal(got["01010101"], []string{"01010101aa", "01010101bb"}) {
		t.Errorf("FullHashes = %v", got)
	}
}
