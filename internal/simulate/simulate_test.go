package simulate

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func smallConfig() Config {
	c := Default()
	c.Devices, c.Days, c.OutbreakDay, c.OutbreakDevices, c.OutbreakGrowth = 200, 20, 12, 3, 2
	c.Start = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	c.Seed = 7
	return c
}

func TestRunSmallFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 200 devices for 20 days")
	}
	ctx := context.Background()
	c := smallConfig()
	c.DataDir = t.TempDir()
	sum, err := Run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reports in %.1fs (%.0f/s); alerts: %d", sum.Timing.Reports, sum.Timing.Seconds, sum.Timing.ReportsPerSecond, len(sum.Alerts))
	if got, want := len(sum.Days), c.Days; got != want {
		t.Fatalf("days = %d, want %d", got, want)
	}
	for _, ds := range sum.Days {
		// K0·R^(day-K), bounded by the fleet.
		want := 0
		if ds.Day >= c.OutbreakDay {
			want = min(c.Devices, c.OutbreakDevices<<(ds.Day-c.OutbreakDay))
		}
		if ds.Infected != want {
			t.Errorf("day %d: infected = %d, want %d", ds.Day, ds.Infected, want)
		}
		if ds.InfectedReporting > ds.Infected || ds.HashSightings > ds.InfectedReporting {
			t.Errorf("day %d: infected %d, reporting %d, sightings %d: not nested", ds.Day, ds.Infected, ds.InfectedReporting, ds.HashSightings)
		}
		total := 0
		for _, n := range ds.Tiers {
			total += n
		}
		if total != ds.Reporting || ds.Reporting == 0 || ds.Reporting > c.Devices {
			t.Errorf("day %d: %d reporting, tiers %v", ds.Day, ds.Reporting, ds.Tiers)
		}
		if ds.Day < c.OutbreakDay && ds.Tiers["affirming"] < ds.Reporting/2 {
			t.Errorf("day %d: only %d of %d affirming: the mix is off", ds.Day, ds.Tiers["affirming"], ds.Reporting)
		}
		if ds.Day >= c.OutbreakDay+c.ListingDelay && ds.HashSightings != ds.InfectedReporting {
			t.Errorf("day %d: listed, but %d of %d infected devices named the hash", ds.Day, ds.HashSightings, ds.InfectedReporting)
		}
	}
	if last := sum.Days[len(sum.Days)-1]; last.Infected != c.Devices {
		t.Errorf("last day: %d infected, want the whole fleet", last.Infected)
	}
	if !sum.Surveillance {
		t.Log("the server has no surveillance API")
	} else if sum.FirstOutbreakAlert == 0 {
		t.Errorf("no alert on the outbreak hash; alerts: %+v", sum.Alerts)
	}

	// Deterministic for a seed (a fresh data directory, same summary).
	c.DataDir = t.TempDir()
	again, err := Run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	sum.Timing, again.Timing = Timing{}, Timing{}
	a, _ := json.Marshal(sum)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Errorf("two runs with seed %d differ:\n%s\n%s", c.Seed, a, b)
	}
}

func TestValidate(t *testing.T) {
	ok := smallConfig()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no outbreak", func(c *Config) { c.OutbreakDay, c.OutbreakGrowth = 0, 0 }, ""},
		{"zero devices", func(c *Config) { c.Devices = 0 }, "devices must be"},
		{"too many devices", func(c *Config) { c.Devices = MaxDevices + 1 }, "devices must be"},
		{"too many days", func(c *Config) { c.Days = MaxDays + 1 }, "days must be"},
		{"outbreak after the end", func(c *Config) { c.OutbreakDay = 21 }, "outbreak day"},
		{"shrinking outbreak", func(c *Config) { c.OutbreakGrowth = 0.5 }, "outbreak growth"},
		{"outbreak larger than the fleet", func(c *Config) { c.OutbreakDevices = 201 }, "outbreak devices"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "start"},
		{"never listed", func(c *Config) { c.ListingDelay = -1 }, ""},
		{"a negative listing delay other than -1", func(c *Config) { c.ListingDelay = -5 }, "listing delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestInfectedGrowth(t *testing.T) {
	c := Config{Devices: 100, OutbreakDay: 5, OutbreakDevices: 2, OutbreakGrowth: 1.5}
	for day, want := range map[int]int{4: 0, 5: 2, 6: 3, 7: 5, 8: 7, 20: 100} {
		if got := c.infected(day); got != want {
			t.Errorf("infected(%d) = %d, want %d", day, got, want)
		}
	}
}
