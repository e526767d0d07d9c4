package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/store"
)

const intelUsage = `usage: healthgate intel add TYPE VALUE [--source S] [--confidence N] [--ttl D] [--reason R] [--pending]
       healthgate intel import FILE [--source S] [--reason R]
       healthgate intel list [--type T] [--status S] [--limit N] [--json]
       healthgate intel show ID|VALUE [--type T] [--json]
       healthgate intel retire ID|VALUE --reason R [--type T]
       healthgate intel pull --server URL --token T …

each with [--data DIR | --db URL] and [--actor NAME]. Run
'healthgate intel add -h' (or intel pull -h) for the flags.`

// runIntel manages threat-intelligence indicators directly in the store:
//
//	healthgate intel add TYPE VALUE [--source S] [--confidence N] [--ttl D] [--reason R] [--pending]
//	healthgate intel import FILE [--source S] [--reason R]
//	healthgate intel list [--type T] [--status S] [--limit N] [--json]
//	healthgate intel show ID|VALUE [--type T] [--json]
//	healthgate intel retire ID|VALUE --reason R [--type T]
//	healthgate intel pull … (partner TAXII collections: intelpull.go)
//
// each with [--data DIR | --db URL] and [--actor NAME] (default cli:$USER)
// for the audit trail. Format of import files: docs/INTEL.md.
func runIntel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, intelUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, intelUsage)
		return exitOK
	}
	sub, args := args[0], args[1:]
	if sub == "pull" {
		return runIntelPull(ctx, args, stdout, stderr) // intelpull.go (TAXII)
	}
	fs := newFlagSet("intel "+sub, stderr)
	open := storeFlags(fs)
	source := fs.String("source", "", "where the indicator comes from (default: manual, or import:FILE)")
	confidence := fs.Int("confidence", 75, "confidence, 0 to 100")
	ttl := fs.String("ttl", "", "lifetime without a new sighting, e.g. 12h or 7d (default: by type, see docs/INTEL.md)")
	reason := fs.String("reason", "", "why: goes into the audit trail")
	pending := fs.Bool("pending", false, "add as suspicious, pending review (not on the feed)")
	typ := fs.String("type", "", "indicator type: "+typeList())
	status := fs.String("status", "", "list: only this status ("+strings.Join(intel.Statuses, ", ")+")")
	limit := fs.Int("limit", 0, "list: at most this many (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	actor := fs.String("actor", "cli:"+os.Getenv("USER"), "who is making the change, for the audit trail")
	var pos []string
	for len(args) > 0 {
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	want := map[string]int{"add": 2, "import": 1, "list": 0, "show": 1, "retire": 1}
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(stderr, "healthgate intel: unknown subcommand %q: want add, import, list, show, retire or pull\n", sub)
		return exitUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "healthgate intel %s: want %d argument(s), got %d\n", sub, n, len(pos))
		return exitUsage
	}
	if sub == "retire" && strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(stderr, "healthgate intel retire: --reason is required (it goes into the audit trail)")
		return exitUsage
	}
	if *limit < 0 {
		fmt.Fprintf(stderr, "healthgate intel %s: --limit %d: want 0 (all) or more\n", sub, *limit)
		return exitUsage
	}
	if *status != "" && !slices.Contains(intel.Statuses, *status) {
		fmt.Fprintf(stderr, "healthgate intel: --status %q: want one of %s\n", *status, strings.Join(intel.Statuses, ", "))
		return exitUsage
	}
	if *typ != "" && !slices.Contains(intel.Types, intel.Type(*typ)) {
		fmt.Fprintf(stderr, "healthgate intel: --type %q: want one of %s\n", *typ, typeList())
		return exitUsage
	}
	now := time.Now().UTC()
	ch := store.Change{Actor: *actor, Reason: *reason, At: now}
	// Check everything that can be checked before the store is opened, so
	// a bad argument or file leaves no trace (not even a new database).
	var records []intel.Record
	switch sub {
	case "add":
		st := intel.StatusActive
		if *pending {
			st = intel.StatusPending
		}
		src := *source
		if src == "" {
			src = "manual"
		}
		rec, err := intel.NewRecord(pos[0], pos[1], src, fmt.Sprint(*confidence), *ttl, *reason, st)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate intel add: %v\n", err)
			return exitUsage
		}
		records = []intel.Record{rec}
	case "import":
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "healthgate intel import: %v\n", err)
			return exitFail
		}
		records, err = intel.ParseImport(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "healthgate intel import: %s: %v (nothing was imported)\n", pos[0], err)
			return exitFail
		}
		for i := range records {
			if records[i].Source == "" {
				records[i].Source = *source
				if records[i].Source == "" {
					records[i].Source = "import:" + filepath.Base(pos[0])
				}
			}
		}
		if ch.Reason == "" {
			ch.Reason = "imported from " + filepath.Base(pos[0])
		}
	}
	st, err := open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate intel:", err)
		return exitCode(err)
	}
	defer st.Close()
	switch sub {
	case "add", "import":
		err = intelPut(ctx, st, records, ch, stdout)
	case "list":
		err = intelList(ctx, st, store.IndicatorFilter{Type: *typ, Status: *status, Limit: *limit}, *asJSON, now, stdout)
	case "show":
		err = intelShow(ctx, st, pos[0], *typ, *asJSON, now, stdout)
	case "retire":
		err = intelRetire(ctx, st, pos[0], *typ, ch, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthgate intel %s: %v\n", sub, err)
		return exitFail
	}
	return exitOK
}

func typeList() string {
	s := make([]string, len(intel.Types))
	for i, t := range intel.Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func intelPut(ctx context.Context, st store.Store, records []intel.Record, ch store.Change, w io.Writer) error {
	ins := make([]store.Indicator, len(records))
	for i, rec := range records {
		in, err := intelstore.NewIndicator(rec, ch.At)
		if err != nil {
			return err
		}
		ins[i] = in
	}
	stored, err := st.PutIndicators(ctx, ins, ch)
	if err != nil {
		return err
	}
	if err := intelstore.Share(ctx, st, stored, ch.At); err != nil {
		return fmt.Errorf("indicators stored, but sharing them over TAXII failed: %w", err)
	}
	if len(stored) == 1 {
		in := stored[0]
		fmt.Fprintf(w, "%s %s %s %s\n", in.Status, in.Type, in.Value, in.ID)
		return nil
	}
	fmt.Fprintf(w, "imported %d indicators\n", len(stored))
	return nil
}

// indicatorJSON is how `intel list --json` prints an indicator.
type indicatorJSON struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Value      string     `json:"value"`
	Source     string     `json:"source"`
	Confidence int        `json:"confidence"`
	Current    int        `json:"current_confidence"` // decayed to now
	Status     string     `json:"status"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	Expires    *time.Time `json:"expires,omitempty"`
	Feed       string     `json:"feed,omitempty"` // kind:value on the agent feed
}

func toJSON(in store.Indicator, now time.Time) indicatorJSON {
	j := indicatorJSON{ID: in.ID, Type: in.Type, Value: in.Value, Source: in.Source, Confidence: in.Confidence,
		Current: intel.Decayed(in.Confidence, in.LastSeen, in.Expires, now), Status: in.Status,
		FirstSeen: in.FirstSeen, LastSeen: in.LastSeen}
	if !in.Expires.IsZero() {
		e := in.Expires
		j.Expires = &e
	}
	if in.FeedKind != "" {
		j.Feed = in.FeedKind + ":" + in.FeedValue
	}
	return j
}

func intelList(ctx context.Context, st store.Store, f store.IndicatorFilter, asJSON bool, now time.Time, w io.Writer) error {
	list, err := st.Indicators(ctx, f)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]indicatorJSON, len(list))
		for i, in := range list {
			out[i] = toJSON(in, now)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tCONF\tEXPIRES\tSOURCE\tVALUE")
	for _, in := range list {
		exp := "never"
		if !in.Expires.IsZero() {
			exp = in.Expires.Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", in.ID, in.Type, in.Status,
			intel.Decayed(in.Confidence, in.LastSeen, in.Expires, now), in.Confidence, exp, in.Source, in.Value)
	}
	return tw.Flush()
}

// findIndicator finds an indicator by id, or by value (normalised for each
// type, or for typ when given).
func findIndicator(ctx context.Context, st store.Store, q, typ string) (store.Indicator, error) {
	if in, err := st.Indicator(ctx, q, "", ""); err == nil || !errors.Is(err, store.ErrNotFound) {
		return in, err
	}
	types := intel.Types
	if typ != "" {
		types = []intel.Type{intel.Type(typ)}
	}
	var found []store.Indicator
	for _, t := range types {
		n, err := intel.Normalize(t, q)
		if err != nil {
			continue
		}
		in, err := st.Indicator(ctx, "", string(t), n.Value)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Indicator{}, err
		}
		found = append(found, in)
	}
	switch len(found) {
	case 0:
		return store.Indicator{}, fmt.Errorf("no indicator with id or value %q", q)
	case 1:
		return found[0], nil
	}
	return store.Indicator{}, fmt.Errorf("%q is the value of %d indicators: say which with --type or give the id", q, len(found))
}

func intelShow(ctx context.Context, st store.Store, q, typ string, asJSON bool, now time.Time, w io.Writer) error {
	in, err := findIndicator(ctx, st, q, typ)
	if err != nil {
		return err
	}
	evs, err := st.IndicatorEvents(ctx, in.ID)
	if err != nil {
		return err
	}
	if asJSON {
		type event struct {
			At     time.Time `json:"at"`
			Actor  string    `json:"actor"`
			Action string    `json:"action"`
			From   string    `json:"from,omitempty"`
			To     string    `json:"to"`
			Reason string    `json:"reason,omitempty"`
		}
		out := struct {
			indicatorJSON
			History []event `json:"history"`
		}{indicatorJSON: toJSON(in, now), History: []event{}}
		for _, e := range evs {
			out.History = append(out.History, event{e.At, e.Actor, e.Action, e.FromStatus, e.ToStatus, e.Reason})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	j := toJSON(in, now)
	fmt.Fprintf(w, "%s %s %s\nstatus %s, confidence %d (now %d), source %s\nfirst seen %s, last seen %s\n",
		in.ID, in.Type, in.Value, in.Status, in.Confidence, j.Current, in.Source,
		in.FirstSeen.Format(time.RFC3339), in.LastSeen.Format(time.RFC3339))
	for _, e := range evs {
		fmt.Fprintf(w, "  %s %s %s %s→%s %s\n", e.At.Format(time.RFC3339), e.Actor, e.Action, e.FromStatus, e.ToStatus, e.Reason)
	}
	return nil
}

func intelRetire(ctx context.Context, st store.Store, q, typ string, ch store.Change, w io.Writer) error {
	in, err := findIndicator(ctx, st, q, typ)
	if err != nil {
		return err
	}
	if in.Status == intel.StatusRetired {
		return fmt.Errorf("indicator %s is already retired", in.ID)
	}
	in, err = st.SetIndicatorStatus(ctx, in.ID, intel.StatusRetired, ch)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "retired %s %s %s\n", in.Type, in.Value, in.ID)
	return nil
}
