package store

import (
	"context"
	"time"
)

// IntelStore persists threat intelligence: indicators with their audit
// trail, and the protective feed built from them. (Sightings and their
// aggregates come later.)
//
// The feed is versioned: every write that puts an indicator on the feed or
// takes one off (status change, expiry) increments the feed version once
// and stamps the changed indicators with it, so a delta since version V is
// every feed entry of an indicator stamped after V. Indicators are never
// deleted, which keeps every delta computable and the audit trail whole.
type IntelStore interface {
	// PutIndicators inserts new indicators and refreshes known ones (same
	// type and value) in one transaction: all or nothing. A refresh keeps
	// the indicator's id and first sighting and takes the new source,
	// confidence, last sighting, expiry and status. Each change is recorded
	// with ch in the audit trail. It returns the stored indicators in the
	// order given.
	PutIndicators(ctx context.Context, ins []Indicator, ch Change) ([]Indicator, error)
	// SetIndicatorStatus changes an indicator's status (e.g. retires it),
	// with an audit event. ErrNotFound when there is no such indicator.
	SetIndicatorStatus(ctx context.Context, id, status string, ch Change) (Indicator, error)
	// ExpireIndicators marks active and pending indicators whose lifetime
	// ended at or before ch.At as expired and returns how many.
	ExpireIndicators(ctx context.Context, ch Change) (int64, error)
	// Indicator returns one indicator by id, or by type and value when id is
	// empty; ErrNotFound when there is none.
	Indicator(ctx context.Context, id, typ, value string) (Indicator, error)
	// Indicators lists indicators matching f, by type and value.
	Indicators(ctx context.Context, f IndicatorFilter) ([]Indicator, error)
	// IndicatorEvents returns an indicator's audit trail, oldest first.
	IndicatorEvents(ctx context.Context, id string) ([]IndicatorEvent, error)

	// FeedVersion returns the current feed version (0 before any change).
	FeedVersion(ctx context.Context) (int64, error)
	// FeedSnapshot calls fn for every feed entry (kind, value) of an active
	// indicator, each entry once, and returns the version it read at; the
	// read is consistent.
	FeedSnapshot(ctx context.Context, fn func(kind, value string) error) (version int64, err error)
	// FeedDelta returns what changed on the feed after version since, read
	// consistently at the returned version: entries added (of indicators
	// that became active) and removed (entries no active indicator carries
	// any more). At most limit of each; more gives truncated=true.
	FeedDelta(ctx context.Context, since int64, limit int) (d FeedDelta, truncated bool, err error)
	// FullHashes returns, for each of the given prefixes (feed values of
	// kind "prefix"), the full hashes of the active indicators listed
	// under it.
	FullHashes(ctx context.Context, prefixes []string) (map[string][]string, error)
}

// Indicator is a piece of threat intelligence: something that, seen on a
// device or in a transaction, means danger.
type Indicator struct {
	ID         string
	Type       string // intel.Type
	Value      string // canonical
	Source     string
	Confidence int // 0–100
	Status     string
	FirstSeen  time.Time
	LastSeen   time.Time
	Expires    time.Time // zero: never
	// FeedKind and FeedValue are the indicator's feed entry (empty kind
	// when the type is not on the feed); FullHash the full SHA-256 of a URL
	// or domain expression whose prefix FeedValue is.
	FeedKind  string
	FeedValue string
	FullHash  string
	// FeedVersion is the feed version at which the indicator last went on
	// or off the feed (set by the store).
	FeedVersion int64
	// ChangeReason, when set, is the audit reason of this indicator's
	// change in PutIndicators instead of Change.Reason (an import file's
	// per-line reason). It is not stored on the indicator.
	ChangeReason string
}

// Change says who or what changed intelligence, when and why: it goes into
// the audit trail.
type Change struct {
	Actor  string // "cli:alice", "import:feed.csv", "system"
	Reason string
	At     time.Time
}

// IndicatorEvent is one entry of an indicator's audit trail.
type IndicatorEvent struct {
	IndicatorID string
	At          time.Time
	Actor       string
	Action      string // created, refreshed, status
	FromStatus  string
	ToStatus    string
	Reason      string
}

// IndicatorFilter selects indicators; zero fields match everything.
type IndicatorFilter struct {
	Type   string
	Status string
	Limit  int // 0: no limit
}

// FeedEntry is a feed entry as the store keeps it.
type FeedEntry struct {
	Kind, Value string
}

// FeedDelta is the change of the feed between two versions.
type FeedDelta struct {
	Since, Version int64
	Add, Remove    []FeedEntry
}
