package intel

import (
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randomPrefixes returns n random prefixes (duplicates possible, as in a
// real feed where unrelated expressions share a prefix).
func randomPrefixes(n int, seed uint64) Prefixes {
	r := rand.New(rand.NewPCG(seed, seed))
	p := make(Prefixes, n)
	for i := range p {
		p[i] = r.Uint32()
	}
	return p
}

const tenMillion = 10_000_000

func tenMillionSet(b *testing.B) *Set {
	b.Helper()
	s := &Set{}
	if err := s.Apply(Entries{}, Entries{Prefixes: randomPrefixes(tenMillion, 1)}); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPrefixLookup is the agent's cost per expression looked up in a
// feed of 10 million URL prefixes (a binary search). It also reports the
// heap the set takes.
func BenchmarkPrefixLookup(b *testing.B) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := tenMillionSet(b)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	probe := randomPrefixes(1<<16, 2)
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if s.HasPrefix(probe[i&(1<<16-1)]) {
			hits++
		}
	}
	runtime.KeepAlive(s)
	b.ReportMetric(heap, "MiB-heap")
}

// BenchmarkURLCheckLocal is the agent's local cost of checking one URL
// against 10 million prefixes: canonicalise, build up to 30 expressions,
// hash each and look its prefix up (the common case: no hit, no network).
func BenchmarkURLCheckLocal(b *testing.B) {
	s := tenMillionSet(b)
	b.ResetTimer()
	for b.Loop() {
		exprs, err := Expressions("https://www.shop.example.com/checkout/pay/confirm.html?order=12345#top")
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range exprs {
			s.HasPrefix(HashPrefix(e))
		}
	}
}

// BenchmarkFeedBuild is the server's cost of building the feed at a new
// version with 10 million entries: sort and deduplicate the entries,
// compute the checksum and encode the snapshot. (Reading the entries from
// the database is not included.)
func BenchmarkFeedBuild(b *testing.B) {
	in := randomPrefixes(tenMillion, 1)
	b.ResetTimer()
	for b.Loop() {
		s := &Set{}
		if err := s.Apply(Entries{}, Entries{Prefixes: in}); err != nil {
			b.Fatal(err)
		}
		sum := s.Checksum()
		body, err := json.Marshal(Feed{Version: 1, Snapshot: true, Checksum: sum, Add: s.Entries()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(body))/(1<<20), "MiB-snapshot")
	}
}

// BenchmarkFeedChecksum is the checksum alone over 10 million prefixes,
// which the agent pays after every update.
func BenchmarkFeedChecksum(b *testing.B) {
	s := tenMillionSet(b)
	b.ResetTimer()
	for b.Loop() {
		s.Checksum()
	}
}

// BenchmarkDailyDelta models one day of churn on a feed of 10 million
// phishing URL prefixes: 2% (200,000) added and 2% removed. It reports the
// delta's encoded size and measures the agent applying it and checking the
// checksum.
func BenchmarkDailyDelta(b *testing.B) {
	s := tenMillionSet(b)
	const churn = tenMillion / 50
	remove := make(Prefixes, churn)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range remove {
		remove[i] = s.Prefixes[r.IntN(len(s.Prefixes))]
	}
	add := randomPrefixes(churn, 4)
	body, err := json.Marshal(Feed{Version: 2, Since: 1, Checksum: "x", Add: Entries{Prefixes: add}, Remove: Entries{Prefixes: remove}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		next := *s
		if err := next.Apply(Entries{Prefixes: remove}, Entries{Prefixes: add}); err != nil {
			b.Fatal(err)
		}
		next.Checksum()
	}
	b.ReportMetric(float64(len(body))/(1<<20), "MiB-delta")
}
