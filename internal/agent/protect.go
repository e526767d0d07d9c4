package agent

import (
	"context"
	"log/slog"
	"math/rand/v2"
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
	if now.Before(p.next) {
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

// localFindings syncs the feed if due and matches facts against it.
func (a *Agent) localFindings(ctx context.Context, facts evidence.Facts) []evidence.Finding {
	if a.protect == nil {
		return nil
	}
	a.syncFeedIfDue(ctx)
	return a.protect.feed.Check(facts)
}
