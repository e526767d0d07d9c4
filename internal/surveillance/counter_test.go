package surveillance

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy gone") }

var day1 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func newTestCounter(t testing.TB, cfg CounterConfig, clock *fakeClock) *DayCounter {
	t.Helper()
	c, err := NewDayCounter(cfg, rand.NewChaCha8([32]byte{1}), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDayCounterCounts(t *testing.T) {
	clock := &fakeClock{t: day1}
	c := newTestCounter(t, CounterConfig{}, clock)
	obs := []Observation{
		{Device: "a", Region: "zj", Findings: []Finding{{Indicator: "malware:x", New: true}}},
		{Device: "a", Region: "zj", Findings: []Finding{{Indicator: "malware:x"}}}, // same device again
		{Device: "b", Region: "zj", Findings: []Finding{{Indicator: "malware:x"}, {Indicator: "hosts:pay"}}},
		{Device: "c", Region: "zj"}, // healthy: reporting only
		{Device: "a", Region: "gd", Findings: []Finding{{Indicator: "malware:x", New: true}}},
		{Device: "d"}, // no region
	}
	for _, o := range obs {
		if err := c.Observe(o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.CloseDay(DayOf(day1, nil))
	if err != nil {
		t.Fatal(err)
	}
	// Region "" counts every device once, whatever its regions: a, seen
	// in zj and gd, is one of the 2 devices with malware:x there.
	wantReporting := map[string]KeyCount{"zj": {Devices: 3}, "gd": {Devices: 1}, AllRegions: {Devices: 4}}
	wantSightings := map[Key]KeyCount{
		{"malware:x", "zj"}:       {Devices: 2, New: 1},
		{"hosts:pay", "zj"}:       {Devices: 1},
		{"malware:x", "gd"}:       {Devices: 1, New: 1},
		{"malware:x", AllRegions}: {Devices: 2, New: 1},
		{"hosts:pay", AllRegions}: {Devices: 1},
	}
	if got, want := len(got.Reporting), len(wantReporting); got != want {
		t.Errorf("len(Reporting) = %d, want %d", got, want)
	}
	for r, want := range wantReporting {
		if got := got.Reporting[r]; got != want {
			t.Errorf("Reporting[%q] = %+v, want %+v", r, got, want)
		}
	}
	if got, want := len(got.Sightings), len(wantSightings); got != want {
		t.Errorf("len(Sightings) = %d, want %d", got, want)
	}
	for k, want := range wantSightings {
		if got := got.Sightings[k]; got != want {
			t.Errorf("Sightings[%v] = %+v, want %+v", k, got, want)
		}
	}
	if got, want := got.Day.String(), "2026-03-01"; got != want {
		t.Errorf("Day = %s, want %s", got, want)
	}
}

func TestDayCounterForgetsAtClose(t *testing.T) {
	clock := &fakeClock{t: day1}
	c := newTestCounter(t, CounterConfig{}, clock)
	if err := c.Observe(Observation{Device: "a", Findings: []Finding{{Indicator: "x"}}}); err != nil {
		t.Fatal(err)
	}
	d := DayOf(day1, nil)
	st := c.days[d]
	salt := st.salt
	tag1 := c.tag(st, "a")

	if _, err := c.CloseDay(d); err != nil {
		t.Fatal(err)
	}
	for i, b := range salt {
		if b != 0 {
			t.Fatalf("salt byte %d = %#x after close, want 0", i, b)
		}
	}
	if got := len(c.OpenDays()); got != 0 {
		t.Errorf("open days after close = %d, want 0", got)
	}
	if st.keys != nil || st.mac != nil {
		t.Error("day state still holds tag sets or the keyed hash")
	}

	// The next day draws a fresh salt: the same device gets another tag,
	// so tags cannot be joined across days.
	clock.set(day1.Add(24 * time.Hour))
	if err := c.Observe(Observation{Device: "a"}); err != nil {
		t.Fatal(err)
	}
	if tag2 := c.tag(c.days[d+1], "a"); tag2 == tag1 {
		t.Errorf("device has the same tag on two days: %#x", tag1)
	}
}

// TestDayCounterKeepsNoDeviceID checks that no device id stays reachable
// in the counter once its day is closed: the counter promises that after
// CloseDay nobody can tell whether a device was among the day's reports.
func TestDayCounterKeepsNoDeviceID(t *testing.T) {
	c := newTestCounter(t, CounterConfig{}, &fakeClock{t: day1})
	const id = "device-7f3a9c0e-last-of-the-day"
	if err := c.Observe(Observation{Device: id, Findings: []Finding{{Indicator: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloseDay(DayOf(day1, nil)); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(c.buf[:cap(c.buf)], []byte(id)) {
		t.Errorf("the counter still holds device id %q after its day closed", id)
	}
}

func TestDayCounterDays(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name    string
		cfg     CounterConfig
		run     func(c *DayCounter, clock *fakeClock) error
		wantErr error
	}{
		{
			name: "observe after the day closed",
			run: func(c *DayCounter, clock *fakeClock) error {
				if _, err := c.CloseDay(DayOf(day1, nil)); err != nil {
					return err
				}
				return c.Observe(Observation{Device: "a"})
			},
			wantErr: ErrDayClosed,
		},
		{
			name: "observe on a day before the closed watermark",
			run: func(c *DayCounter, clock *fakeClock) error {
				if _, err := c.CloseDay(DayOf(day1, nil)); err != nil {
					return err
				}
				clock.set(day1.Add(-24 * time.Hour))
				return c.Observe(Observation{Device: "a"})
			},
			wantErr: ErrDayClosed,
		},
		{
			name: "close twice",
			run: func(c *DayCounter, clock *fakeClock) error {
				if err := c.Observe(Observation{Device: "a"}); err != nil {
					return err
				}
				if _, err := c.CloseDay(DayOf(day1, nil)); err != nil {
					return err
				}
				_, err := c.CloseDay(DayOf(day1, nil))
				return err
			},
			wantErr: ErrDayClosed,
		},
		{
			name: "an earlier open day can still be closed after a later one",
			run: func(c *DayCounter, clock *fakeClock) error {
				if err := c.Observe(Observation{Device: "a"}); err != nil {
					return err
				}
				clock.set(day1.Add(24 * time.Hour))
				if err := c.Observe(Observation{Device: "a"}); err != nil {
					return err
				}
				if _, err := c.CloseDay(DayOf(day1, nil) + 1); err != nil {
					return err
				}
				got, err := c.CloseDay(DayOf(day1, nil))
				if err != nil {
					return err
				}
				if got.Reporting[""].Devices != 1 {
					return fmt.Errorf("earlier day lost its count: %+v", got)
				}
				return nil
			},
		},
		{
			name: "too many open days",
			cfg:  CounterConfig{MaxOpenDays: 2},
			run: func(c *DayCounter, clock *fakeClock) error {
				for i := range 3 {
					clock.set(day1.Add(time.Duration(i) * 24 * time.Hour))
					if err := c.Observe(Observation{Device: "a"}); err != nil {
						return err
					}
				}
				return nil
			},
			wantErr: ErrTooManyOpenDays,
		},
		{
			name: "the day follows the configured time zone",
			cfg:  CounterConfig{Location: shanghai},
			run: func(c *DayCounter, clock *fakeClock) error {
				// 20:00 UTC on 1 March is 04:00 on 2 March in Shanghai.
				clock.set(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC))
				if err := c.Observe(Observation{Device: "a"}); err != nil {
					return err
				}
				open := c.OpenDays()
				if len(open) != 1 || open[0].String() != "2026-03-02" {
					return fmt.Errorf("open days %v, want [2026-03-02]", open)
				}
				return nil
			},
		},
		{
			name: "closing a day with no reports gives empty counts",
			run: func(c *DayCounter, clock *fakeClock) error {
				got, err := c.CloseDay(DayOf(day1, nil) - 5)
				if err != nil {
					return err
				}
				if len(got.Reporting)+len(got.Sightings) != 0 {
					return fmt.Errorf("counts for an empty day: %+v", got)
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: day1}
			c := newTestCounter(t, tt.cfg, clock)
			err := tt.run(c, clock)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDayCounterLimits(t *testing.T) {
	find := func(ind ...string) []Finding {
		var out []Finding
		for _, i := range ind {
			out = append(out, Finding{Indicator: i})
		}
		return out
	}
	tests := []struct {
		name        string
		cfg         CounterConfig
		obs         []Observation
		wantErr     error // of the last observation
		wantKey     Key
		wantCount   KeyCount
		wantDropped int
	}{
		{
			// Three keys fit: the reporting key and x, y; z is dropped.
			name:    "distinct keys per day",
			cfg:     CounterConfig{MaxKeysPerDay: 3},
			obs:     []Observation{{Device: "a", Findings: find("x", "y", "z")}},
			wantErr: ErrKeyLimit, wantKey: Key{Indicator: "y"},
			wantCount: KeyCount{Devices: 1}, wantDropped: 1,
		},
		{
			name: "devices per key saturate",
			cfg:  CounterConfig{MaxTagsPerKey: 2},
			obs: []Observation{
				{Device: "a", Findings: find("x")},
				{Device: "b", Findings: find("x")},
				{Device: "c", Findings: find("x")},
				{Device: "a", Findings: find("x")},
			},
			wantKey: Key{Indicator: "x"}, wantCount: KeyCount{Devices: 2, Saturated: true},
		},
		{
			// Day cap 3: a's reporting and x tags, then b's reporting tag;
			// b under x no longer fits.
			name: "tags per day saturate",
			cfg:  CounterConfig{MaxTagsPerDay: 3},
			obs: []Observation{
				{Device: "a", Findings: find("x")},
				{Device: "b", Findings: find("x")},
			},
			wantKey: Key{Indicator: "x"}, wantCount: KeyCount{Devices: 1, Saturated: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCounter(t, tt.cfg, &fakeClock{t: day1})
			var err error
			for _, o := range tt.obs {
				err = c.Observe(o)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got, err := c.CloseDay(DayOf(day1, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := got.Sightings[tt.wantKey], tt.wantCount; got != want {
				t.Errorf("Sightings[%v] = %+v, want %+v", tt.wantKey, got, want)
			}
			if got, want := got.DroppedKeys, tt.wantDropped; got != want {
				t.Errorf("DroppedKeys = %d, want %d", got, want)
			}
		})
	}
}

func TestDayCounterRejects(t *testing.T) {
	tests := []struct {
		name string
		rand bool
		obs  Observation
	}{
		{"no device id", true, Observation{Findings: []Finding{{Indicator: "x"}}}},
		{"empty indicator", true, Observation{Device: "a", Findings: []Finding{{Indicator: ""}}}},
		{"random source fails", false, Observation{Device: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *DayCounter
			var err error
			if tt.rand {
				c = newTestCounter(t, CounterConfig{}, &fakeClock{t: day1})
			} else {
				c, err = NewDayCounter(CounterConfig{}, failingReader{}, (&fakeClock{t: day1}).now)
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Observe(tt.obs); err == nil {
				t.Fatal("Observe succeeded")
			}
			if got := len(c.OpenDays()); got != 0 {
				t.Errorf("a rejected observation opened %d days", got)
			}
		})
	}
	if _, err := NewDayCounter(CounterConfig{MaxKeysPerDay: -1, MaxOpenDays: -1}, failingReader{}, time.Now); err == nil {
		t.Error("negative limits accepted")
	}
	if _, err := NewDayCounter(CounterConfig{}, nil, time.Now); err == nil {
		t.Error("nil random source accepted")
	}
	if _, err := NewDayCounter(CounterConfig{}, failingReader{}, nil); err == nil {
		t.Error("nil clock accepted")
	}
}

func TestDayCounterConcurrent(t *testing.T) {
	c := newTestCounter(t, CounterConfig{}, &fakeClock{t: day1})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				// Every worker reports the same 500 devices.
				o := Observation{Device: fmt.Sprint("dev-", i), Findings: []Finding{{Indicator: "x", New: w == 0}}}
				if err := c.Observe(o); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := c.CloseDay(DayOf(day1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := got.Sightings[Key{Indicator: "x"}], (KeyCount{Devices: 500, New: 500}); got != want {
		t.Errorf("Sightings = %+v, want %+v", got, want)
	}
}

func TestDayParse(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Day
		wantErr bool
	}{
		{"1970-01-01", 0, false},
		{"1970-01-02", 1, false},
		{"1969-12-31", -1, false},
		{"2026-03-01", DayOf(day1, nil), false},
		{"2026-02-30", 0, true},
		{"yesterday", 0, true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDay(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDay(%q) error = %v", tt.in, err)
			}
			if err == nil {
				if got != tt.want {
					t.Errorf("ParseDay(%q) = %d, want %d", tt.in, got, tt.want)
				}
				if got.String() != tt.in {
					t.Errorf("String() = %s, want %s", got, tt.in)
				}
			}
		})
	}
}

// BenchmarkDayCounterObserve reports one device with one finding per
// operation, devices drawn from a fleet of 1M and findings from 1k keys, so
// nearly every operation stores a new tag. heap-B/tag is the live heap per
// stored tag when the run ends.
func BenchmarkDayCounterObserve(b *testing.B) {
	const devices, keys = 1_000_000, 1_000
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%07d", i)
	}
	inds := make([]string, keys)
	for i := range inds {
		inds[i] = fmt.Sprintf("sha256:%064x", i)
	}
	c, err := NewDayCounter(CounterConfig{MaxTagsPerDay: 1 << 40}, rand.NewChaCha8([32]byte{2}), func() time.Time { return day1 })
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	findings := make([]Finding, 1)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		findings[0] = Finding{Indicator: inds[r.IntN(keys)]}
		if err := c.Observe(Observation{Device: ids[r.IntN(devices)], Findings: findings}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	tags := c.days[DayOf(day1, nil)].tags
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tags), "heap-B/tag")
	b.ReportMetric(float64(tags), "tags")
}
