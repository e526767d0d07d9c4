package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// BenchmarkIntelFeedSQLite measures the database side of the feed with
// 1 million URL indicators: importing them (batches of 10,000, one
// transaction each), reading the whole feed (what a server rebuilds at a
// new version), and the delta query after a day of 2% churn.
func BenchmarkIntelFeedSQLite(b *testing.B) {
	const n, batch = 1_000_000, 10_000
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hg.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	ind := func(i int) store.Indicator {
		return store.Indicator{ID: fmt.Sprintf("ind_%08d", i), Type: "url", Value: fmt.Sprintf("http://phish%d.example/", i),
			Source: "bench", Confidence: 80, Status: "active", FirstSeen: now, LastSeen: now, Expires: now.Add(7 * 24 * time.Hour),
			FeedKind: "prefix", FeedValue: fmt.Sprintf("%08x", uint32(i)*2654435761), FullHash: "00"}
	}
	start := time.Now()
	for i := 0; i < n; i += batch {
		ins := make([]store.Indicator, batch)
		for j := range ins {
			ins[j] = ind(i + j)
		}
		if _, err := db.PutIndicators(ctx, ins, store.Change{Actor: "bench", At: now}); err != nil {
			b.Fatal(err)
		}
	}
	importRate := float64(n) / time.Since(start).Seconds()
	v0, _ := db.FeedVersion(ctx)
	// A day of churn: 2% retired, 2% new.
	for i := 0; i < n/50; i += batch {
		for j := i; j < i+batch; j++ {
			if _, err := db.SetIndicatorStatus(ctx, fmt.Sprintf("ind_%08d", j*50), "retired", store.Change{Actor: "bench", At: now}); err != nil {
				b.Fatal(err)
			}
		}
		ins := make([]store.Indicator, batch)
		for j := range ins {
			ins[j] = ind(n + i + j)
		}
		if _, err := db.PutIndicators(ctx, ins, store.Change{Actor: "bench", At: now}); err != nil {
			b.Fatal(err)
		}
	}
	var snapshot, delta time.Duration
	for b.Loop() {
		t := time.Now()
		count := 0
		if _, err := db.FeedSnapshot(ctx, func(kind, value string) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		snapshot += time.Since(t)
		t = time.Now()
		d, truncated, err := db.FeedDelta(ctx, v0, n)
		if err != nil || truncated {
			b.Fatal(err)
		}
		delta += time.Since(t)
		if count != n || len(d.Add) != n/50 || len(d.Remove) != n/50 {
			b.Fatalf("snapshot %d, delta +%d -%d", count, len(d.Add), len(d.Remove))
		}
	}
	b.ReportMetric(importRate, "imports/s")
	b.ReportMetric(snapshot.Seconds()/float64(b.N), "s-snapshot-read")
	b.ReportMetric(delta.Seconds()/float64(b.N), "s-delta-read")
}
