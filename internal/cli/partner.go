package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/taxii"
)

const partnerUsage = `usage: healthgate partner create NAME [--read COLL]… [--write COLL]… [--ttl D] [--data DIR | --db URL]
       healthgate partner token NAME [--ttl D] [--data DIR | --db URL]
       healthgate partner revoke NAME [--data DIR | --db URL]
       healthgate partner list [--data DIR | --db URL]

A partner is another organisation exchanging STIX over TAXII 2.1 at
/taxii2/ with an HTTP Bearer token. create and token print the token once:
it is the last word of the last line. Only its hash is stored. Every partner
reads the indicators collection; --read and --write (repeatable, or comma
separated) grant more. Collections: ` + "indicators, sightings (read-only)."

// runPartner implements "healthgate partner ...".
func runPartner(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, partnerUsage)
		return exitUsage
	}
	switch args[0] {
	case "create", "token", "revoke", "list":
		return runPartnerCmd(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, partnerUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "healthgate partner: unknown subcommand %q\n%s\n", args[0], partnerUsage)
		return exitUsage
	}
}

// collectionList is a repeatable, comma-separated flag of collection
// aliases.
type collectionList []string

func (l *collectionList) String() string { return strings.Join(*l, ",") }
func (l *collectionList) Set(s string) error {
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if _, ok := taxii.CollectionByAlias(c); !ok {
			var names []string
			for _, k := range taxii.Collections {
				names = append(names, k.Alias)
			}
			return fmt.Errorf("no collection %q (collections: %s)", c, strings.Join(names, ", "))
		}
		if !slices.Contains(*l, c) {
			*l = append(*l, c)
		}
	}
	return nil
}

var partnerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func runPartnerCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("partner "+sub, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, partnerUsage)
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	open := storeFlags(fs)
	var read, write collectionList
	ttl := taxii.DefaultTokenLifetime
	if sub == "create" {
		fs.Var(&read, "read", "a collection the partner may read besides indicators (repeatable)")
		fs.Var(&write, "write", "a collection the partner may add objects to (repeatable)")
	}
	if sub == "create" || sub == "token" {
		fs.DurationVar(&ttl, "ttl", ttl, fmt.Sprintf("token lifetime, %v to %v", taxii.MinTokenLifetime, taxii.MaxTokenLifetime))
	}
	pos, code, ok := parseInterspersed(fs, args)
	if !ok {
		return code
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		fmt.Fprintf(stderr, "healthgate partner %s: want %d argument(s), got %d\n%s\n", sub, wantArgs, len(pos), partnerUsage)
		return exitUsage
	}
	if slices.Contains(write, "sightings") {
		fmt.Fprintln(stderr, "healthgate partner create: the sightings collection is read-only")
		return exitUsage
	}
	if ttl < taxii.MinTokenLifetime || ttl > taxii.MaxTokenLifetime {
		fmt.Fprintf(stderr, "healthgate partner %s: --ttl %v is outside [%v, %v]\n", sub, ttl, taxii.MinTokenLifetime, taxii.MaxTokenLifetime)
		return exitUsage
	}
	st, err := open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate partner %s: %v\n", sub, err)
		return exitCode(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	switch sub {
	case "list":
		ps, err := st.Partners(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner list: %v\n", err)
			return exitFail
		}
		for _, p := range ps {
			fmt.Fprintf(stdout, "%s\t%s\tread=%s\twrite=%s\tcreated=%s\n", p.Name, p.ID, rights(p, true), rights(p, false), p.Created.Format(time.RFC3339))
		}
		return exitOK
	case "create":
		name := pos[0]
		if !partnerNameRE.MatchString(name) {
			fmt.Fprintf(stderr, "healthgate partner create: name %q: use letters, digits, '.', '_' and '-' (at most 64)\n", name)
			return exitUsage
		}
		idb := make([]byte, 8)
		if _, err := rand.Read(idb); err != nil {
			fmt.Fprintf(stderr, "healthgate partner create: %v\n", err)
			return exitFail
		}
		p := store.Partner{ID: "partner-" + hex.EncodeToString(idb), Name: name, Read: read, Write: write, Created: now}
		tok, rec, err := taxii.NewToken(p.ID, ttl, now, nil)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner create: %v\n", err)
			return exitFail
		}
		if err := st.CreatePartner(ctx, p, rec); err != nil {
			if errors.Is(err, store.ErrConflict) {
				fmt.Fprintf(stderr, "healthgate partner create: a partner named %q already exists (use 'partner token %s' for a new token)\n", name, name)
				return exitFail
			}
			fmt.Fprintf(stderr, "healthgate partner create: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "partner %s created (id %s): reads %s; writes %s\n", name, p.ID, rights(p, true), rights(p, false))
		fmt.Fprintf(stdout, "TAXII discovery: /taxii2/ with header Authorization: Bearer <token>\n")
		fmt.Fprintf(stdout, "the token expires %s and is shown only this once; token: %s\n", rec.Expires.Format(time.RFC3339), tok)
		return exitOK
	case "token":
		p, err := st.Partner(ctx, pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner token: %s: %v\n", pos[0], err)
			return exitFail
		}
		tok, rec, err := taxii.NewToken(p.ID, ttl, now, nil)
		if err == nil {
			err = st.AddPartnerToken(ctx, rec)
		}
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner token: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "new token for partner %s (older tokens stay valid until they expire or 'partner revoke')\n", p.Name)
		fmt.Fprintf(stdout, "the token expires %s and is shown only this once; token: %s\n", rec.Expires.Format(time.RFC3339), tok)
		return exitOK
	default: // revoke
		p, err := st.Partner(ctx, pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner revoke: %s: %v\n", pos[0], err)
			return exitFail
		}
		n, err := st.RevokePartnerTokens(ctx, p.ID, now)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate partner revoke: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "revoked %d token(s) of partner %s\n", n, p.Name)
		return exitOK
	}
}

func rights(p store.Partner, read bool) string {
	var out []string
	for _, c := range taxii.Collections {
		if read && taxii.CanRead(p, c) || !read && taxii.CanWrite(p, c) {
			out = append(out, c.Alias)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ",")
}

// parseInterspersed parses flags that may come before or after the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return nil, code, false
		}
		if fs.NArg() == 0 {
			return pos, 0, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
