package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/healthgate/healthgate/internal/httpsafe"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/taxii"
)

const intelPullUsage = `usage: healthgate intel pull --server URL --token T [--collection indicators] [--partner NAME] [--trust 0-100] [--data DIR | --db URL]

Pulls a partner organisation's TAXII 2.1 collection (URL is its discovery
URL, e.g. https://taxii.example.org/taxii2/) from where the last pull of
that partner and collection stopped, checks every object strictly, and
merges the indicators with source = the partner's name and its trust level.`

// partnerIndicatorSink returns where pulled indicators go: the intel store
// (intelsink.go). Tests replace it with a fake. While it is nil a pull is a
// dry run: it validates and counts but remembers nothing, so no indicator
// is skipped by a later pull.
var partnerIndicatorSink = intelstore.NewPartnerSink

// pullHTTPClient is the HTTP client of intel pull; tests replace it.
var pullHTTPClient = &http.Client{Timeout: 30 * time.Second}

// runIntelPull implements "healthgate intel pull".
func runIntelPull(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("intel pull", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, intelPullUsage)
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	server := fs.String("server", "", "the partner's TAXII discovery URL (https, or http to loopback)")
	token := fs.String("token", "", "the Bearer token the partner gave us")
	collection := fs.String("collection", "indicators", "collection id, alias or title")
	partner := fs.String("partner", "", "the partner's name as a source of indicators (default: the server's host)")
	trust := fs.Int("trust", 50, "how much to trust this partner's indicators, 0-100")
	limit := fs.Int("limit", taxii.DefaultLimit, fmt.Sprintf("objects per page, 1-%d", taxii.MaxLimit))
	maxPages := fs.Int("max-pages", 100, "stop after this many pages (the next pull resumes)")
	open := storeFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	u, err := url.Parse(*server)
	switch {
	case *server == "":
		problems = append(problems, "--server is required")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		problems = append(problems, fmt.Sprintf("--server %q is not an http(s) URL", redactURL(*server)))
	case u.Scheme == "http" && !httpsafe.Loopback(u.Hostname()):
		problems = append(problems, "--server must be https (http only to loopback): the token travels with every request")
	}
	if *token == "" {
		problems = append(problems, "--token is required")
	}
	if *trust < 0 || *trust > 100 {
		problems = append(problems, "--trust must be from 0 to 100")
	}
	if *limit < 1 || *limit > taxii.MaxLimit {
		problems = append(problems, fmt.Sprintf("--limit must be from 1 to %d", taxii.MaxLimit))
	}
	if *maxPages < 1 || *maxPages > 100_000 {
		problems = append(problems, "--max-pages must be from 1 to 100000")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "healthgate intel pull: %s\n", p)
		}
		return exitUsage
	}
	if *partner == "" {
		*partner = u.Host
	}
	st, err := open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate intel pull: %v\n", err)
		return exitCode(err)
	}
	defer st.Close()
	c := &taxii.Client{HTTP: pullHTTPClient, Token: *token}
	collURL, _, err := c.FindCollection(ctx, *server, *collection)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate intel pull: %v\n", err)
		return exitFail
	}
	opts := taxii.PullOptions{CollectionURL: collURL, Limit: *limit, MaxPages: *maxPages}
	var res taxii.PullResult
	if partnerIndicatorSink == nil {
		from, err := st.PullState(ctx, *partner, collURL)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate intel pull: %v\n", err)
			return exitFail
		}
		opts.AddedAfter, opts.Types = from, []string{"indicator"}
		n := 0
		opts.Page = func(_ context.Context, objs []stix.Object, _ time.Time) error { n += len(objs); return nil }
		res, err = c.Pull(ctx, opts)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate intel pull: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "dry run: %d indicators from %s validated (%d refused) but not merged: no intel store is wired in this build\n",
			n, *partner, res.Rejected)
		return exitOK
	}
	res, err = taxii.PullIndicators(ctx, c, st, partnerIndicatorSink(st), *partner, *trust, opts)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate intel pull: %v (the next pull resumes after the last page merged)\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "pulled %d indicators from %s (%s) in %d page(s); %d refused as invalid\n",
		res.Objects, *partner, *collection, res.Pages, res.Rejected)
	if !res.Complete {
		fmt.Fprintf(stdout, "stopped after --max-pages %d: run again to continue\n", *maxPages)
	}
	if !res.AddedAfter.IsZero() {
		fmt.Fprintf(stdout, "the next pull resumes after %s\n", stix.FormatTimestampMicro(res.AddedAfter))
	}
	return exitOK
}
