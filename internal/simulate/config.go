package simulate

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Bounds of a run.
const (
	MaxDevices  = 100_000
	MaxDays     = 365
	MaxGrowth   = 100.0
	MaxWorkers  = 64
	reportSlots = 94 // 15-minute slots from 00:30 to 23:45 UTC
)

// Config configures a run. Zero values take the defaults of Default.
type Config struct {
	Devices int // fleet size, 1..MaxDevices
	Days    int // simulated days, 1..MaxDays
	// OutbreakDay is the day (1-based) the new malware appears; 0 means no
	// outbreak.
	OutbreakDay int
	// OutbreakDevices is how many devices catch it on OutbreakDay (K0).
	OutbreakDevices int
	// OutbreakGrowth is the factor R by which the infected devices grow
	// each day, bounded by the fleet: min(N, ceil(K0·R^(day-K))).
	OutbreakGrowth float64
	// ListingDelay is how many days after OutbreakDay the new hash reaches
	// the agents' protective feed (an analyst listed it); from then on every
	// infected device's agent matches it. -1: never listed.
	ListingDelay int
	Seed         uint64
	// Start is the first simulated day (truncated to midnight UTC).
	Start time.Time
	// DataDir keeps the SQLite database (healthgate.db) and the agents'
	// state (agents/); empty means a temporary directory removed at the end.
	DataDir string
	// Workers is how many devices report at the same time within a slot.
	Workers int
	Logger  *slog.Logger
	// OnDay, when set, is called after each simulated day.
	OnDay func(DayStats)
}

// Default returns the defaults: 1,000 devices over 30 days, an outbreak of
// 3 devices doubling daily from day 20, listed 3 days later.
func Default() Config {
	return Config{Devices: 1000, Days: 30, OutbreakDay: 20, OutbreakDevices: 3, OutbreakGrowth: 2,
		ListingDelay: 3, Seed: 1, Workers: 4}
}

// AutoOutbreakDay is the outbreak day used when none is given: two thirds
// through the run, so that the detectors have a baseline before it.
func AutoOutbreakDay(days int) int { return max(1, days-days/3) }

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Devices < 1 || c.Devices > MaxDevices {
		errs = append(errs, fmt.Errorf("devices must be 1 to %d, not %d", MaxDevices, c.Devices))
	}
	if c.Days < 1 || c.Days > MaxDays {
		errs = append(errs, fmt.Errorf("days must be 1 to %d, not %d", MaxDays, c.Days))
	}
	if c.OutbreakDay < 0 || c.OutbreakDay > max(c.Days, 1) {
		errs = append(errs, fmt.Errorf("outbreak day must be 0 (none) to the number of days (%d), not %d", c.Days, c.OutbreakDay))
	}
	if c.OutbreakDay > 0 {
		if c.OutbreakDevices < 1 || c.OutbreakDevices > max(c.Devices, 1) {
			errs = append(errs, fmt.Errorf("outbreak devices must be 1 to the number of devices (%d), not %d", c.Devices, c.OutbreakDevices))
		}
		if math.IsNaN(c.OutbreakGrowth) || c.OutbreakGrowth < 1 || c.OutbreakGrowth > MaxGrowth {
			errs = append(errs, fmt.Errorf("outbreak growth must be 1 to %g, not %g", MaxGrowth, c.OutbreakGrowth))
		}
	}
	if c.ListingDelay < -1 || c.ListingDelay > MaxDays {
		errs = append(errs, fmt.Errorf("listing delay must be -1 (never) to %d days, not %d", MaxDays, c.ListingDelay))
	}
	if c.Workers < 1 || c.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("workers must be 1 to %d, not %d", MaxWorkers, c.Workers))
	}
	if c.Start.IsZero() {
		errs = append(errs, errors.New("start day is required"))
	}
	return errors.Join(errs...)
}

// infected is how many devices carry the outbreak on day (1-based).
func (c Config) infected(day int) int {
	if c.OutbreakDay == 0 || day < c.OutbreakDay {
		return 0
	}
	n := float64(c.OutbreakDevices) * math.Pow(c.OutbreakGrowth, float64(day-c.OutbreakDay))
	if n >= float64(c.Devices) {
		return c.Devices
	}
	return int(math.Ceil(n - 1e-9))
}

// listed reports whether the outbreak hash is on the feed on day.
func (c Config) listed(day int) bool {
	return c.OutbreakDay > 0 && c.ListingDelay >= 0 && day >= c.OutbreakDay+c.ListingDelay
}
