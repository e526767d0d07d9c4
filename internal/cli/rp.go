package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
)

const rpUsage = `usage: healthgate rp create NAME [--scopes decisions,feed,admin] [--lifetime 8760h] [--data DIR | --db URL]
       healthgate rp list [--data DIR | --db URL]
       healthgate rp rotate NAME [--grace 24h] [--lifetime 8760h] [--data DIR | --db URL]
       healthgate rp revoke NAME|KEYID [--data DIR | --db URL]

A relying party (a payment platform, merchant or bank) asks for decisions
with an API key. create and rotate print the key once: it is the last word
of the last line. Run 'healthgate rp create -h' for the flags.`

// runRP manages relying parties and their API keys:
//
//	healthgate rp create NAME [--scopes decisions,feed,admin] [--lifetime 8760h]
//	healthgate rp list
//	healthgate rp rotate NAME [--grace 24h] [--lifetime 8760h]
//	healthgate rp revoke NAME|KEYID
//
// each with [--data DIR | --db URL]. Keys are printed once, as the last
// word of the last line.
func runRP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, rpUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, rpUsage)
		return exitOK
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("rp "+sub, stderr)
	open := storeFlags(fs)
	scopes := fs.String("scopes", store.ScopeDecisions, "comma-separated scopes: "+strings.Join(store.Scopes, ", "))
	lifetime := fs.Duration("lifetime", server.DefaultKeyLifetime, fmt.Sprintf("key lifetime, at most %v", server.MaxKeyLifetime))
	grace := fs.Duration("grace", server.DefaultKeyGrace, fmt.Sprintf("rotate: how long the old key keeps working, at most %v", server.MaxKeyGrace))
	// Accept flags after the positional NAME too.
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
	want := map[string]int{"create": 1, "list": 0, "rotate": 1, "revoke": 1}
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(stderr, "healthgate rp: unknown subcommand %q: want create, list, rotate or revoke\n", sub)
		return exitUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "healthgate rp %s: want %d argument(s), got %d\n", sub, n, len(pos))
		return exitUsage
	}
	if *grace < 0 || *grace > server.MaxKeyGrace {
		fmt.Fprintf(stderr, "healthgate rp: --grace %v is outside [0, %v]\n", *grace, server.MaxKeyGrace)
		return exitUsage
	}
	// Check what can be checked before the store is opened (or created).
	if *lifetime < server.MinKeyLifetime || *lifetime > server.MaxKeyLifetime {
		fmt.Fprintf(stderr, "healthgate rp %s: --lifetime %v is outside [%v, %v]\n", sub, *lifetime, server.MinKeyLifetime, server.MaxKeyLifetime)
		return exitUsage
	}
	if sub == "create" {
		if err := validRPName(pos[0]); err != nil {
			fmt.Fprintf(stderr, "healthgate rp create: %v\n", err)
			return exitUsage
		}
		sc := splitScopes(*scopes)
		if len(sc) == 0 {
			fmt.Fprintln(stderr, "healthgate rp create: --scopes: a key needs at least one scope")
			return exitUsage
		}
		for _, s := range sc {
			if !slices.Contains(store.Scopes, s) {
				fmt.Fprintf(stderr, "healthgate rp create: --scopes: unknown scope %q: want %s\n", s, strings.Join(store.Scopes, ", "))
				return exitUsage
			}
		}
	}
	st, err := open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate rp:", err)
		return exitCode(err)
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "create":
		err = rpCreate(ctx, st, pos[0], splitScopes(*scopes), *lifetime, now, stdout)
	case "list":
		err = rpList(ctx, st, now, stdout)
	case "rotate":
		err = rpRotate(ctx, st, pos[0], *lifetime, *grace, now, stdout)
	case "revoke":
		err = rpRevoke(ctx, st, pos[0], now, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthgate rp %s: %v\n", sub, err)
		return exitFail
	}
	return exitOK
}

func splitScopes(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func validRPName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return fmt.Errorf("name %q: use 1 to 64 letters, digits, '-', '_' or '.'", name)
	}
	return nil
}

func printKey(w io.Writer, key string, k store.APIKey) {
	fmt.Fprintf(w, "key id:  %s\nscopes:  %s\nexpires: %s\n", k.ID, strings.Join(k.Scopes, ","), k.Expires.Format(time.RFC3339))
	fmt.Fprintln(w, "This API key is shown only once. Store it safely:")
	fmt.Fprintf(w, "API key: %s\n", key)
}

func rpCreate(ctx context.Context, st store.Store, name string, scopes []string, lifetime time.Duration, now time.Time, w io.Writer) error {
	if err := validRPName(name); err != nil {
		return err
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	rpID := "rp_" + hex.EncodeToString(b)
	key, k, err := server.NewAPIKey(rpID, scopes, lifetime, now, rand.Reader)
	if err != nil {
		return err
	}
	err = st.CreateRelyingParty(ctx, store.RelyingParty{ID: rpID, Name: name, Created: now.UTC()}, k)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a relying party named %q already exists (use rp rotate for a new key)", name)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(w, "relying party %s created (id %s)\n", name, rpID)
	printKey(w, key, k)
	return nil
}

func rpList(ctx context.Context, st store.Store, now time.Time, w io.Writer) error {
	rps, err := st.RelyingParties(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, rp := range rps {
		names[rp.ID] = rp.Name
	}
	keys, err := st.APIKeys(ctx, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELYING PARTY\tKEY ID\tSCOPES\tCREATED\tEXPIRES\tSTATE")
	for _, k := range keys {
		state := "active"
		switch {
		case !k.Revoked.IsZero():
			state = "revoked " + k.Revoked.Format(time.RFC3339)
		case !now.Before(k.Expires):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", names[k.RPID], k.ID, strings.Join(k.Scopes, ","),
			k.Created.Format(time.RFC3339), k.Expires.Format(time.RFC3339), state)
	}
	return tw.Flush()
}

func rpRotate(ctx context.Context, st store.Store, name string, lifetime, grace time.Duration, now time.Time, w io.Writer) error {
	rp, err := st.RelyingParty(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no relying party %q", name)
	} else if err != nil {
		return err
	}
	// The new key keeps the scopes of the newest valid key.
	keys, err := st.APIKeys(ctx, rp.ID)
	if err != nil {
		return err
	}
	scopes := []string{store.ScopeDecisions}
	for _, k := range keys {
		if k.ValidAt(now) {
			scopes = k.Scopes
		}
	}
	key, k, err := server.NewAPIKey(rp.ID, scopes, lifetime, now, rand.Reader)
	if err != nil {
		return err
	}
	until := now.Add(grace).UTC()
	if grace == 0 {
		until = now.UTC().Add(time.Millisecond) // at once
	}
	if err := st.AddAPIKey(ctx, k, until); err != nil {
		return err
	}
	announceKeys(ctx, st, rp.ID, w) // servers read the cut-short expiries again
	fmt.Fprintf(w, "new key for %s; older keys stop working at %s\n", rp.Name, until.Format(time.RFC3339))
	printKey(w, key, k)
	return nil
}

func rpRevoke(ctx context.Context, st store.Store, target string, now time.Time, w io.Writer) error {
	if rp, err := st.RelyingParty(ctx, target); err == nil {
		n, err := st.RevokeRelyingPartyKeys(ctx, rp.ID, now.UTC())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "revoked %d key(s) of %s; servers stop accepting them %s\n", n, rp.Name, announceKeys(ctx, st, rp.ID, w))
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := st.RevokeAPIKey(ctx, target, now.UTC())
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no relying party or active key %q", target)
	} else if err != nil {
		return err
	}
	when := fmt.Sprintf("within %v", server.KeyCacheTTL)
	if k, err := st.APIKey(ctx, target); err == nil {
		when = announceKeys(ctx, st, k.RPID, w)
	}
	fmt.Fprintf(w, "revoked key %s; servers stop accepting it %s\n", target, when)
	return nil
}

// announceKeys tells the servers sharing a PostgreSQL store that a relying
// party's keys changed, and says when they act on it.
func announceKeys(ctx context.Context, st store.Store, rpID string, w io.Writer) (when string) {
	later := fmt.Sprintf("within %v", server.KeyCacheTTL)
	peers, ok := st.(store.Peers)
	if !ok {
		return later
	}
	if err := server.AnnounceKeysChanged(ctx, peers, rpID); err != nil {
		fmt.Fprintf(w, "could not tell the servers at once: %v\n", err)
		return later
	}
	return fmt.Sprintf("at once (a server not listening just now: within %v)", server.KeyCacheTTL)
}
