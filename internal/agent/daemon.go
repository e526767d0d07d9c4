package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Bounds and defaults of the daemon's schedule.
const (
	DefaultInterval = time.Hour
	MinInterval     = time.Minute
	MaxInterval     = 24 * time.Hour

	// IntervalJitter spreads reports by ±10% so a fleet started together
	// does not report together.
	IntervalJitter = 0.10

	DefaultMinBackoff = 5 * time.Second
	DefaultMaxBackoff = 15 * time.Minute

	// minRenewal keeps a certificate with a very short lifetime from
	// turning the daemon into a busy loop.
	minRenewal = 30 * time.Second
)

// Clock is the daemon's view of time. Tests pass a fake that advances
// virtual time, so hours of schedule run in milliseconds.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DaemonConfig configures a Daemon. Zero values take the defaults.
type DaemonConfig struct {
	Interval   time.Duration // between reports; [MinInterval, MaxInterval]
	MinBackoff time.Duration // first retry delay after a failed send
	MaxBackoff time.Duration // the retry delay never exceeds this
	WatchEvery time.Duration // how often the watched files are polled
	// WatchPaths are device paths under the agent's root whose change
	// triggers an immediate report; nil means WatchedPaths(runtime.GOOS),
	// an empty non-nil slice watches nothing.
	WatchPaths      []string
	QueueMaxEntries int
	QueueMaxBytes   int64
	Clock           Clock          // the system clock when nil
	Rand            func() float64 // uniform in [0, 1) for jitter; math/rand/v2 when nil
}

func (c *DaemonConfig) setDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.WatchEvery == 0 {
		c.WatchEvery = DefaultWatchEvery
	}
	if c.WatchPaths == nil {
		c.WatchPaths = defaultWatchedPaths()
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
}

// Validate reports every problem at once.
func (c DaemonConfig) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		errs = append(errs, fmt.Errorf("interval %v is outside [%v, %v]", c.Interval, MinInterval, MaxInterval))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff bounds %v..%v are not increasing", c.MinBackoff, c.MaxBackoff))
	}
	if c.WatchEvery < time.Second {
		errs = append(errs, fmt.Errorf("watch period %v is under 1s", c.WatchEvery))
	}
	return errors.Join(errs...)
}

// Daemon reports a device's health for as long as it runs: at start, every
// interval (with jitter), at half the certificate's lifetime, and at once
// when a watched file changes. Reports are queued on disk first and sent
// oldest first, so none is lost while the server is down or across a
// restart; failed sends are retried with bounded exponential backoff.
type Daemon struct {
	a     *Agent
	cfg   DaemonConfig
	queue *Queue
	log   *slog.Logger

	// OnSent, when set, is called after each report the server accepted.
	// It runs on the daemon's goroutine and must not block.
	OnSent func(QueuedReport, *Result)
}

// NewDaemon validates cfg and opens the report queue in the agent's state
// directory.
func NewDaemon(a *Agent, cfg DaemonConfig) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	q, err := OpenQueue(filepath.Join(a.cfg.StateDir, queueDir), cfg.QueueMaxEntries, cfg.QueueMaxBytes)
	if err != nil {
		return nil, err
	}
	return &Daemon{a: a, cfg: cfg, queue: q, log: a.log}, nil
}

// Queue returns the daemon's report queue.
func (d *Daemon) Queue() *Queue { return d.queue }

// now returns the clock's time without its monotonic reading, so deadlines
// are wall-clock times: after a laptop wakes from sleep, overdue reports are
// sent at once instead of one monotonic interval later.
func (d *Daemon) now() time.Time { return d.cfg.Clock.Now().Round(0) }

// Run reports until ctx is cancelled, then returns nil. Failures to send
// or to queue are logged and retried, never fatal.
func (d *Daemon) Run(ctx context.Context) error {
	now := d.now()
	nextReport := now // report at start
	nextWatch := now.Add(d.cfg.WatchEvery)
	var retryAt time.Time // when the queue may be sent again
	attempt := 0          // failed sends in a row
	byWatch := false      // the next report is due to a watched file's change
	fp := Fingerprint(d.a.cfg.Root, d.cfg.WatchPaths)
	d.log.Info("agent daemon started", slog.Duration("interval", d.cfg.Interval), slog.Int("queued", d.queue.Len()))

	for ctx.Err() == nil {
		now = d.now()
		// A clock set back (a wrong time corrected) leaves deadlines far in
		// the future: none may be further than its longest span from now.
		nextWatch = earliest(nextWatch, now.Add(d.cfg.WatchEvery))
		nextReport = earliest(nextReport, now.Add(time.Duration(float64(d.cfg.Interval)*(1+IntervalJitter))))
		retryAt = earliest(retryAt, now.Add(d.cfg.MaxBackoff))
		if !now.Before(nextWatch) {
			nextWatch = now.Add(d.cfg.WatchEvery)
			if f := Fingerprint(d.a.cfg.Root, d.cfg.WatchPaths); f != fp {
				fp = f
				d.log.Info("watched file changed: reporting now")
				nextReport = now
				byWatch = true
			}
		}
		if !now.Before(nextReport) {
			if err := d.enqueue(ctx, now); err != nil && ctx.Err() == nil {
				d.log.Error("cannot queue report", slog.Any("err", err))
			}
			nextReport = now.Add(d.jitter(d.cfg.Interval))
			// A new report is worth one immediate try, but not while tries
			// back off when it is a watched file's: a file some program
			// rewrites every minute would otherwise undo the backoff.
			if !byWatch || attempt == 0 {
				retryAt = now
			}
			byWatch = false
		}
		if d.queue.Len() > 0 && !now.Before(retryAt) {
			res, err := d.drain(ctx)
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil:
				wait := d.backoff(attempt)
				attempt++
				retryAt = now.Add(wait)
				d.log.Warn("report not sent: will retry", slog.Any("err", err),
					slog.Duration("retry_in", wait), slog.Int("queued", d.queue.Len()))
			default:
				attempt = 0
				if res != nil {
					if renew, ok := renewalDelay(res, now); ok && now.Add(renew).Before(nextReport) {
						nextReport = now.Add(renew)
					}
				}
			}
		}
		wake := earliest(nextReport, nextWatch)
		if d.queue.Len() > 0 {
			wake = earliest(wake, retryAt)
		}
		select {
		case <-ctx.Done():
		case <-d.cfg.Clock.After(max(wake.Sub(d.now()), 0)):
		}
	}
	d.log.Info("agent daemon stopped", slog.Int("queued", d.queue.Len()), slog.Int("dropped", d.queue.Dropped()))
	return nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// enqueue collects posture and queues it.
func (d *Daemon) enqueue(ctx context.Context, now time.Time) error {
	facts := d.a.Collect(ctx)
	r := QueuedReport{CollectedAt: now, Facts: facts, Findings: d.a.localFindings(ctx, facts)}
	if err := ctx.Err(); err != nil {
		// Shutting down: the collectors gave up, so facts is not the
		// device's posture.
		return err
	}
	dropped, err := d.queue.Push(r)
	if err != nil {
		return err
	}
	if dropped > 0 {
		d.log.Warn("report queue full: dropped the oldest reports",
			slog.Int("dropped", dropped), slog.Int("dropped_total", d.queue.Dropped()))
	}
	return nil
}

// drain sends queued reports oldest first until the queue is empty or a
// send fails. Each report is signed only now, over a fresh nonce. It
// returns the server's answer to the last report it sent.
func (d *Daemon) drain(ctx context.Context) (*Result, error) {
	id, err := d.a.Enroll(ctx)
	if err != nil {
		return nil, err
	}
	var last *Result
	for {
		r, ok, err := d.queue.Peek()
		if err != nil || !ok {
			return last, err
		}
		tok, err := d.a.Evidence(ctx, id, r.Facts, r.Findings)
		var res *Result
		if err == nil {
			res, err = d.a.Submit(ctx, tok)
		}
		var apiErr *APIError
		switch {
		case err == nil:
		case errors.As(err, &apiErr) && apiErr.Code == "unknown_device":
			// The server forgot this device (its database was reset): enrol
			// again on the next try.
			if rmErr := os.Remove(filepath.Join(d.a.cfg.StateDir, enrolmentFile)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
				d.log.Warn("cannot forget enrolment", slog.Any("err", rmErr))
			}
			return last, err
		case errors.As(err, &apiErr) && refusedForGood(apiErr.Code),
			errors.Is(err, evidence.ErrSchema), errors.Is(err, evidence.ErrTooLarge):
			// Sending it again would be refused again (by the server, or by
			// our own signing checks); keep the queue moving.
			d.log.Warn("server refused a queued report: dropping it", slog.Any("err", err),
				slog.Time("collected_at", r.CollectedAt))
			if err := d.queue.Remove(r.Seq); err != nil {
				return last, err
			}
			d.queue.countDrop()
			continue
		default:
			return last, err
		}
		if err := d.queue.Remove(r.Seq); err != nil {
			return res, err
		}
		last = res
		d.log.Info("report sent", slog.String("tier", res.Tier), slog.Int("score", res.Score),
			slog.Time("collected_at", r.CollectedAt), slog.Time("expires_at", res.ExpiresAt))
		if d.OnSent != nil {
			d.OnSent(r, res)
		}
	}
}

// refusedForGood reports whether the server refused the evidence itself,
// not the moment (nonce, clock) or its own state.
func refusedForGood(code string) bool {
	switch code {
	case "evidence_too_large", "evidence_malformed", "evidence_schema":
		return true
	}
	return false
}

// jitter returns d spread uniformly by ±IntervalJitter.
func (d *Daemon) jitter(v time.Duration) time.Duration {
	return time.Duration(float64(v) * (1 - IntervalJitter + 2*IntervalJitter*d.cfg.Rand()))
}

// backoff returns the delay before retry number attempt (0 for the first):
// MinBackoff doubled per attempt, capped at MaxBackoff, with "equal jitter"
// (a uniform draw in the upper half) so that a fleet spreads out after an
// outage while each device's delays still never shrink.
func (d *Daemon) backoff(attempt int) time.Duration {
	ceiling := d.cfg.MaxBackoff
	if attempt < 63 && d.cfg.MinBackoff <= d.cfg.MaxBackoff>>attempt { // MinBackoff<<attempt would not overflow
		ceiling = d.cfg.MinBackoff << attempt
	}
	return ceiling/2 + time.Duration(float64(ceiling/2)*d.cfg.Rand())
}

// renewalDelay returns when, from now, the certificate in res should be
// renewed: at half its lifetime. The lifetime is taken from the
// certificate's own iat and exp (both server clock), so a device clock that
// is off does not shift the renewal; ExpiresAt minus now is the fallback.
func renewalDelay(res *Result, now time.Time) (time.Duration, bool) {
	life, ok := certificateLifetime(res.Certificate)
	if !ok {
		if res.ExpiresAt.IsZero() {
			return 0, false
		}
		life = res.ExpiresAt.Sub(now)
	}
	if life <= 0 {
		return 0, false
	}
	return max(life/2, minRenewal), true
}

// certificateLifetime reads iat and exp from a JWT without verifying it:
// the agent only schedules by them, it never trusts them.
func certificateLifetime(jwt string) (time.Duration, bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return 0, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, false
	}
	var c struct {
		IAT int64 `json:"iat"`
		EXP int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.IAT == 0 || c.EXP <= c.IAT {
		return 0, false
	}
	return time.Duration(c.EXP-c.IAT) * time.Second, true
}
