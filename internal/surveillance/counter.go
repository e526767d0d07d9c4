package surveillance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"sync"
	"time"
)

// Errors returned by [DayCounter]. The limit errors are normal operating
// conditions under load: the counts stay valid (see [KeyCount.Saturated] and
// [DayCounts.DroppedKeys]) and the caller should count them in a metric
// rather than fail the report.
var (
	ErrDayClosed       = errors.New("day already closed")
	ErrTooManyOpenDays = errors.New("too many open days")
	ErrKeyLimit        = errors.New("distinct key limit for the day reached")
)

// Key is what a daily distinct-device count is kept for: one indicator (a
// finding code, an executable hash, a domain: whatever the caller chooses)
// in one coarse region. Region is a label the platform supplies, such as a
// province. Region "" ([AllRegions]) counts every device whatever its
// region: a device seen in two regions in a day counts once in each region
// and once, not twice, in "". Totals, k-anonymity and noise use "".
type Key struct {
	Indicator string
	Region    string
}

// AllRegions is the region of the counts of all devices, whatever region
// they reported from (and of every count when no region is given).
const AllRegions = ""

// Finding is one indicator a device reported. New is the agent's own word
// that it has not seen this indicator on this device within the incidence
// window (see [Incidence]): the history that answers that question stays on
// the device.
type Finding struct {
	Indicator string
	New       bool
}

// Observation is what one device told the service in one verified report.
// A report with no findings still counts the device as reporting, which is
// the denominator of [Prevalence].
type Observation struct {
	Device   string // device id; only its salted tag is kept, until the day closes
	Region   string // optional coarse region
	Findings []Finding
}

// CounterConfig bounds the memory of a [DayCounter]. The zero value of a
// field means its default.
type CounterConfig struct {
	// MaxKeysPerDay caps distinct keys (indicator × region, plus one
	// reporting key per region) per day. A finding whose key would be new
	// past the cap is dropped and counted in DroppedKeys. Default 100,000.
	MaxKeysPerDay int
	// MaxTagsPerKey caps distinct devices remembered for one key per day.
	// Past it the key is marked Saturated and its count is a lower bound.
	// Default 5,000,000.
	MaxTagsPerKey int
	// MaxTagsPerDay caps device tags held across all keys of one day, which
	// is what bounds memory (about 20 bytes a tag, see docs/BENCHMARKS.md).
	// Past it every key that meets a new device is marked Saturated.
	// Default 50,000,000.
	MaxTagsPerDay int
	// MaxOpenDays caps how many days can be open at once; an observation
	// for one more day fails with ErrTooManyOpenDays. Default 3.
	MaxOpenDays int
	// Location decides on which civil date an instant falls; nil means UTC.
	Location *time.Location
}

// DefaultCounterConfig returns the defaults documented on [CounterConfig].
func DefaultCounterConfig() CounterConfig {
	return CounterConfig{
		MaxKeysPerDay: 100_000,
		MaxTagsPerKey: 5_000_000,
		MaxTagsPerDay: 50_000_000,
		MaxOpenDays:   3,
		Location:      time.UTC,
	}
}

func (c CounterConfig) withDefaults() CounterConfig {
	d := DefaultCounterConfig()
	if c.MaxKeysPerDay == 0 {
		c.MaxKeysPerDay = d.MaxKeysPerDay
	}
	if c.MaxTagsPerKey == 0 {
		c.MaxTagsPerKey = d.MaxTagsPerKey
	}
	if c.MaxTagsPerDay == 0 {
		c.MaxTagsPerDay = d.MaxTagsPerDay
	}
	if c.MaxOpenDays == 0 {
		c.MaxOpenDays = d.MaxOpenDays
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	return c
}

// Validate reports every problem with c at once. Zero fields are fine: they
// take their defaults.
func (c CounterConfig) Validate() error {
	var errs []error
	if c.MaxKeysPerDay < 0 {
		errs = append(errs, fmt.Errorf("max keys per day %d is negative", c.MaxKeysPerDay))
	}
	if c.MaxTagsPerKey < 0 {
		errs = append(errs, fmt.Errorf("max tags per key %d is negative", c.MaxTagsPerKey))
	}
	if c.MaxTagsPerDay < 0 {
		errs = append(errs, fmt.Errorf("max tags per day %d is negative", c.MaxTagsPerDay))
	}
	if c.MaxOpenDays < 0 {
		errs = append(errs, fmt.Errorf("max open days %d is negative", c.MaxOpenDays))
	}
	return errors.Join(errs...)
}

// KeyCount is the closed-day count for one key.
type KeyCount struct {
	Devices int // distinct devices that reported the indicator
	New     int // of those, devices whose agent flagged it as new to the device
	// Saturated is set when a device could not be remembered because a cap
	// was reached: Devices and New are then lower bounds.
	Saturated bool
}

// DayCounts is what [DayCounter.CloseDay] hands back: aggregates only.
type DayCounts struct {
	Day Day
	// Reporting is the number of distinct devices that sent at least one
	// report, per region. A device that reported from two regions in one day
	// is counted in both.
	Reporting map[string]KeyCount
	// Sightings is the number of distinct devices per indicator and region.
	Sightings map[Key]KeyCount
	// DroppedKeys counts findings that were not counted at all because
	// MaxKeysPerDay was reached.
	DroppedKeys int
}

// DayCounter counts distinct devices per (day, key) without keeping device
// ids. Each day gets a fresh 32-byte salt from the injected random source;
// a device is remembered only as the first 8 bytes of
// HMAC-SHA256(salt, device id), in a set per key. CloseDay returns the counts
// and drops the salt and every set of that day, after which nobody, the
// operator included, can test whether a given device was among them.
//
// While a day is open its salt is in memory: someone who can read the
// process memory can test device ids against that day. Salts are never
// written anywhere, so a restart loses the open days' partial counts, and
// two counters (two server replicas) count one device twice unless reports
// are routed to a counter by device.
//
// Tags are 64 bits: with a million devices under one key the chance that two
// collide, undercounting by one, is about 3 in 100 million.
//
// A DayCounter is safe for concurrent use.
type DayCounter struct {
	cfg  CounterConfig
	rand io.Reader
	now  func() time.Time

	mu        sync.Mutex
	days      map[Day]*dayState
	closed    Day // watermark: no new day at or before it may open
	anyClosed bool
	buf       []byte
	sum       [sha256.Size]byte
}

type dayState struct {
	salt        []byte
	mac         hash.Hash
	keys        map[Key]*tagSet
	tags        int
	droppedKeys int
}

type tagSet struct {
	all       map[uint64]struct{}
	new       map[uint64]struct{}
	saturated bool
}

// reportingIndicator is the indicator under which the per-region reporting
// sets are kept; Observe rejects it in findings.
const reportingIndicator = ""

// NewDayCounter returns a counter that draws day salts from rand (use
// crypto/rand.Reader in production) and reads the day from now.
func NewDayCounter(cfg CounterConfig, rand io.Reader, now func() time.Time) (*DayCounter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("day counter config: %w", err)
	}
	if rand == nil {
		return nil, errors.New("day counter needs a random source")
	}
	if now == nil {
		return nil, errors.New("day counter needs a clock")
	}
	return &DayCounter{
		cfg:  cfg.withDefaults(),
		rand: rand,
		now:  now,
		days: make(map[Day]*dayState),
	}, nil
}

// Observe counts one report on the day the clock says it is: the device
// once as reporting in its region, and once under each finding's key.
// Repeated reports from the same device on the same day change nothing
// except that a finding flagged New counts toward New.
//
// It fails with ErrDayClosed when that day was already closed, with
// ErrTooManyOpenDays when opening it would pass MaxOpenDays, and with an
// error wrapping ErrKeyLimit when some finding was dropped because
// MaxKeysPerDay was reached (the others were counted).
func (c *DayCounter) Observe(o Observation) error {
	if o.Device == "" {
		return errors.New("observation has no device id")
	}
	for _, f := range o.Findings {
		if f.Indicator == reportingIndicator {
			return errors.New("finding has an empty indicator")
		}
	}
	day := DayOf(c.now(), c.cfg.Location)

	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.open(day)
	if err != nil {
		return err
	}
	tag := c.tag(st, o.Device)

	regions := []string{AllRegions}
	if o.Region != AllRegions {
		regions = append(regions, o.Region)
	}
	dropped := 0
	for _, region := range regions {
		if !c.add(st, Key{Indicator: reportingIndicator, Region: region}, tag, false) {
			dropped++
		}
		for _, f := range o.Findings {
			if !c.add(st, Key{Indicator: f.Indicator, Region: region}, tag, f.New) {
				dropped++
			}
		}
	}
	if dropped > 0 {
		return fmt.Errorf("%d of %d keys not counted on %s: %w", dropped, len(regions)*(len(o.Findings)+1), day, ErrKeyLimit)
	}
	return nil
}

// open returns the state of day, creating it with a fresh salt. c.mu is held.
func (c *DayCounter) open(day Day) (*dayState, error) {
	if st, ok := c.days[day]; ok {
		return st, nil
	}
	if c.anyClosed && day <= c.closed {
		return nil, fmt.Errorf("observe on %s: %w", day, ErrDayClosed)
	}
	if len(c.days) >= c.cfg.MaxOpenDays {
		return nil, fmt.Errorf("open %s with %d days open: %w", day, len(c.days), ErrTooManyOpenDays)
	}
	salt := make([]byte, 32)
	if _, err := io.ReadFull(c.rand, salt); err != nil {
		return nil, fmt.Errorf("draw salt for %s: %w", day, err)
	}
	st := &dayState{
		salt: salt,
		mac:  hmac.New(sha256.New, salt),
		keys: make(map[Key]*tagSet),
	}
	c.days[day] = st
	return st, nil
}

// tag returns the day-salted tag of a device id. c.mu is held.
func (c *DayCounter) tag(st *dayState, device string) uint64 {
	c.buf = append(c.buf[:0], device...)
	st.mac.Reset()
	st.mac.Write(c.buf)
	clear(c.buf) // the id must not outlive its day in c.buf
	sum := st.mac.Sum(c.sum[:0])
	return binary.BigEndian.Uint64(sum[:8])
}

// add puts tag into the set of k; it returns false when the key itself could
// not be tracked. c.mu is held.
func (c *DayCounter) add(st *dayState, k Key, tag uint64, isNew bool) bool {
	ts, ok := st.keys[k]
	if !ok {
		if len(st.keys) >= c.cfg.MaxKeysPerDay {
			st.droppedKeys++
			return false
		}
		ts = &tagSet{all: make(map[uint64]struct{})}
		st.keys[k] = ts
	}
	c.insert(st, ts, &ts.all, tag)
	if isNew {
		c.insert(st, ts, &ts.new, tag)
	}
	return true
}

func (c *DayCounter) insert(st *dayState, ts *tagSet, set *map[uint64]struct{}, tag uint64) {
	if *set == nil {
		*set = make(map[uint64]struct{})
	}
	if _, ok := (*set)[tag]; ok {
		return
	}
	if len(*set) >= c.cfg.MaxTagsPerKey || st.tags >= c.cfg.MaxTagsPerDay {
		ts.saturated = true
		return
	}
	(*set)[tag] = struct{}{}
	st.tags++
}

// CloseDay returns the counts of day and forgets its salt and device tags.
// A day that saw no reports closes with empty counts. Once closed, a day
// cannot be reopened: a new salt would count returning devices twice, so
// later observations for it fail with ErrDayClosed, and so does closing it
// again.
func (c *DayCounter) CloseDay(day Day) (DayCounts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := DayCounts{
		Day:       day,
		Reporting: make(map[string]KeyCount),
		Sightings: make(map[Key]KeyCount),
	}
	st, ok := c.days[day]
	if !ok {
		if c.anyClosed && day <= c.closed {
			return DayCounts{}, fmt.Errorf("close %s: %w", day, ErrDayClosed)
		}
		c.markClosed(day)
		return out, nil
	}
	for k, ts := range st.keys {
		kc := KeyCount{Devices: len(ts.all), New: len(ts.new), Saturated: ts.saturated}
		if k.Indicator == reportingIndicator {
			out.Reporting[k.Region] = kc
		} else {
			out.Sightings[k] = kc
		}
	}
	out.DroppedKeys = st.droppedKeys

	// Forget. Go cannot promise that no copy of the salt survives in freed
	// memory (the HMAC keeps derived pads), but nothing reachable does.
	clear(st.salt)
	st.mac.Reset()
	st.salt, st.mac, st.keys = nil, nil, nil
	delete(c.days, day)
	clear(c.sum[:])
	c.markClosed(day)
	return out, nil
}

func (c *DayCounter) markClosed(day Day) {
	if !c.anyClosed || day > c.closed {
		c.closed = day
	}
	c.anyClosed = true
}

// OpenDays lists the days that have state in memory, oldest first, so a
// caller can close days left open by a missed tick.
func (c *DayCounter) OpenDays() []Day {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Day, 0, len(c.days))
	for d := range c.days {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
