package simulate

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	mrand "math/rand/v2"

	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// serverURL is the base URL the agents are configured with; requests never
// leave the process (inProcess).
const serverURL = "http://healthgate.simulate"

// Tiers in the order they are reported.
var Tiers = []string{"affirming", "warning", "contraindicated", "none"}

// DayStats is one simulated day.
type DayStats struct {
	Day       int            `json:"day"` // 1-based
	Date      string         `json:"date"`
	Reporting int            `json:"reporting"`
	Tiers     map[string]int `json:"tiers"`
	// Infected is how many devices carry the outbreak executable;
	// InfectedReporting how many of them reported that day.
	Infected          int `json:"infected"`
	InfectedReporting int `json:"infected_reporting"`
	// HashSightings is how many reporting devices had a finding naming the
	// outbreak hash: what the server's surveillance can count for it.
	HashSightings int  `json:"hash_sightings"`
	Listed        bool `json:"listed"` // the hash was on the feed
}

// Alert is an outbreak alert the server raised.
type Alert struct {
	Day      string  `json:"day"`
	Key      string  `json:"key"`
	Method   string  `json:"method"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Outbreak bool    `json:"outbreak"` // about the outbreak hash
}

// Summary is the result of a run. Everything but Timing is deterministic
// for a seed.
type Summary struct {
	Devices      int            `json:"devices"`
	Days         []DayStats     `json:"days"`
	Profiles     map[string]int `json:"profiles"`
	OutbreakHash string         `json:"outbreak_hash,omitempty"`
	OutbreakDay  int            `json:"outbreak_day,omitempty"`
	ListedDay    int            `json:"listed_day,omitempty"`
	// Surveillance says whether the server answered
	// GET /v1/surveillance/alerts; Alerts are its answer.
	Surveillance bool    `json:"surveillance"`
	Alerts       []Alert `json:"alerts"`
	// FirstOutbreakAlert is the day (1-based) of the first alert about the
	// outbreak hash; 0 when none.
	FirstOutbreakAlert int    `json:"first_outbreak_alert,omitempty"`
	Timing             Timing `json:"timing"`
}

// Timing is how fast the run went.
type Timing struct {
	Reports          int     `json:"reports"`
	Seconds          float64 `json:"seconds"`
	ReportsPerSecond float64 `json:"reports_per_second"`
}

// Clock is a settable clock, the server's and every agent's Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the simulated time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Run simulates the fleet day by day and returns the summary.
func Run(ctx context.Context, c Config) (*Summary, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start := c.Start.UTC().Truncate(24 * time.Hour)
	dir := c.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "healthgate-simulate-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "healthgate.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	clock := &Clock{t: start}
	srv, err := server.New(ctx, server.Options{Store: st, Logger: c.Logger, Version: "simulate", Now: clock.Now})
	if err != nil {
		return nil, err
	}
	h := srv.Handler()
	adminKey, err := adminKey(ctx, st, clock.Now())
	if err != nil {
		return nil, err
	}

	fleet := newFleet(c)
	sum := &Summary{Devices: c.Devices, Profiles: map[string]int{}, Alerts: []Alert{}}
	for _, d := range fleet {
		sum.Profiles[string(d.profile)]++
	}
	hash := ""
	if c.OutbreakDay > 0 {
		hash = OutbreakHash(c.Seed)
		sum.OutbreakHash, sum.OutbreakDay = hash, c.OutbreakDay
		if c.ListingDelay >= 0 && c.OutbreakDay+c.ListingDelay <= c.Days {
			sum.ListedDay = c.OutbreakDay + c.ListingDelay
		}
	}
	// The order in which devices catch the outbreak: the first
	// infected(day) of it are infected, so the set only grows.
	order := mrand.New(mrand.NewPCG(c.Seed, 0)).Perm(c.Devices)
	rank := make([]int, c.Devices)
	for r, i := range order {
		rank[i] = r
	}
	agents := make([]*agent.Agent, c.Devices)

	began := time.Now()
	reports := 0
	for day := 1; day <= c.Days; day++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dayStart := start.Add(time.Duration(day-1) * 24 * time.Hour)
		// Close yesterday on the server (surveillance closes a day after a
		// grace period past midnight), as its background loop would.
		clock.Set(dayStart.Add(20 * time.Minute))
		srv.Maintain(ctx)

		infected := c.infected(day)
		listed := c.listed(day)
		ds := DayStats{Day: day, Date: dayStart.Format(time.DateOnly), Tiers: map[string]int{}, Infected: infected, Listed: listed}
		for _, t := range Tiers {
			ds.Tiers[t] = 0
		}
		// Who reports today and when, drawn in device order so the plan is
		// the same whatever the scheduling.
		r := mrand.New(mrand.NewPCG(c.Seed, uint64(day)<<32))
		slots := make([][]int, reportSlots)
		for i, d := range fleet {
			reports := r.Float64() < d.reliability
			slot := r.IntN(reportSlots)
			if reports {
				slots[slot] = append(slots[slot], i)
			}
		}
		var mu sync.Mutex
		for s, devs := range slots {
			if len(devs) == 0 {
				continue
			}
			now := dayStart.Add(30*time.Minute + time.Duration(s)*15*time.Minute)
			clock.Set(now)
			err := parallel(ctx, c.Workers, devs, func(i int) error {
				d := fleet[i]
				if agents[i] == nil {
					a, err := newAgent(dir, d, c.Seed, h, clock)
					if err != nil {
						return err
					}
					agents[i] = a
				}
				rep := d.report(now, start, day, rank[i] < infected, listed, hash)
				tier, err := submit(ctx, agents[i], rep)
				if err != nil {
					return fmt.Errorf("device %d on %s: %w", i, ds.Date, err)
				}
				mu.Lock()
				defer mu.Unlock()
				ds.Reporting++
				ds.Tiers[tier]++
				if rep.infected {
					ds.InfectedReporting++
				}
				if rep.names {
					ds.HashSightings++
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		reports += ds.Reporting
		sum.Days = append(sum.Days, ds)
		if c.OnDay != nil {
			c.OnDay(ds)
		}
	}
	elapsed := time.Since(began)
	// Close the last day.
	clock.Set(start.Add(time.Duration(c.Days)*24*time.Hour + 20*time.Minute))
	srv.Maintain(ctx)
	sum.Timing = Timing{Reports: reports, Seconds: elapsed.Seconds(), ReportsPerSecond: float64(reports) / max(elapsed.Seconds(), 1e-9)}

	alerts, ok, err := fetchAlerts(ctx, h, adminKey, start)
	if err != nil {
		return nil, err
	}
	sum.Surveillance = ok
	for _, a := range alerts {
		a.Outbreak = hash != "" && a.Key == "sha256:"+hash
		sum.Alerts = append(sum.Alerts, a)
		if a.Outbreak && sum.FirstOutbreakAlert == 0 {
			if t, err := time.Parse(time.DateOnly, a.Day); err == nil {
				sum.FirstOutbreakAlert = int(t.Sub(start)/(24*time.Hour)) + 1
			}
		}
	}
	return sum, nil
}

// parallel runs fn over items with at most workers at a time and returns
// the first error.
func parallel(ctx context.Context, workers int, items []int, fn func(int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		first error
		once  sync.Once
		stop  atomic.Bool
	)
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= len(items) {
					return
				}
				if err := fn(items[k]); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// newAgent makes the device's agent: a real agent.Agent with its own
// state directory, a device key derived from the seed, the simulated clock
// and an HTTP client that calls the server's handler in process.
func newAgent(dir string, d *device, seed uint64, h http.Handler, clock *Clock) (*agent.Agent, error) {
	var s [ed25519.SeedSize]byte
	binary.BigEndian.PutUint64(s[:], seed)
	binary.BigEndian.PutUint64(s[8:], uint64(d.index))
	copy(s[16:], "hg-simulate-key!")
	client := &http.Client{Transport: inProcess{h: h, remoteAddr: d.remoteAddr}, Timeout: time.Minute}
	return agent.New(agent.Config{Server: serverURL, StateDir: filepath.Join(dir, "agents", fmt.Sprintf("device-%06d", d.index)),
		Version: "simulate", Client: client, Now: clock.Now, Key: softKey{ed25519.NewKeyFromSeed(s[:])}})
}

// submit enrols the device if needed and sends one signed report, the way
// agent.ReportOnce does with collected facts.
func submit(ctx context.Context, a *agent.Agent, rep report) (string, error) {
	id, err := a.Enroll(ctx)
	if err != nil {
		return "", err
	}
	tok, err := a.Evidence(ctx, id, rep.facts, rep.findings)
	if err != nil {
		return "", err
	}
	res, err := a.Submit(ctx, tok)
	if err != nil {
		return "", err
	}
	return res.Tier, nil
}

// softKey is a device key held in memory (the file backend's key, without
// the file: derived from the seed so that device ids are reproducible).
type softKey struct{ ed25519.PrivateKey }

func (softKey) Hardware() bool { return false }

// inProcess is an http.RoundTripper that serves requests with the server's
// handler in this process, as if they came from remoteAddr.
type inProcess struct {
	h          http.Handler
	remoteAddr string
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	sr := req.Clone(req.Context())
	sr.RequestURI = req.URL.RequestURI()
	sr.RemoteAddr = t.remoteAddr
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sr)
	if req.Body != nil {
		req.Body.Close()
	}
	return rec.Result(), nil
}

// adminKey registers the simulator as an operator with the admin scope, to
// read the alerts at the end.
func adminKey(ctx context.Context, st store.Store, now time.Time) (string, error) {
	const id = "rp_simulate"
	key, k, err := server.NewAPIKey(id, []string{store.ScopeAdmin}, 0, now, rand.Reader)
	if err != nil {
		return "", err
	}
	if err := st.CreateRelyingParty(ctx, store.RelyingParty{ID: id, Name: "healthgate simulate", Created: now.UTC()}, k); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return "", err
		}
		if err := st.AddAPIKey(ctx, k, time.Time{}); err != nil { // a kept --data dir
			return "", err
		}
	}
	return key, nil
}

// fetchAlerts reads GET /v1/surveillance/alerts; ok is false when the
// server has no such endpoint.
func fetchAlerts(ctx context.Context, h http.Handler, key string, since time.Time) (_ []Alert, ok bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serverURL+"/v1/surveillance/alerts?since="+since.Format(time.DateOnly), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := inProcess{h: h, remoteAddr: "127.0.0.1:1"}.RoundTrip(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("reading surveillance alerts: %s: %s", resp.Status, raw)
	}
	var out struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false, fmt.Errorf("reading surveillance alerts: %w", err)
	}
	sort.SliceStable(out.Alerts, func(i, j int) bool {
		a, b := out.Alerts[i], out.Alerts[j]
		return a.Day < b.Day || a.Day == b.Day && (a.Key < b.Key || a.Key == b.Key && a.Method < b.Method)
	})
	return out.Alerts, true, nil
}
