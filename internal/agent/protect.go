package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// protection keeps the protective feed in step with the server and checks
// the device's facts against it before each report: what one device saw
// protects every other (collective defense).
type protection struct {
	feed *FeedSync

	mu       sync.Mutex
	next     time.Time // when the next sync is due
	failures int
}

// syncIfDue updates the feed when its schedule says so: every 30 minutes
// with jitter, backing off (bounded) while the server fails. A failure never
// stops a report; the last good feed is used.
func (a *Agent) syncFeedIfDue(ctx context.Context) {
	p := a.protect
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := a.cfg.Now()
	// A next sync further away than any delay we set means the clock was
	// set back since: sync now rather than wait out the difference.
	if now.Before(p.next) && p.next.Sub(now) <= FeedMaxBackoff {
		return
	}
	if _, err := p.feed.Sync(ctx); err != nil {
		p.failures++
		a.log.Warn("protective feed sync failed; using the last good feed", slog.Any("err", err), slog.Int("failures", p.failures))
	} else {
		p.failures = 0
	}
	p.next = now.Add(FeedSyncDelay(p.failures, rand.Float64()))
}

// localFindings syncs the feed if due and matches facts against it. A
// finding is marked New when this device had not matched its subject in
// the last 30 days, so the service can count new cases (incidence) without
// keeping which device saw what.
func (a *Agent) localFindings(ctx context.Context, facts evidence.Facts) []evidence.Finding {
	if a.protect == nil {
		return nil
	}
	a.syncFeedIfDue(ctx)
	fs := a.protect.feed.Check(facts)
	a.markNew(fs)
	return fs
}

// Matches are remembered for this long, at most maxMatches of them.
const (
	matchMemory = 30 * 24 * time.Hour
	maxMatches  = 10_000
)

// markNew sets New on findings whose subject this device has not matched
// within matchMemory, and remembers them (matches.json in the state dir).
func (a *Agent) markNew(fs []evidence.Finding) {
	if len(fs) == 0 {
		return
	}
	p := a.protect
	p.mu.Lock()
	defer p.mu.Unlock()
	path := filepath.Join(a.cfg.StateDir, matchesFile)
	seen := map[string]time.Time{}
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &seen) // a damaged file only forgets history
	}
	now := a.cfg.Now()
	for k, at := range seen {
		if now.Sub(at) > matchMemory {
			delete(seen, k)
		}
	}
	for i := range fs {
		if fs[i].Subject == "" {
			continue
		}
		k := fs[i].Code + ":" + fs[i].Subject
		if _, ok := seen[k]; !ok {
			fs[i].New = true
		}
		if len(seen) < maxMatches || !fs[i].New {
			seen[k] = now
		}
	}
	if b, err := json.Marshal(seen); err == nil {
		if err := writeFileAtomic(path, b, 0o600); err != nil {
			a.log.Warn("remembering feed matches", slog.Any("err", err))
		}
	}
}
