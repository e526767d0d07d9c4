package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/simulate"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	def := simulate.Default()
	fs := newFlagSet("simulate", stderr)
	devices := fs.Int("devices", def.Devices, fmt.Sprintf("devices in the fleet (1 to %d)", simulate.MaxDevices))
	days := fs.Int("days", def.Days, fmt.Sprintf("days to simulate (1 to %d)", simulate.MaxDays))
	outbreakDay := fs.Int("outbreak-day", 0, "day (1-based) a new malware executable appears; 0 for none (default: two thirds through the run)")
	outbreakDevices := fs.Int("outbreak-devices", def.OutbreakDevices, "devices that catch it on the outbreak day (K0)")
	growth := fs.Float64("outbreak-growth", def.OutbreakGrowth, "daily growth factor R of the infected devices (1 to 100)")
	listing := fs.Int("listing-delay", def.ListingDelay, "days after the outbreak day until its hash is on the agents' feed; -1 for never")
	seed := fs.Uint64("seed", def.Seed, "random seed: the same seed gives the same fleet and the same summary")
	startFlag := fs.String("start", "", "first simulated day, YYYY-MM-DD (default: so that the last day is today, UTC)")
	dataDir := fs.String("data", "", "keep the database and agent state in this directory (default: a temporary directory)")
	workers := fs.Int("workers", def.Workers, "devices reporting at the same time")
	asJSON := fs.Bool("json", false, "print the summary as JSON instead of a table")
	logLevel := fs.String("log-level", "error", "server log level")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate simulate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg := def
	cfg.Devices, cfg.Days, cfg.OutbreakDevices, cfg.OutbreakGrowth = *devices, *days, *outbreakDevices, *growth
	cfg.ListingDelay, cfg.Seed, cfg.DataDir, cfg.Workers = *listing, *seed, *dataDir, *workers
	cfg.OutbreakDay = *outbreakDay
	if !set["outbreak-day"] {
		cfg.OutbreakDay = simulate.AutoOutbreakDay(*days)
	}
	if *dataDir != "" {
		if err := checkStore(*dataDir, ""); err != nil {
			fmt.Fprintln(stderr, "healthgate simulate:", err)
			return exitUsage
		}
	}
	if *startFlag != "" {
		t, err := time.Parse(time.DateOnly, *startFlag)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate simulate: --start %q: want YYYY-MM-DD\n", *startFlag)
			return exitUsage
		}
		cfg.Start = t
	} else {
		cfg.Start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-max(*days, 1))
	}
	if err := cfg.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "healthgate simulate:", line)
		}
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate simulate:", err)
		return exitUsage
	}
	cfg.Logger = log

	if !*asJSON {
		fmt.Fprintf(stdout, "Simulating %d devices for %d days from %s (seed %d)\n", cfg.Devices, cfg.Days, cfg.Start.Format(time.DateOnly), cfg.Seed)
		if cfg.OutbreakDay > 0 {
			listed := "never listed"
			if cfg.ListingDelay >= 0 {
				listed = fmt.Sprintf("on the feed from day %d", cfg.OutbreakDay+cfg.ListingDelay)
			}
			fmt.Fprintf(stdout, "Outbreak: %d devices on day %d, growing ×%g a day; %s\n", cfg.OutbreakDevices, cfg.OutbreakDay, cfg.OutbreakGrowth, listed)
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stdout, "%4s  %-10s  %9s  %9s  %7s  %15s  %4s  %8s  %9s  %8s\n",
			"day", "date", "reporting", "affirming", "warning", "contraindicated", "none", "infected", "inf.rep.", "sighted")
		cfg.OnDay = func(d simulate.DayStats) {
			mark := ""
			if d.Listed {
				mark = "  listed"
			}
			fmt.Fprintf(stdout, "%4d  %-10s  %9d  %9d  %7d  %15d  %4d  %8d  %9d  %8d%s\n", d.Day, d.Date, d.Reporting,
				d.Tiers["affirming"], d.Tiers["warning"], d.Tiers["contraindicated"], d.Tiers["none"],
				d.Infected, d.InfectedReporting, d.HashSightings, mark)
		}
	}
	sum, err := simulate.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate simulate:", err)
		return exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			fmt.Fprintln(stderr, "healthgate simulate:", err)
			return exitFail
		}
		return exitOK
	}
	printSimulation(stdout, sum)
	return exitOK
}

func printSimulation(w io.Writer, sum *simulate.Summary) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Fleet: %d healthy, %d at risk, %d risky browser extension, %d remote-control tool, %d known malware\n",
		sum.Profiles["healthy"], sum.Profiles["at_risk"], sum.Profiles["risky_addon"], sum.Profiles["remote_control"], sum.Profiles["malware"])
	if sum.OutbreakHash != "" {
		fmt.Fprintf(w, "Outbreak executable: sha256:%s\n", sum.OutbreakHash)
	}
	fmt.Fprintln(w)
	switch {
	case !sum.Surveillance:
		fmt.Fprintln(w, "This server has no surveillance API (GET /v1/surveillance/alerts): no alerts to show.")
		fmt.Fprintln(w, "The 'sighted' column above is the daily count of devices whose findings named the outbreak hash, computed by the simulator.")
	case len(sum.Alerts) == 0:
		fmt.Fprintln(w, "The server raised no outbreak alerts.")
	default:
		fmt.Fprintf(w, "Alerts the server raised (%d):\n", len(sum.Alerts))
		for _, a := range sum.Alerts {
			mark := ""
			if a.Outbreak {
				mark = "  <- the outbreak"
			}
			fmt.Fprintf(w, "  %s  %-8s  %-20s  observed %5.0f  expected %7.1f%s\n", a.Day, a.Method, shortKey(a.Key), a.Observed, a.Expected, mark)
		}
		if sum.OutbreakHash != "" {
			switch {
			case sum.FirstOutbreakAlert == 0:
				fmt.Fprintln(w, "No alert named the outbreak hash.")
			case sum.ListedDay > 0 && sum.FirstOutbreakAlert < sum.ListedDay:
				fmt.Fprintf(w, "First alert on the outbreak hash: day %d, %d day(s) after it appeared and %d before it was on the feed.\n",
					sum.FirstOutbreakAlert, sum.FirstOutbreakAlert-sum.OutbreakDay, sum.ListedDay-sum.FirstOutbreakAlert)
			default:
				fmt.Fprintf(w, "First alert on the outbreak hash: day %d, %d day(s) after it appeared.\n",
					sum.FirstOutbreakAlert, sum.FirstOutbreakAlert-sum.OutbreakDay)
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d reports in %.1f s: %.0f reports/s\n", sum.Timing.Reports, sum.Timing.Seconds, sum.Timing.ReportsPerSecond)
}

// shortKey abbreviates a hash key for the table.
func shortKey(k string) string {
	if fam, v, ok := strings.Cut(k, ":"); ok && len(v) > 16 {
		return fam + ":" + v[:12] + "…"
	}
	return k
}
