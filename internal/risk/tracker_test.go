package risk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestTrackerMatchesBruteForce drives the incremental windows with random
// activity and compares every answer with a recount over all events.
func TestTrackerMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := NewTracker(1000, 1<<20)
	var all []Activity
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	recount := func(account, device string, now time.Time) Signals {
		var s Signals
		devs, accts := map[string]bool{}, map[string]bool{}
		if device != "" {
			devs[device] = true
		}
		if account != "" {
			accts[account] = true
		}
		for _, a := range all {
			age := now.Sub(a.At)
			if age > LongWindow {
				continue
			}
			if a.Account == account {
				if a.Device != "" {
					devs[a.Device] = true
				}
				if a.Payment {
					s.Velocity.AccountPayments24h++
					s.Velocity.AccountSum24h += a.Amount
					if age <= ShortWindow {
						s.Velocity.AccountPayments1h++
						s.Velocity.AccountSum1h += a.Amount
					}
				}
			}
			if device != "" && a.Device == device {
				accts[a.Account] = true
				if a.Payment {
					s.Velocity.DevicePayments24h++
					s.Velocity.DeviceSum24h += a.Amount
					if age <= ShortWindow {
						s.Velocity.DevicePayments1h++
						s.Velocity.DeviceSum1h += a.Amount
					}
				}
			}
		}
		s.Account.DevicesDay = len(devs)
		s.Device.AccountsDay = len(accts)
		if device == "" {
			s.Device.AccountsDay = 0
		}
		return s
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	for i := range 20_000 {
		// Mostly busy minutes, now and then a quiet stretch of hours.
		gap := time.Duration(rng.IntN(120)) * time.Second
		if rng.IntN(200) == 0 {
			gap = time.Duration(rng.IntN(30)) * time.Hour
		}
		now = now.Add(gap)
		account := fmt.Sprintf("a%d", rng.IntN(40))
		device := ""
		if rng.IntN(10) > 0 {
			device = fmt.Sprintf("d%d", rng.IntN(25))
		}
		if i%7 == 0 {
			var got Signals
			tr.Fill(&got, account, device, now)
			want := recount(account, device, now)
			g, w := got.Velocity, want.Velocity
			if g.AccountPayments1h != w.AccountPayments1h || g.AccountPayments24h != w.AccountPayments24h ||
				g.DevicePayments1h != w.DevicePayments1h || g.DevicePayments24h != w.DevicePayments24h ||
				!near(g.AccountSum1h, w.AccountSum1h) || !near(g.AccountSum24h, w.AccountSum24h) ||
				!near(g.DeviceSum1h, w.DeviceSum1h) || !near(g.DeviceSum24h, w.DeviceSum24h) ||
				got.Account.DevicesDay != want.Account.DevicesDay || got.Device.AccountsDay != want.Device.AccountsDay {
				t.Fatalf("step %d (%s on %q): got %+v devices/day %d accounts/day %d, want %+v %d %d", i, account, device,
					g, got.Account.DevicesDay, got.Device.AccountsDay, w, want.Account.DevicesDay, want.Device.AccountsDay)
			}
		}
		a := Activity{Account: account, Device: device, Payment: rng.IntN(4) > 0, Amount: float64(rng.IntN(100000)) / 100, At: now}
		tr.Observe(a)
		all = append(all, a)
	}
}

// TestTrackerFarm: a device used by more accounts than the short list
// holds switches to a map and still counts each once, and forgets them as
// the day passes.
func TestTrackerFarm(t *testing.T) {
	tr := NewTracker(10, 256)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i := range 100 {
		tr.Observe(Activity{Account: fmt.Sprintf("a%d", i), Device: "farm", At: now})
		tr.Observe(Activity{Account: fmt.Sprintf("a%d", i%3), Device: "farm", At: now}) // seen again: counted once
	}
	var s Signals
	tr.Fill(&s, "a0", "farm", now)
	if s.Device.AccountsDay != 100 {
		t.Errorf("accounts/day = %d, want 100", s.Device.AccountsDay)
	}
	tr.Fill(&s, "new", "farm", now.Add(LongWindow+time.Second))
	if s.Device.AccountsDay != 1 {
		t.Errorf("a day later accounts/day = %d, want 1 (the current account)", s.Device.AccountsDay)
	}
}

// BenchmarkTrackerHotKey is the load generator's pattern: one device used
// with ten accounts, hundreds of events in its window.
func BenchmarkTrackerHotKey(b *testing.B) {
	tr := NewTracker(1000, 256)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	accounts := make([]string, 10)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("rp_0123456789abcdef\x00account-hash-%022d", i)
	}
	const device = "rp_0123456789abcdef\x00device-0123456789abcdef0123456789"
	var s Signals
	i := 0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		acct := accounts[i%len(accounts)]
		tr.Fill(&s, acct, device, now)
		tr.Observe(Activity{Account: acct, Device: device, Payment: true, Amount: 42, At: now})
		i++
	}
}
