package risk

import (
	"slices"
	"sync"
	"time"
)

// Window lengths of the velocity signals.
const (
	ShortWindow = time.Hour
	LongWindow  = 24 * time.Hour
)

// Tracker keeps, per account and per device, the recent activity behind
// the velocity and devices/accounts-per-day signals: sliding windows over
// the last LongWindow, in memory, bounded. Each key keeps at most perKey
// events (when full the oldest quarter is dropped, so counts saturate
// between 3/4 perKey and perKey) and at
// most maxKeys keys are kept per kind (an arbitrary key is forgotten when
// full). The server rebuilds it from the decisions table after a restart.
// Safe for concurrent use.
type Tracker struct {
	maxKeys, perKey int

	mu       sync.Mutex
	accounts map[string]*history
	devices  map[string]*history
}

type event struct {
	at      time.Time
	amount  float64
	payment bool
	other   string // the device (in an account's history) or account (in a device's)
}

type history struct{ ev []event }

// NewTracker returns a tracker bounded to maxKeys accounts and maxKeys
// devices, perKey events each.
func NewTracker(maxKeys, perKey int) *Tracker {
	return &Tracker{maxKeys: max(maxKeys, 1), perKey: max(perKey, 1),
		accounts: make(map[string]*history), devices: make(map[string]*history)}
}

// Activity is one decided transaction, as the tracker sees it. Account and
// Device are opaque keys (the server uses relying party + keyed hash).
type Activity struct {
	Account, Device string
	Payment         bool
	Amount          float64
	At              time.Time
}

// Observe records an activity.
func (t *Tracker) Observe(a Activity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.Account != "" {
		t.add(t.accounts, a.Account, event{a.At, a.Amount, a.Payment, a.Device}, a.At)
	}
	if a.Device != "" {
		t.add(t.devices, a.Device, event{a.At, a.Amount, a.Payment, a.Account}, a.At)
	}
}

func (t *Tracker) add(m map[string]*history, key string, e event, now time.Time) {
	h := m[key]
	if h == nil {
		if len(m) >= t.maxKeys {
			for k := range m {
				delete(m, k)
				break
			}
		}
		h = &history{}
		m[key] = h
	}
	h.prune(now)
	if len(h.ev) >= t.perKey {
		// Drop the oldest quarter at once: amortised O(1) per event
		// instead of a shift of the whole window every time.
		drop := max(1, t.perKey/4)
		h.ev = append(h.ev[:0], h.ev[drop:]...)
	}
	h.ev = append(h.ev, e)
}

func (h *history) prune(now time.Time) {
	i := 0
	for i < len(h.ev) && now.Sub(h.ev[i].at) > LongWindow {
		i++
	}
	if i > 0 {
		h.ev = append(h.ev[:0], h.ev[i:]...)
	}
}

type windowStats struct {
	payments1h, payments24h int
	sum1h, sum24h           float64
	distinct                int // distinct "other" in 24 h, the current one included
}

func (h *history) stats(now time.Time, current string) windowStats {
	var s windowStats
	if h == nil {
		if current != "" {
			s.distinct = 1
		}
		return s
	}
	// Distinct others: linear over a small slice, which beats a map for
	// the handful a real account or device has; a map past 16.
	var buf [16]string
	seen := buf[:0]
	var many map[string]struct{}
	if current != "" {
		seen = append(seen, current)
	}
	for _, e := range h.ev {
		age := now.Sub(e.at)
		if age > LongWindow || age < 0 {
			continue
		}
		switch {
		case e.other == "":
		case many != nil:
			many[e.other] = struct{}{}
		case !slices.Contains(seen, e.other):
			seen = append(seen, e.other)
			if len(seen) == len(buf) {
				many = make(map[string]struct{}, 2*len(buf))
				for _, o := range seen {
					many[o] = struct{}{}
				}
			}
		}
		if !e.payment {
			continue
		}
		s.payments24h++
		s.sum24h += e.amount
		if age <= ShortWindow {
			s.payments1h++
			s.sum1h += e.amount
		}
	}
	s.distinct = len(seen)
	if many != nil {
		s.distinct = len(many)
	}
	return s
}

// Fill sets the velocity signals and the per-day device and account counts
// for a transaction of account on device at now, from earlier activity.
func (t *Tracker) Fill(s *Signals, account, device string, now time.Time) {
	t.mu.Lock()
	a := t.accounts[account].stats(now, device)
	var d windowStats
	if device != "" {
		d = t.devices[device].stats(now, account)
	}
	t.mu.Unlock()
	s.Velocity = VelocitySignals{
		AccountPayments1h: a.payments1h, AccountSum1h: a.sum1h, AccountPayments24h: a.payments24h, AccountSum24h: a.sum24h,
		DevicePayments1h: d.payments1h, DeviceSum1h: d.sum1h, DevicePayments24h: d.payments24h, DeviceSum24h: d.sum24h,
	}
	s.Account.DevicesDay = a.distinct
	s.Device.AccountsDay = d.distinct
}
