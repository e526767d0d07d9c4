package store

import (
	"context"
	"time"
)

// SurveillanceStore persists what public-health surveillance keeps: daily
// aggregate counts of distinct devices per finding and indicator (never
// which device saw what) and the outbreak alerts raised on them.
//
// Days are civil dates counted in days since 1970-01-01 (the value of a
// surveillance.Day). Nothing here has a device id, a device tag or a salt:
// a closed day is only numbers.
type SurveillanceStore interface {
	// PutSurveillanceDay stores one closed day's aggregates in one
	// transaction: all or nothing. A day is stored once; storing it again
	// gives ErrConflict and changes nothing.
	PutSurveillanceDay(ctx context.Context, d SurveillanceDay) error
	// SurveillanceDay returns one stored day with every count, sightings
	// ordered by key and region; ErrNotFound when the day was not stored.
	SurveillanceDay(ctx context.Context, day int64) (SurveillanceDay, error)
	// LatestSurveillanceDay returns the newest stored day; ErrNotFound when
	// none is.
	LatestSurveillanceDay(ctx context.Context) (int64, error)
	// SightingSeries returns, for every stored day in [from, to], oldest
	// first, the devices that reported key and the devices that reported at
	// all, in all regions: the counts of region "" (surveillance.AllRegions),
	// where a device seen in several regions counts once. A stored day
	// without the key has 0 devices; a day that was never stored is absent.
	SightingSeries(ctx context.Context, key string, from, to int64) ([]DailySighting, error)

	// PutSurveillanceAlerts stores alerts, idempotently: an alert whose
	// (day, key, method) is already stored is left as it is. It returns the
	// alerts that were new.
	PutSurveillanceAlerts(ctx context.Context, as []SurveillanceAlert) ([]SurveillanceAlert, error)
	// SurveillanceAlerts lists alerts of days at or after since, by day,
	// key and method; at most limit (0: no limit).
	SurveillanceAlerts(ctx context.Context, since int64, limit int) ([]SurveillanceAlert, error)
}

// SurveillanceDay is one closed day's aggregates.
type SurveillanceDay struct {
	Day    int64
	Closed time.Time
	// DroppedKeys counts findings not counted because the day's key cap
	// was reached.
	DroppedKeys int
	// Reporting is the number of distinct devices that reported, per
	// region ("" when no region was given).
	Reporting []RegionCount
	// Sightings is the number of distinct devices per key and region.
	Sightings []SightingCount
}

// RegionCount is the number of distinct reporting devices in one region.
type RegionCount struct {
	Region    string
	Devices   int
	Saturated bool // a cap was reached: Devices is a lower bound
}

// SightingCount is the number of distinct devices that reported one key
// ("finding:known_malware", "sha256:<hex>", …) in one region on one day.
type SightingCount struct {
	Key       string
	Region    string
	Devices   int
	New       int  // of those, devices whose agent flagged it as new
	Saturated bool // a cap was reached: the counts are lower bounds
}

// DailySighting is one day of a key's series, summed over regions.
type DailySighting struct {
	Day       int64
	Devices   int
	New       int
	Reporting int
	Saturated bool
}

// SurveillanceAlert is an outbreak alarm on one key's daily device counts.
type SurveillanceAlert struct {
	ID        string
	Day       int64
	Key       string
	Method    string  // "C1", "C2", "C3", "surge", "doubling"
	Observed  float64 // devices on Day
	Expected  float64 // the baseline mean (EARS) or the day before (growth)
	Statistic float64 // the EARS statistic, or the growth ratio
	Created   time.Time
}

// DayStart returns midnight UTC at the start of day (days since
// 1970-01-01).
func DayStart(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }
