package posture

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkCollect runs every collector over the healthy device tree, as
// one report does. See docs/BENCHMARKS.md "Agent footprint".
func BenchmarkCollect(b *testing.B) {
	opts := Options{Root: filepath.Join("testdata", "healthy")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f := Collect(ctx, opts)
		if len(f.Unknown) == len(collectors()) {
			b.Fatalf("no collector succeeded: %v", f.Unknown)
		}
	}
}
