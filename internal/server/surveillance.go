package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/surveillance"
	"github.com/healthgate/healthgate/internal/taxii"
)

// Surveillance tuning (docs/SURVEILLANCE.md).
const (
	// DayCloseGrace is how long after midnight UTC a day stays open, for
	// reports that were in flight when it ended.
	DayCloseGrace = 10 * time.Minute
	// minAlertDevices is the fewest devices on a day that can raise an
	// EARS alert: below it a key's spike is a handful of devices, which the
	// operator's dashboard shows anyway.
	minAlertDevices = 5
	// maxSeriesDays bounds ?days= of the prevalence endpoint.
	maxSeriesDays    = 366
	defaultSeriesDay = 30
	maxAlerts        = 1000
	// surveillanceActor is the audit actor of indicators surveillance
	// promotes.
	surveillanceActor = "surveillance"
	// promotedConfidence is the confidence of a promoted indicator: it is
	// a suspicion from counts, not an analyst's verdict.
	promotedConfidence = 50
)

// Key families: what a daily count is kept for. A finding code of the
// appraisal is counted as "finding:<code>"; an agent finding whose subject
// names an indicator as "<family>:<canonical value>".
const (
	familyFinding = "finding"
	// familyProtection counts reporting devices, and those found running
	// known malware, split by whether their antivirus protected them:
	// ccm:protected, ccm:protected:malware, ccm:unprotected, …
	familyProtection   = "ccm"
	familyDomainPrefix = "domain-prefix"
)

// subjectTypes maps an agent finding code to the indicator type its subject
// names (internal/agent FeedSync.Check).
var subjectTypes = map[string]intel.Type{
	"malware":        intel.TypeSHA256,
	"rogue_ca":       intel.TypeCert,
	"rogue_dns":      intel.TypeIP,
	"rogue_proxy":    intel.TypeIP,
	"remote_control": intel.TypeTool,
	// hosts_hijack names the payment domain whose hosts entry was
	// redirected: counted by the 4-byte feed prefix of its host
	// expression, as the feed carries domains (familyDomainPrefix).
	"hosts_hijack": intel.TypeDomain,
}

// sightings holds the server's surveillance state: the open days' counter
// and what the maintenance pass still has to do with closed days.
type sightings struct {
	counter  *surveillance.DayCounter
	releaser *surveillance.Releaser
	k        int
	region   func(*http.Request) string

	observed *prometheus.CounterVec // by result: ok, key_limit, too_many_open_days, day_closed, error

	mu sync.Mutex
	// unstored are closed days whose counts could not be written yet: the
	// salts are gone, so these numbers are all that is left of the day.
	unstored []surveillance.DayCounts
	// unprocessed are stored days still to run detection and sharing on.
	unprocessed []surveillance.Day
}

func (s *Server) initSurveillance() error {
	cfg := surveillance.ReleaseConfig{K: s.opts.SightingK, Epsilon: s.opts.SightingEpsilon}
	rel, err := surveillance.NewReleaser(cfg, s.opts.Rand)
	if err != nil {
		return fmt.Errorf("server: sightings: %w", err)
	}
	k := cfg.K
	if k == 0 {
		k = surveillance.DefaultK
	}
	ctr, err := surveillance.NewDayCounter(surveillance.CounterConfig{Location: time.UTC}, s.opts.Rand, s.opts.Now)
	if err != nil {
		return fmt.Errorf("server: sightings: %w", err)
	}
	s.surv = &sightings{counter: ctr, releaser: rel, k: k, region: s.opts.SurveillanceRegion,
		observed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthgate_sightings_observed_total",
			Help: "Accepted reports counted by surveillance, by result (ok, or why some or all of it was not counted).",
		}, []string{"result"})}
	s.metrics.reg.MustRegister(s.surv.observed)
	return nil
}

// observeReport counts an accepted report in the open day: the device as
// reporting, and once under each finding code and each indicator an agent
// finding names. It is in memory (no store write) and never fails the
// report: a count that cannot be made is only a metric.
func (s *Server) observeReport(r *http.Request, deviceID string, facts *evidence.Facts, agent []evidence.Finding, codes []string) {
	if s.surv == nil {
		return
	}
	fs := make([]surveillance.Finding, 0, len(codes)+len(agent))
	seen := make(map[string]bool, len(codes)+len(agent))
	add := func(k string, isNew bool) {
		if !seen[k] {
			seen[k] = true
			fs = append(fs, surveillance.Finding{Indicator: k, New: isNew})
		}
	}
	for _, c := range codes {
		if c != "" {
			add(familyFinding+":"+c, false)
		}
	}
	for _, f := range agent {
		if k, ok := SightingKey(f); ok {
			add(k, f.New) // the agent remembers what it matched before
		}
	}
	group := familyProtection + ":unprotected"
	if protected(facts) {
		group = familyProtection + ":protected"
	}
	add(group, false)
	if slices.Contains(codes, "known_malware") {
		add(group+":malware", false)
	}
	var region string
	if s.surv.region != nil {
		region = s.surv.region(r)
	}
	err := s.surv.counter.Observe(surveillance.Observation{Device: deviceID, Region: region, Findings: fs})
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, surveillance.ErrKeyLimit):
		result = "key_limit"
	case errors.Is(err, surveillance.ErrTooManyOpenDays):
		result = "too_many_open_days"
	case errors.Is(err, surveillance.ErrDayClosed):
		result = "day_closed"
	default:
		result = "error"
		s.log.Warn("counting a sighting", slog.Any("err", err))
	}
	s.surv.observed.WithLabelValues(result).Inc()
}

// SightingKey returns the surveillance key an agent finding's subject names
// ("sha256:<hex>", "domain-prefix:<8 hex>", …), or false when the finding
// names no indicator or its subject is not a valid one.
func SightingKey(f evidence.Finding) (string, bool) {
	typ, ok := subjectTypes[f.Code]
	if !ok || f.Subject == "" {
		return "", false
	}
	n, err := intel.Normalize(typ, f.Subject)
	if err != nil {
		return "", false
	}
	if typ == intel.TypeDomain {
		return familyDomainPrefix + ":" + n.Entry.Value, true
	}
	return string(typ) + ":" + n.Value, true
}

// maintainSurveillance closes every day that ended (UTC, after
// DayCloseGrace), stores its counts, then runs outbreak detection and
// publishes the day's k-anonymous sightings.
func (s *Server) maintainSurveillance(ctx context.Context) {
	if s.surv == nil {
		return
	}
	now := s.opts.Now()
	for _, d := range s.surv.counter.OpenDays() {
		if now.Before(d.Time().Add(24*time.Hour + DayCloseGrace)) {
			continue
		}
		counts, err := s.surv.counter.CloseDay(d)
		if err != nil {
			s.log.Warn("closing surveillance day", slog.String("day", d.String()), slog.Any("err", err))
			continue
		}
		s.surv.mu.Lock()
		s.surv.unstored = append(s.surv.unstored, counts)
		s.surv.mu.Unlock()
	}

	s.surv.mu.Lock()
	defer s.surv.mu.Unlock()
	var keep []surveillance.DayCounts
	for _, c := range s.surv.unstored {
		err := s.store.PutSurveillanceDay(ctx, storedDay(c, now))
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another node (or an earlier run) stored this day: ours is a
			// partial count of the same day and must not replace it.
			s.log.Warn("surveillance day already stored: dropping this node's counts", slog.String("day", c.Day.String()))
		case err != nil:
			s.log.Warn("storing surveillance day", slog.String("day", c.Day.String()), slog.Any("err", err))
			keep = append(keep, c)
		default:
			s.log.Info("surveillance day stored", slog.String("day", c.Day.String()),
				slog.Int("keys", len(c.Sightings)), slog.Int("dropped_keys", c.DroppedKeys))
			s.surv.unprocessed = append(s.surv.unprocessed, c.Day)
		}
	}
	s.surv.unstored = keep

	var retry []surveillance.Day
	for _, d := range s.surv.unprocessed {
		if err := s.detect(ctx, d); err != nil {
			s.log.Warn("outbreak detection", slog.String("day", d.String()), slog.Any("err", err))
			retry = append(retry, d)
			continue
		}
		if err := s.PublishSightings(ctx, d); err != nil {
			s.log.Warn("publishing sightings", slog.String("day", d.String()), slog.Any("err", err))
			retry = append(retry, d)
		}
	}
	s.surv.unprocessed = retry
}

// storedDay turns a closed day's counts into the rows the store keeps:
// numbers per key and region, nothing else.
func storedDay(c surveillance.DayCounts, now time.Time) store.SurveillanceDay {
	d := store.SurveillanceDay{Day: int64(c.Day), Closed: now.UTC(), DroppedKeys: c.DroppedKeys}
	for region, kc := range c.Reporting {
		d.Reporting = append(d.Reporting, store.RegionCount{Region: region, Devices: kc.Devices, Saturated: kc.Saturated})
	}
	for k, kc := range c.Sightings {
		d.Sightings = append(d.Sightings, store.SightingCount{Key: k.Indicator, Region: k.Region, Devices: kc.Devices, New: kc.New, Saturated: kc.Saturated})
	}
	sort.Slice(d.Reporting, func(i, j int) bool { return d.Reporting[i].Region < d.Reporting[j].Region })
	sort.Slice(d.Sightings, func(i, j int) bool {
		a, b := d.Sightings[i], d.Sightings[j]
		return a.Key < b.Key || a.Key == b.Key && a.Region < b.Region
	})
	return d
}

// historyDays is how many days detection reads: C3's first statistic needs
// the baseline, the two-day guard band and two more days.
var historyDays = surveillance.DefaultEARS(surveillance.C3).Baseline + 5

// detect runs EARS C1, C2 and C3 and the growth check over every key of a
// stored day, over all regions (each device once), stores the alarms as alerts
// (idempotently) and promotes new executable hashes to indicators pending
// review.
func (s *Server) detect(ctx context.Context, day surveillance.Day) error {
	days := make([]*store.SurveillanceDay, historyDays) // oldest first; nil: not stored
	for i := range days {
		d, err := s.store.SurveillanceDay(ctx, int64(day)-int64(historyDays-1-i))
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		days[i] = &d
	}
	today := days[len(days)-1]
	if today == nil {
		return fmt.Errorf("day %s is not stored", day)
	}
	totals := make([]map[string]int, len(days))
	for i, d := range days {
		if d == nil {
			continue
		}
		totals[i] = make(map[string]int, len(d.Sightings))
		for _, c := range d.Sightings {
			if c.Region == surveillance.AllRegions {
				totals[i][c.Key] = c.Devices
			}
		}
	}
	keys := make([]string, 0, len(totals[len(days)-1]))
	for k := range totals[len(days)-1] {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	now := s.opts.Now().UTC()
	var alerts []store.SurveillanceAlert
	series := make([]float64, len(days))
	for _, key := range keys {
		for i := range days {
			if totals[i] == nil {
				series[i] = math.NaN() // a day never stored is missing, not zero
			} else {
				series[i] = float64(totals[i][key])
			}
		}
		observed := series[len(series)-1]
		if observed >= minAlertDevices && !strings.HasPrefix(key, familyProtection+":") {
			for _, m := range []surveillance.Method{surveillance.C1, surveillance.C2, surveillance.C3} {
				pts, err := surveillance.EARS(series, surveillance.DefaultEARS(m))
				if err != nil {
					return err
				}
				if p := pts[len(pts)-1]; p.OK && p.Alarm {
					alerts = append(alerts, newAlert(day, key, m.String(), p.Observed, p.Mean, p.Statistic, now))
				}
			}
		}
		if strings.HasPrefix(key, familyFinding+":") || strings.HasPrefix(key, familyProtection+":") {
			continue // growth is for new artifacts, not finding codes or populations
		}
		n := len(series)
		if math.IsNaN(series[n-2]) || math.IsNaN(series[n-3]) {
			continue
		}
		before, yesterday, todayN := int(series[n-3]), int(series[n-2]), int(observed)
		rule, err := surveillance.DefaultGrowth().Check(before, yesterday, todayN)
		if err != nil {
			return err
		}
		if rule != surveillance.NoGrowth {
			alerts = append(alerts, newAlert(day, key, string(rule), observed, float64(yesterday), observed/math.Max(1, float64(yesterday)), now))
		}
	}
	added, err := s.store.PutSurveillanceAlerts(ctx, alerts)
	if err != nil {
		return err
	}
	for _, a := range added {
		s.log.Info("outbreak alert", slog.String("day", day.String()), slog.String("key", a.Key),
			slog.String("method", a.Method), slog.Float64("observed", a.Observed), slog.Float64("expected", a.Expected))
	}
	// Promote on every alert of the day, not only new ones, so a failed
	// promotion is retried with the day.
	promoted := map[string]bool{}
	for _, a := range alerts {
		if promoted[a.Key] {
			continue
		}
		promoted[a.Key] = true
		if err := s.promote(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func newAlert(day surveillance.Day, key, method string, observed, expected, stat float64, now time.Time) store.SurveillanceAlert {
	sum := sha256.Sum256([]byte(day.String() + "\x00" + key + "\x00" + method))
	return store.SurveillanceAlert{ID: "alert_" + hex.EncodeToString(sum[:8]), Day: int64(day), Key: key, Method: method,
		Observed: observed, Expected: expected, Statistic: stat, Created: now}
}

// promote puts the executable hash an alert is about on the indicator list
// as pending_review ("suspicious, pending review": warning tier, not on
// the feed) unless it is already known. An active or pending indicator is
// left alone, and so is a retired one: an analyst withdrew it and the
// alert, which they see, is enough to reconsider. Other key families are
// not promoted (a domain prefix is not a domain; docs/SURVEILLANCE.md).
func (s *Server) promote(ctx context.Context, a store.SurveillanceAlert) error {
	value, ok := strings.CutPrefix(a.Key, string(intel.TypeSHA256)+":")
	if !ok {
		return nil
	}
	n, err := intel.Normalize(intel.TypeSHA256, value)
	if err != nil {
		return nil
	}
	old, err := s.store.Indicator(ctx, "", string(intel.TypeSHA256), n.Value)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case old.Status != intel.StatusExpired:
		return nil
	}
	ttl, err := intel.TTL(intel.TypeSHA256, 0)
	if err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	id := make([]byte, 8)
	if _, err := s.opts.Rand.Read(id); err != nil {
		return err
	}
	in := store.Indicator{
		ID: "ind_" + hex.EncodeToString(id), Type: string(intel.TypeSHA256), Value: n.Value, Source: surveillanceActor,
		Confidence: promotedConfidence, Status: intel.StatusPending, FirstSeen: now, LastSeen: now, Expires: now.Add(ttl),
		FeedKind: string(n.Entry.Kind), FeedValue: n.Entry.Value, FullHash: n.FullHash,
	}
	reason := fmt.Sprintf("outbreak alert %s on %s: %s, %.0f devices (expected %.1f)", a.ID, surveillance.Day(a.Day), a.Method, a.Observed, a.Expected)
	if _, err := s.store.PutIndicators(ctx, []store.Indicator{in}, store.Change{Actor: surveillanceActor, Reason: reason, At: now}); err != nil {
		return err
	}
	s.log.Info("executable hash promoted to pending review", slog.String("sha256", n.Value), slog.String("alert", a.ID))
	return nil
}

// sharedFamilies are the key families whose daily counts partners get as
// STIX sightings: indicators. Finding codes ("finding:firewall_off") are
// posture statistics for the operator, not sightings of an indicator.
var sharedFamilies = map[string]bool{
	string(intel.TypeSHA256): true, string(intel.TypeCert): true, string(intel.TypeIP): true,
	string(intel.TypeTool): true, familyDomainPrefix: true,
}

// SightingObjects builds the STIX aggregate sightings of a stored day: one
// per indicator key, its devices in all regions (each device once), only when at least k
// devices are behind it (Options.SightingK, default 50, never below 11),
// with Laplace noise when Options.SightingEpsilon is set. The threshold is
// applied to the true count, twice (surveillance.Releaser and
// stix.NewAggregateSighting); the noised count is what is shared. Ids and
// timestamps are derived from the day and key, so publishing a day again
// adds nothing.
func (s *Server) SightingObjects(ctx context.Context, day surveillance.Day) ([]stix.Sighting, error) {
	d, err := s.store.SurveillanceDay(ctx, int64(day))
	if err != nil {
		return nil, err
	}
	totals := map[string]int{}
	for _, c := range d.Sightings {
		fam, _, _ := strings.Cut(c.Key, ":")
		if sharedFamilies[fam] && c.Region == surveillance.AllRegions {
			totals[c.Key] = c.Devices
		}
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ns, err := intelstore.IDNamespace(ctx, s.store)
	if err != nil {
		return nil, err
	}
	start := day.Time()
	var out []stix.Sighting
	for _, key := range keys {
		shared, ok, err := s.surv.releaser.Release(totals[key])
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		sg, err := stix.NewAggregateSighting(stix.AggregateSighting{
			ID:            ns.ID("sighting", day.String()+"\x00"+key),
			SightingOfRef: ns.ID("indicator", key), // the id intelstore.Share gives the indicator
			Count:         totals[key], K: s.surv.k,
			FirstSeen: start, LastSeen: start.Add(24*time.Hour - time.Millisecond),
			Markings: []string{stix.TLPGreen.ID}, Now: start.Add(24 * time.Hour),
		})
		if err != nil {
			return nil, err
		}
		*sg.Count = shared
		sg.Description = fmt.Sprintf("Distinct Healthgate devices that reported %s on %s (at least %d behind every shared count).", key, day, s.surv.k)
		out = append(out, sg)
	}
	return out, nil
}

// PublishSightings adds a stored day's sightings to the TAXII `sightings`
// collection.
func (s *Server) PublishSightings(ctx context.Context, day surveillance.Day) error {
	objs, err := s.SightingObjects(ctx, day)
	if err != nil || len(objs) == 0 {
		return err
	}
	anys := make([]any, len(objs))
	for i, o := range objs {
		anys[i] = o
	}
	return taxii.Publish(ctx, s.store, "sightings", anys, s.opts.Now())
}

// surveillanceRoutes registers prevalence figures and outbreak alerts:
// operator data, behind the admin scope.
func (s *Server) surveillanceRoutes(r chi.Router) {
	r.Get("/v1/surveillance/prevalence", s.wrap(s.authed(store.ScopeAdmin, s.handlePrevalence)))
	r.Get("/v1/surveillance/alerts", s.wrap(s.authed(store.ScopeAdmin, s.handleAlerts)))
	r.Get("/v1/surveillance/ccm", s.wrap(s.authed(store.ScopeAdmin, s.handleCCM)))
}

// protected says whether a report's device had working antivirus: a
// product enabled, not snoozed or expired, signatures not known to be out
// of date (the Security Intelligence Report's "protected").
func protected(f *evidence.Facts) bool {
	if f == nil || f.Antivirus == nil {
		return false
	}
	for _, p := range f.Antivirus.Products {
		if p.Enabled && p.State != "snoozed" && p.State != "expired" && p.State != "off" &&
			(p.SignaturesCurrent == nil || *p.SignaturesCurrent) {
			return true
		}
	}
	return false
}

type ccmGroup struct {
	Reporting int      `json:"reporting"`
	Malware   int      `json:"malware"`
	PerMille  *float64 `json:"per_mille"` // null when the group was empty
}

type ccmPoint struct {
	Day          string   `json:"day"`
	Protected    ccmGroup `json:"protected"`
	Unprotected  ccmGroup `json:"unprotected"`
	Overall      *float64 `json:"overall_per_mille"`
	RelativeRisk *float64 `json:"relative_risk"` // unprotected over protected
}

// handleCCM is the Microsoft-style "computers cleaned per mille" for
// Healthgate's fleet: per thousand reporting devices, how many were found
// running known malware, for devices with and without working antivirus.
// (Healthgate sees malware running, not what a scan removed: this is the
// encounter side of CCM.) GET /v1/surveillance/ccm?days=N
func (s *Server) handleCCM(w http.ResponseWriter, r *http.Request) error {
	days := defaultSeriesDay
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSeriesDays || strconv.Itoa(n) != v {
			return errorf(http.StatusBadRequest, "bad_days", "days must be a whole number from 1 to %d", maxSeriesDays)
		}
		days = n
	}
	to := surveillance.DayOf(s.opts.Now(), time.UTC)
	from := to - surveillance.Day(days-1)
	counts := map[string]map[int64]int{}
	for _, k := range []string{"protected", "protected:malware", "unprotected", "unprotected:malware"} {
		series, err := s.store.SightingSeries(r.Context(), familyProtection+":"+k, int64(from), int64(to))
		if err != nil {
			return err
		}
		counts[k] = map[int64]int{}
		for _, p := range series {
			counts[k][p.Day] = p.Devices
		}
	}
	fig := func(f surveillance.Figure) *float64 {
		if !f.Defined {
			return nil
		}
		v := f.Value
		return &v
	}
	out := []ccmPoint{}
	for d := from; d <= to; d++ {
		in := surveillance.CCMInput{
			Protected:   surveillance.Tally{Scanned: counts["protected"][int64(d)], Cleaned: counts["protected:malware"][int64(d)]},
			Unprotected: surveillance.Tally{Scanned: counts["unprotected"][int64(d)], Cleaned: counts["unprotected:malware"][int64(d)]},
		}
		if in.Protected.Scanned+in.Unprotected.Scanned == 0 {
			continue // no stored reports that day
		}
		rep, err := surveillance.ComputeCCM(in)
		if err != nil {
			return err
		}
		out = append(out, ccmPoint{Day: d.String(),
			Protected:   ccmGroup{Reporting: in.Protected.Scanned, Malware: in.Protected.Cleaned, PerMille: fig(rep.Protected)},
			Unprotected: ccmGroup{Reporting: in.Unprotected.Scanned, Malware: in.Unprotected.Cleaned, PerMille: fig(rep.Unprotected)},
			Overall:     fig(rep.Overall), RelativeRisk: fig(rep.RelativeRisk)})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"from": from.String(), "to": to.String(), "days": out})
}

type prevalencePoint struct {
	Day        string   `json:"day"`
	Devices    int      `json:"devices"`
	New        int      `json:"new"`
	Reporting  int      `json:"reporting"`
	Prevalence *float64 `json:"prevalence"` // null when nobody reported
	Saturated  bool     `json:"saturated,omitempty"`
}

func (s *Server) handlePrevalence(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" || len(key) > 512 || !strings.Contains(key, ":") {
		return errorf(http.StatusBadRequest, "bad_key", `key is required, as family:value (e.g. "finding:known_malware", "sha256:<hex>")`)
	}
	days := defaultSeriesDay
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSeriesDays || strconv.Itoa(n) != v {
			return errorf(http.StatusBadRequest, "bad_days", "days must be a whole number from 1 to %d", maxSeriesDays)
		}
		days = n
	}
	to := surveillance.DayOf(s.opts.Now(), time.UTC)
	from := to - surveillance.Day(days-1)
	series, err := s.store.SightingSeries(r.Context(), key, int64(from), int64(to))
	if err != nil {
		return err
	}
	out := make([]prevalencePoint, 0, len(series))
	for _, p := range series {
		pt := prevalencePoint{Day: surveillance.Day(p.Day).String(), Devices: p.Devices, New: p.New, Reporting: p.Reporting, Saturated: p.Saturated}
		if v, err := surveillance.Prevalence(min(p.Devices, p.Reporting), p.Reporting); err == nil {
			pt.Prevalence = &v
		}
		out = append(out, pt)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"key": key, "from": from.String(), "to": to.String(), "days": out})
}

type alertJSON struct {
	ID        string    `json:"id"`
	Day       string    `json:"day"`
	Key       string    `json:"key"`
	Method    string    `json:"method"`
	Observed  float64   `json:"observed"`
	Expected  float64   `json:"expected"`
	Statistic float64   `json:"statistic"`
	Created   time.Time `json:"created"`
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) error {
	since := surveillance.DayOf(s.opts.Now(), time.UTC) - defaultSeriesDay
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := surveillance.ParseDay(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad_since", "since must be a date written 2006-01-02")
		}
		since = d
	}
	as, err := s.store.SurveillanceAlerts(r.Context(), int64(since), maxAlerts)
	if err != nil {
		return err
	}
	out := make([]alertJSON, len(as))
	for i, a := range as {
		out[i] = alertJSON{ID: a.ID, Day: surveillance.Day(a.Day).String(), Key: a.Key, Method: a.Method,
			Observed: a.Observed, Expected: a.Expected, Statistic: a.Statistic, Created: a.Created.UTC()}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"since": since.String(), "alerts": out})
}
