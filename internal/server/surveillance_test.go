package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/internal/surveillance"
	"github.com/healthgate/healthgate/internal/taxii"
)

// survStart is noon UTC of a fixed day, so a test knows which day is which.
var survStart = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func dayNumber(t time.Time) int64 { return t.Unix() / 86400 }

// newSurvEnv is newEnvWith with a clock at survStart.
func newSurvEnv(t *testing.T, set func(*server.Options)) *env {
	t.Helper()
	return newEnvAt(t, survStart, set)
}

// reportFindings sends one report with the given agent findings.
func (d *device) reportFindings(fs ...evidence.Finding) {
	d.envr.t.Helper()
	c := d.claims(d.nonce())
	c.Findings = fs
	status, m := d.envr.post("/v1/reports", evidence.MediaType, d.sign(c, d.key))
	if status != http.StatusOK {
		d.envr.t.Fatalf("report: %d %v", status, m)
	}
}

func malware(hash string) evidence.Finding { return evidence.Finding{Code: "malware", Subject: hash} }

var (
	hashA = strings.Repeat("ab", 32)
	hashB = strings.Repeat("cd", 32)
)

func sightingCount(t *testing.T, d store.SurveillanceDay, key string) int {
	t.Helper()
	n := 0
	for _, c := range d.Sightings {
		if c.Key == key && c.Region == surveillance.AllRegions {
			n += c.Devices
		}
	}
	return n
}

func TestSurveillanceCountsDistinctDevicesPerDay(t *testing.T) {
	e := newSurvEnv(t, nil)
	ctx := context.Background()
	devs := make([]*device, 6)
	for i := range devs {
		devs[i] = e.enroll()
	}
	day1 := dayNumber(e.clock.Now())
	// Day 1: five devices report, three of them hash A (one of those
	// twice, and once in upper case), one also hash B.
	devs[0].reportFindings(malware(hashA))
	devs[0].reportFindings(malware(strings.ToUpper(hashA)))
	devs[1].reportFindings(malware(hashA), malware(hashB))
	devs[2].reportFindings(malware(hashA))
	devs[3].reportFindings()
	devs[4].reportFindings(evidence.Finding{Code: "malware", Subject: "not-a-hash"})
	devs[3].reportFindings()

	// Day 2: the maintenance pass before the grace ends keeps day 1 open.
	e.clock.Add(12*time.Hour + 5*time.Minute)
	e.srv.Maintain(ctx)
	st := e.store()
	if _, err := st.SurveillanceDay(ctx, day1); err == nil {
		t.Fatal("day 1 was stored before the grace period ended")
	}
	devs[5].reportFindings(malware(hashB))
	devs[0].reportFindings()
	e.clock.Add(10 * time.Minute)
	e.srv.Maintain(ctx)

	d1, err := st.SurveillanceDay(ctx, day1)
	if err != nil {
		t.Fatalf("day 1 not stored: %v", err)
	}
	for _, c := range []struct {
		key  string
		want int
	}{
		{"sha256:" + hashA, 3},
		{"sha256:" + hashB, 1},
		{"finding:known_malware", 4}, // the policy flags a malware finding whatever its subject
	} {
		if got := sightingCount(t, d1, c.key); got != c.want {
			t.Errorf("day 1 %s = %d devices, want %d", c.key, got, c.want)
		}
	}
	if len(d1.Reporting) != 1 || d1.Reporting[0].Devices != 5 {
		t.Errorf("day 1 reporting = %+v, want 5 devices", d1.Reporting)
	}

	e.clock.Add(24 * time.Hour)
	e.srv.Maintain(ctx)
	d2, err := st.SurveillanceDay(ctx, day1+1)
	if err != nil {
		t.Fatalf("day 2 not stored: %v", err)
	}
	if got := sightingCount(t, d2, "sha256:"+hashB); got != 1 {
		t.Errorf("day 2 hash B = %d, want 1", got)
	}
	if d2.Reporting[0].Devices != 2 {
		t.Errorf("day 2 reporting = %+v, want 2", d2.Reporting)
	}

	// Nothing in the surveillance tables can name a device.
	for _, table := range []string{"surveillance_days", "surveillance_reporting", "surveillance_counts", "surveillance_alerts"} {
		rows, err := e.db.Query("SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		rows.Close()
		if len(cols) == 0 {
			t.Errorf("table %s has no columns", table)
		}
		for _, c := range cols {
			for _, bad := range []string{"device_id", "ueid", "tag", "salt", "jkt", "ip"} {
				if c == bad || strings.HasPrefix(c, "device_") {
					t.Errorf("table %s has column %q", table, c)
				}
			}
		}
	}
	for _, d := range devs {
		var n int
		if err := e.db.QueryRow(`SELECT
			(SELECT count(*) FROM surveillance_counts WHERE key LIKE '%'||?1||'%' OR region LIKE '%'||?1||'%') +
			(SELECT count(*) FROM surveillance_reporting WHERE region LIKE '%'||?1||'%')`, d.id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("device id %s appears in surveillance rows", d.id)
		}
	}
}

func TestSurveillanceAlertPromotesHash(t *testing.T) {
	e := newSurvEnv(t, nil)
	ctx := context.Background()
	st := e.store()
	today := dayNumber(e.clock.Now())
	key := "sha256:" + hashA
	// Eleven quiet days of history (C3 needs 11 before the day): 1 to 3
	// devices a day.
	for i := int64(11); i >= 1; i-- {
		if err := st.PutSurveillanceDay(ctx, store.SurveillanceDay{
			Day: today - i, Closed: store.DayStart(today - i + 1),
			Reporting: []store.RegionCount{{Devices: 100}},
			Sightings: []store.SightingCount{{Key: key, Devices: int(1 + i%3)}, {Key: "finding:known_malware", Devices: int(1 + i%3)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Today 12 devices.
	for range 12 {
		e.enroll().reportFindings(malware(hashA))
	}
	e.clock.Add(12*time.Hour + 11*time.Minute)
	e.srv.Maintain(ctx)

	admin, _ := e.rp("ops", store.ScopeAdmin)
	status, m := e.call(http.MethodGet, "/v1/surveillance/alerts?since="+store.DayStart(today).Format(time.DateOnly), admin, nil)
	if status != http.StatusOK {
		t.Fatalf("alerts: %d %v", status, m)
	}
	methods := map[string]bool{}
	for _, a := range m["alerts"].([]any) {
		a := a.(map[string]any)
		if a["key"] == key {
			methods[a["method"].(string)] = true
			if a["observed"].(float64) != 12 || a["day"] != store.DayStart(today).Format(time.DateOnly) || a["id"] == "" || a["created"] == "" {
				t.Errorf("alert = %v", a)
			}
		}
	}
	if !methods["C1"] || !methods["C2"] || !methods["C3"] {
		t.Errorf("alert methods on %s = %v, want C1, C2 and C3", key, methods)
	}

	in, err := st.Indicator(ctx, "", "sha256", hashA)
	if err != nil {
		t.Fatalf("hash not promoted: %v", err)
	}
	if in.Status != "pending_review" || in.Source != "surveillance" {
		t.Errorf("promoted indicator = %+v, want pending_review from surveillance", in)
	}
	evs, err := st.IndicatorEvents(ctx, in.ID)
	if err != nil || len(evs) != 1 || evs[0].Actor != "surveillance" {
		t.Errorf("audit trail = %+v, %v", evs, err)
	}
	// A second pass changes nothing: alerts are per day, key and method.
	e.srv.Maintain(ctx)
	_, m2 := e.call(http.MethodGet, "/v1/surveillance/alerts?since=2000-01-01", admin, nil)
	if got, want := len(m2["alerts"].([]any)), len(m["alerts"].([]any)); got != want {
		t.Errorf("alerts after a second pass = %d, want %d", got, want)
	}

	// The prevalence series shows the spike.
	status, p := e.call(http.MethodGet, "/v1/surveillance/prevalence?key="+key+"&days=3", admin, nil)
	if status != http.StatusOK {
		t.Fatalf("prevalence: %d %v", status, p)
	}
	days := p["days"].([]any)
	if len(days) != 2 { // the clock's own day is still open
		t.Fatalf("prevalence days = %v", days)
	}
	last := days[1].(map[string]any)
	if last["day"] != store.DayStart(today).Format(time.DateOnly) || last["devices"].(float64) != 12 || last["reporting"].(float64) != 12 || last["prevalence"].(float64) != 1 {
		t.Errorf("today's prevalence = %v", last)
	}
	if first := days[0].(map[string]any); first["reporting"].(float64) != 100 {
		t.Errorf("history prevalence = %v", first)
	}
}

func TestSightingsKThreshold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		k      int
		shared bool
	}{
		{"default k 50 keeps 12 devices", 0, false},
		{"k 50 keeps 12 devices", 50, false},
		{"k 11 shares 12 devices", 11, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSurvEnv(t, func(o *server.Options) { o.SightingK = tc.k })
			ctx := context.Background()
			for range 12 {
				e.enroll().reportFindings(malware(hashA))
			}
			e.enroll().reportFindings(malware(hashB)) // one device: never shared
			e.clock.Add(13 * time.Hour)
			e.srv.Maintain(ctx)
			coll, _ := taxii.CollectionByAlias("sightings")
			objs, _, err := e.store().TAXIIObjects(ctx, store.TAXIIQuery{Collection: coll.ID, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.shared {
				if len(objs) != 0 {
					t.Errorf("shared %d sightings, want none", len(objs))
				}
				return
			}
			if len(objs) != 1 {
				t.Fatalf("shared %d sightings, want 1", len(objs))
			}
			var sg map[string]any
			if err := json.Unmarshal(objs[0].Body, &sg); err != nil {
				t.Fatal(err)
			}
			if sg["type"] != "sighting" || sg["count"].(float64) != 12 || sg["summary"] != true {
				t.Errorf("sighting = %v", sg)
			}
			if strings.Contains(string(objs[0].Body), hashB) {
				t.Error("the one-device hash was shared")
			}
			// Publishing again (a retried pass) adds nothing.
			if err := e.srv.PublishSightings(ctx, surveillance.DayOf(survStart, nil)); err != nil {
				t.Fatal(err)
			}
			again, _, _ := e.store().TAXIIObjects(ctx, store.TAXIIQuery{Collection: coll.ID, Limit: 100})
			if len(again) != 1 {
				t.Errorf("after publishing again: %d objects", len(again))
			}
		})
	}
}

// TestSightingsRoamingDevicesCountOnce: a device that reports from two
// regions in a day is one device, for the k threshold of what is shared
// as for the stored totals; summing the regions made 6 devices look like
// 12 and pass k = 11.
func TestSightingsRoamingDevicesCountOnce(t *testing.T) {
	var calls atomic.Int64
	e := newSurvEnv(t, func(o *server.Options) {
		o.SightingK = 11
		o.SurveillanceRegion = func(*http.Request) string { return []string{"cn-zj", "cn-gd"}[calls.Add(1)%2] }
	})
	ctx := context.Background()
	for range 6 {
		d := e.enroll()
		d.reportFindings(malware(hashA))
		d.reportFindings(malware(hashA))
	}
	day := dayNumber(e.clock.Now())
	e.clock.Add(13 * time.Hour)
	e.srv.Maintain(ctx)
	stored, err := e.store().SurveillanceDay(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if got := sightingCount(t, stored, "sha256:"+hashA); got != 6 {
		t.Errorf("hash A in all regions = %d devices, want 6", got)
	}
	coll, _ := taxii.CollectionByAlias("sightings")
	objs, _, err := e.store().TAXIIObjects(ctx, store.TAXIIQuery{Collection: coll.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 0 {
		t.Errorf("shared %d sightings of 6 devices with k = 11", len(objs))
	}
}

func TestSightingKBelowMinimumRefused(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, o := range []server.Options{{SightingK: 10}, {SightingEpsilon: 0.001}, {SightingEpsilon: 11}} {
		o.Store = st
		if _, err := server.New(context.Background(), o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestSurveillanceAPIAuthAndParams(t *testing.T) {
	e := newSurvEnv(t, nil)
	admin, _ := e.rp("ops", store.ScopeAdmin)
	merchant, _ := e.rp("shop", store.ScopeDecisions)
	for _, path := range []string{"/v1/surveillance/prevalence?key=finding:x", "/v1/surveillance/alerts"} {
		if status, m := e.call(http.MethodGet, path, "", nil); status != http.StatusUnauthorized || errCode(m) != "unauthorized" {
			t.Errorf("%s without a key: %d %v", path, status, m)
		}
		if status, m := e.call(http.MethodGet, path, merchant, nil); status != http.StatusForbidden || errCode(m) != "forbidden" {
			t.Errorf("%s with a decisions key: %d %v", path, status, m)
		}
		if status, m := e.call(http.MethodGet, path, admin, nil); status != http.StatusOK {
			t.Errorf("%s with an admin key: %d %v", path, status, m)
		}
	}
	for _, tc := range []struct {
		query, code string
	}{
		{"/v1/surveillance/prevalence", "bad_key"},
		{"/v1/surveillance/prevalence?key=nofamily", "bad_key"},
		{"/v1/surveillance/prevalence?key=finding:x&days=0", "bad_days"},
		{"/v1/surveillance/prevalence?key=finding:x&days=abc", "bad_days"},
		{"/v1/surveillance/prevalence?key=finding:x&days=367", "bad_days"},
		{"/v1/surveillance/prevalence?key=finding:x&days=%2B3", "bad_days"},
		{"/v1/surveillance/alerts?since=yesterday", "bad_since"},
		{"/v1/surveillance/alerts?since=2026-13-01", "bad_since"},
	} {
		if status, m := e.call(http.MethodGet, tc.query, admin, nil); status != http.StatusBadRequest || errCode(m) != tc.code {
			t.Errorf("%s: %d %v, want 400 %s", tc.query, status, m, tc.code)
		}
	}
	status, m := e.call(http.MethodGet, "/v1/surveillance/prevalence?key=finding:x&days=7", admin, nil)
	if status != http.StatusOK || m["key"] != "finding:x" || m["days"] == nil || fmt.Sprint(m["days"]) != "[]" {
		t.Errorf("empty series: %d %v", status, m)
	}
	status, m = e.call(http.MethodGet, "/v1/surveillance/alerts", admin, nil)
	if status != http.StatusOK || fmt.Sprint(m["alerts"]) != "[]" {
		t.Errorf("no alerts: %d %v", status, m)
	}
}
