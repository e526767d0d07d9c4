package risk

import (
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
// between 3/4 perKey and perKey) and at most maxKeys keys are kept per kind
// (an arbitrary key is forgotten when full). The server rebuilds it from
// the decisions table after a restart. Safe for concurrent use.
//
// The windows are kept incrementally: each key holds running counts and
// sums for the last hour and day and how many events each "other" (device
// of an account, account of a device) has in the day, updated as events
// enter and leave. Reading the signals costs the same whether a key has
// one event or perKey.
type Tracker struct {
	maxKeys, perKey int

	mu       sync.Mutex
	accounts map[string]*history
	devices  map[string]*history
}

type event struct {
	at      int64 // Unix nanoseconds
	amount  float64
	other   string // the device (in an account's history) or account (in a device's)
	payment bool
}

// history is one key's events in time order. ev[head:] are the events of
// the last LongWindow, ev[mid:] those of the last ShortWindow; the counts
// and sums cover exactly those ranges.
type history struct {
	ev        []event
	head, mid int

	payments1h, payments24h int
	sum1h, sum24h           float64

	// How many of the day's events name each other key: a short list,
	// since real accounts and devices have a handful, and a map past
	// otherListMax (device farms).
	others []otherCount
	many   map[string]int
}

type otherCount struct {
	key string
	n   int
}

const otherListMax = 16

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

// Observe records an activity. Activities are expected in time order (the
// server observes each decision as it is made, and replays the stored ones
// oldest first); one older than the key's newest event counts as made at
// the same time as that one.
func (t *Tracker) Observe(a Activity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := a.At.UnixNano()
	if a.Account != "" {
		t.add(t.accounts, a.Account, event{at, a.Amount, a.Device, a.Payment})
	}
	if a.Device != "" {
		t.add(t.devices, a.Device, event{at, a.Amount, a.Account, a.Payment})
	}
}

func (t *Tracker) add(m map[string]*history, key string, e event) {
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
	if n := len(h.ev); n > 0 && e.at < h.ev[n-1].at {
		e.at = h.ev[n-1].at
	}
	h.advance(e.at)
	if len(h.ev)-h.head >= t.perKey {
		// Drop the oldest quarter at once: amortised O(1) per event.
		for range max(1, t.perKey/4) {
			if h.mid == h.head {
				h.leaveShort(h.ev[h.mid])
				h.mid++
			}
			h.leaveLong(h.ev[h.head])
			h.head++
		}
		h.compact()
	}
	h.ev = append(h.ev, e)
	h.countOther(e.other, 1)
	if e.payment {
		h.payments1h++
		h.payments24h++
		h.sum1h += e.amount
		h.sum24h += e.amount
	}
}

// advance moves the windows to now: events older than a window leave it.
func (h *history) advance(now int64) {
	for h.mid < len(h.ev) && now-h.ev[h.mid].at > int64(ShortWindow) {
		h.leaveShort(h.ev[h.mid])
		h.mid++
	}
	for h.head < h.mid && now-h.ev[h.head].at > int64(LongWindow) {
		h.leaveLong(h.ev[h.head])
		h.head++
	}
	h.compact()
}

func (h *history) leaveShort(e event) {
	if e.payment {
		h.payments1h--
		h.sum1h -= e.amount
		if h.payments1h == 0 {
			h.sum1h = 0 // no rounding left behind by the subtractions
		}
	}
}

func (h *history) leaveLong(e event) {
	h.countOther(e.other, -1)
	if e.payment {
		h.payments24h--
		h.sum24h -= e.amount
		if h.payments24h == 0 {
			h.sum24h = 0
		}
	}
}

// compact drops the events that left the day once they are half the slice,
// so that each event is moved at most once on average.
func (h *history) compact() {
	if h.head == 0 || h.head < len(h.ev)/2 {
		return
	}
	n := copy(h.ev, h.ev[h.head:])
	clear(h.ev[n:]) // let go of the keys
	h.ev = h.ev[:n]
	h.mid -= h.head
	h.head = 0
}

// countOther adds d to the count of events naming other.
func (h *history) countOther(other string, d int) {
	if other == "" {
		return
	}
	if h.many != nil {
		if h.many[other] += d; h.many[other] <= 0 {
			delete(h.many, other)
		}
		return
	}
	for i := range h.others {
		if h.others[i].key == other {
			if h.others[i].n += d; h.others[i].n <= 0 {
				h.others[i] = h.others[len(h.others)-1]
				h.others = h.others[:len(h.others)-1]
			}
			return
		}
	}
	if d <= 0 {
		return
	}
	if len(h.others) < otherListMax {
		h.others = append(h.others, otherCount{other, d})
		return
	}
	h.many = make(map[string]int, 2*otherListMax)
	for _, o := range h.others {
		h.many[o.key] = o.n
	}
	h.many[other] = d
	h.others = nil
}

// hasOther reports whether an event of the day names other.
func (h *history) hasOther(other string) bool {
	if h.many != nil {
		_, ok := h.many[other]
		return ok
	}
	for _, o := range h.others {
		if o.key == other {
			return true
		}
	}
	return false
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
	h.advance(now.UnixNano())
	s.payments1h, s.payments24h, s.sum1h, s.sum24h = h.payments1h, h.payments24h, h.sum1h, h.sum24h
	s.distinct = len(h.others) + len(h.many)
	if current != "" && !h.hasOther(current) {
		s.distinct++
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
