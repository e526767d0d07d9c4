package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var surveillanceTests = []storeTest{
	{"SurveillanceDayRoundTrip", testSurveillanceDay},
	{"SurveillanceDayStoredOnce", testSurveillanceDayOnce},
	{"SightingSeries", testSightingSeries},
	{"SurveillanceAlertsIdempotent", testSurveillanceAlerts},
}

// day0 is t0's civil date in days since 1970-01-01.
var day0 = t0.Unix() / 86400

func survDay(day int64, sightings ...store.SightingCount) store.SurveillanceDay {
	return store.SurveillanceDay{
		Day: day, Closed: store.DayStart(day).Add(24*time.Hour + 10*time.Minute), DroppedKeys: 2,
		Reporting: []store.RegionCount{{Region: "", Devices: 100}, {Region: "cn-gd", Devices: 40, Saturated: true}},
		Sightings: sightings,
	}
}

func testSurveillanceDay(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.SurveillanceDay(ctx, day0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SurveillanceDay before any: err = %v, want ErrNotFound", err)
	}
	if _, err := s.LatestSurveillanceDay(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestSurveillanceDay before any: err = %v, want ErrNotFound", err)
	}
	want := survDay(day0,
		store.SightingCount{Key: "finding:known_malware", Region: "", Devices: 12, New: 3},
		store.SightingCount{Key: "sha256:" + hex64('a'), Region: "", Devices: 7, New: 7},
		store.SightingCount{Key: "sha256:" + hex64('a'), Region: "cn-gd", Devices: 2, Saturated: true},
	)
	if err := s.PutSurveillanceDay(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.SurveillanceDay(ctx, day0)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Closed.Equal(want.Closed) {
		t.Errorf("closed = %v, want %v", got.Closed, want.Closed)
	}
	got.Closed = want.Closed
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored day =\n%+v\nwant\n%+v", got, want)
	}
	if d, err := s.LatestSurveillanceDay(ctx); err != nil || d != day0 {
		t.Errorf("LatestSurveillanceDay = %d, %v, want %d", d, err, day0)
	}
	if err := s.PutSurveillanceDay(ctx, survDay(day0-3)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.LatestSurveillanceDay(ctx); err != nil || d != day0 {
		t.Errorf("LatestSurveillanceDay after an older day = %d, %v, want %d", d, err, day0)
	}
	empty, err := s.SurveillanceDay(ctx, day0-3)
	if err != nil || len(empty.Sightings) != 0 || len(empty.Reporting) != 2 {
		t.Errorf("day without sightings = %+v, %v", empty, err)
	}
}

func testSurveillanceDayOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := survDay(day0, store.SightingCount{Key: "finding:firewall_off", Devices: 5})
	if err := s.PutSurveillanceDay(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := survDay(day0, store.SightingCount{Key: "finding:firewall_off", Devices: 9})
	if err := s.PutSurveillanceDay(ctx, second); !errors.Is(err, store.ErrConflict) {
		t.Errorf("storing a day twice: err = %v, want ErrConflict", err)
	}
	got, err := s.SurveillanceDay(ctx, day0)
	if err != nil || len(got.Sightings) != 1 || got.Sightings[0].Devices != 5 {
		t.Errorf("after a refused second store: %+v, %v, want the first counts", got, err)
	}
	// A day whose counts fail to store leaves nothing behind.
	bad := survDay(day0+1,
		store.SightingCount{Key: "finding:x", Region: "", Devices: 1},
		store.SightingCount{Key: "finding:x", Region: "", Devices: 2}, // duplicate key and region
	)
	if err := s.PutSurveillanceDay(ctx, bad); err == nil {
		t.Error("a day with a duplicate key stored without error")
	}
	if _, err := s.SurveillanceDay(ctx, day0+1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed day is partly stored: err = %v, want ErrNotFound", err)
	}
}

func testSightingSeries(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := "sha256:" + hex64('b')
	for i, n := range []int{3, 0, 5} {
		d := survDay(day0 + int64(i))
		if n > 0 {
			// Region "" counts every device, whatever its region; a
			// region's count is a part of it, not added to it.
			d.Sightings = []store.SightingCount{
				{Key: key, Region: "", Devices: n, New: 1, Saturated: i == 2},
				{Key: key, Region: "cn-gd", Devices: 1, Saturated: i == 2},
				{Key: "finding:other", Region: "", Devices: 99},
			}
		}
		if err := s.PutSurveillanceDay(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// day0+3 is never stored: a gap, not a zero.
	if err := s.PutSurveillanceDay(ctx, survDay(day0+4)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SightingSeries(ctx, key, day0, day0+10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DailySighting{
		{Day: day0, Devices: 3, New: 1, Reporting: 100},
		{Day: day0 + 1, Devices: 0, Reporting: 100},
		{Day: day0 + 2, Devices: 5, New: 1, Reporting: 100, Saturated: true},
		{Day: day0 + 4, Devices: 0, Reporting: 100},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("series =\n%+v\nwant\n%+v", got, want)
	}
	got, err = s.SightingSeries(ctx, key, day0+1, day0+2)
	if err != nil || len(got) != 2 || got[0].Day != day0+1 {
		t.Errorf("bounded series = %+v, %v", got, err)
	}
	if got, err := s.SightingSeries(ctx, "sha256:unknown", day0, day0+10); err != nil || len(got) != 4 || got[2].Devices != 0 {
		t.Errorf("series of an unseen key = %+v, %v, want 4 stored days with 0 devices", got, err)
	}
}

func testSurveillanceAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := func(id string, day int64, key, method string, obs float64) store.SurveillanceAlert {
		return store.SurveillanceAlert{ID: id, Day: day, Key: key, Method: method, Observed: obs, Expected: 2.5, Statistic: 4.25, Created: t0}
	}
	added, err := s.PutSurveillanceAlerts(ctx, []store.SurveillanceAlert{
		a("al1", day0, "sha256:x", "C1", 40), a("al2", day0, "sha256:x", "C2", 40), a("al3", day0-2, "finding:y", "C3", 9),
	})
	if err != nil || len(added) != 3 {
		t.Fatalf("first put: added %d, %v", len(added), err)
	}
	// Same (day, key, method) under a new id and other numbers: kept as it was.
	added, err = s.PutSurveillanceAlerts(ctx, []store.SurveillanceAlert{a("al4", day0, "sha256:x", "C1", 99), a("al5", day0, "sha256:x", "surge", 40)})
	if err != nil || len(added) != 1 || added[0].ID != "al5" {
		t.Fatalf("second put: added %+v, %v, want only al5", added, err)
	}
	got, err := s.SurveillanceAlerts(ctx, day0-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.ID)
	}
	if want := []string{"al1", "al2", "al5"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("alerts since day0-1 = %v, want %v", ids, want)
	}
	if got[0].Observed != 40 || got[0].Expected != 2.5 || got[0].Statistic != 4.25 || !got[0].Created.Equal(t0) || got[0].Key != "sha256:x" || got[0].Day != day0 {
		t.Errorf("alert = %+v", got[0])
	}
	if got, err := s.SurveillanceAlerts(ctx, 0, 2); err != nil || len(got) != 2 || got[0].ID != "al3" {
		t.Errorf("limited alerts = %+v, %v", got, err)
	}
	if added, err := s.PutSurveillanceAlerts(ctx, nil); err != nil || len(added) != 0 {
		t.Errorf("empty put = %v, %v", added, err)
	}
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
