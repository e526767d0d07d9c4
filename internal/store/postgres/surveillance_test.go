package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/storetest"
)

// TestSurveillanceDayOnceAcrossNodes: nodes closing one day at the same
// moment store it once; every other node gets ErrConflict, and the stored
// counts are the winner's, whole.
func TestSurveillanceDayOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dbs := openNodes(t, 4)
	const day = 20000
	winner := storetest.Race(t, len(dbs), store.ErrConflict, func(i int) error {
		d := store.SurveillanceDay{Day: day, Closed: store.DayStart(day + 1), Reporting: []store.RegionCount{{Devices: 100 + i}}}
		for k := range 50 {
			d.Sightings = append(d.Sightings, store.SightingCount{Key: fmt.Sprintf("finding:k%02d", k), Devices: i + 1})
		}
		return dbs[i].PutSurveillanceDay(ctx, d)
	})
	if winner < 0 {
		t.FailNow()
	}
	got, err := dbs[0].SurveillanceDay(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reporting) != 1 || got.Reporting[0].Devices != 100+winner || len(got.Sightings) != 50 {
		t.Fatalf("stored day = %+v, want node %d's", got, winner)
	}
	for _, c := range got.Sightings {
		if c.Devices != winner+1 {
			t.Errorf("count %+v mixes nodes, want node %d's", c, winner)
		}
	}
}

// TestSurveillanceAlertsAcrossNodes: nodes putting the same alerts at once,
// in different orders, neither fail (no deadlock) nor store one twice, and
// between them report each alert as new exactly once.
func TestSurveillanceAlertsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dbs := openNodes(t, 4)
	var alerts []store.SurveillanceAlert
	for k := range 40 {
		alerts = append(alerts, store.SurveillanceAlert{
			ID: fmt.Sprintf("al%02d", k), Day: 20000 + int64(k%3), Key: fmt.Sprintf("sha256:%02d", k), Method: "C1",
			Observed: 9, Expected: 2, Statistic: 3.5, Created: time.UnixMilli(1_700_000_000_000).UTC(),
		})
	}
	added := make([][]store.SurveillanceAlert, len(dbs))
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		as := slices.Clone(alerts)
		if i%2 == 1 {
			slices.Reverse(as)
		}
		wg.Go(func() { added[i], errs[i] = db.PutSurveillanceAlerts(ctx, as) })
	}
	wg.Wait()
	seen := map[string]int{}
	for i := range dbs {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
		}
		for _, a := range added[i] {
			seen[a.ID]++
		}
	}
	for _, a := range alerts {
		if seen[a.ID] != 1 {
			t.Errorf("alert %s reported new by %d nodes, want 1", a.ID, seen[a.ID])
		}
	}
	got, err := dbs[0].SurveillanceAlerts(ctx, 0, 0)
	if err != nil || len(got) != len(alerts) {
		t.Errorf("stored %d alerts, %v, want %d", len(got), err, len(alerts))
	}
}

// TestDeviceAKAcrossNodes: nodes storing different keys for one device at
// once keep one; the others get ErrConflict.
func TestDeviceAKAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dbs := openNodes(t, 4)
	if _, _, err := dbs[0].EnrollDevice(ctx, store.Device{ID: "dev1", PublicKey: []byte("{}"), JKT: "j1"}); err != nil {
		t.Fatal(err)
	}
	winner := storetest.Race(t, len(dbs), store.ErrConflict, func(i int) error {
		return dbs[i].PutDeviceAK(ctx, "dev1", []byte{0x00, byte(i)}, time.Now())
	})
	if ak, err := dbs[1].DeviceAK(ctx, "dev1"); err != nil || winner < 0 || ak[1] != byte(winner) {
		t.Errorf("DeviceAK = %x, %v, want node %d's key", ak, err, winner)
	}
}
