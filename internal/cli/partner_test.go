package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/internal/taxii"
)

func runCmd(t *testing.T, fn func(context.Context, []string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := fn(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// partnerToken returns the last word of the last line of out.
func partnerToken(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	f := strings.Fields(lines[len(lines)-1])
	return f[len(f)-1]
}

// taxiiServer serves the TAXII handler over the store in dir.
func taxiiServer(t *testing.T, dir string) (*httptest.Server, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "healthgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, err := taxii.NewHandler(taxii.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(taxii.Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, db
}

func partnerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runPartner(ctx, args, stdout, stderr)
}

func TestPartnerCreate(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, partnerCmd, "create", "org-b", "--read", "sightings", "--write", "indicators", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	tok := partnerToken(out)
	if !strings.HasPrefix(tok, "hgp_") {
		t.Fatalf("last word %q is not a token:\n%s", tok, out)
	}
	srv, db := taxiiServer(t, dir)
	c := &taxii.Client{HTTP: srv.Client(), Token: tok}
	colls, err := c.Collections(context.Background(), srv.URL+taxii.APIRoot)
	if err != nil || len(colls) != 2 {
		t.Fatalf("collections with the new token: %+v, %v", colls, err)
	}
	if !colls[0].CanWrite || colls[1].CanWrite {
		t.Errorf("rights: %+v", colls)
	}
	// Only a hash is stored.
	p, _ := db.Partner(context.Background(), "org-b")
	id := strings.Split(strings.TrimPrefix(tok, "hgp_"), "_")[0]
	rec, err := db.PartnerToken(context.Background(), id)
	if err != nil || rec.PartnerID != p.ID || bytes.Contains(rec.Hash, []byte(tok)) || len(rec.Hash) != 32 {
		t.Errorf("stored token %+v, %v", rec, err)
	}
	if d := rec.Expires.Sub(rec.Created); d != taxii.DefaultTokenLifetime {
		t.Errorf("lifetime %v", d)
	}

	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"same name", []string{"create", "org-b", "--data", dir}, 1},
		{"unknown collection", []string{"create", "org-c", "--read", "secrets", "--data", dir}, 2},
		{"write sightings", []string{"create", "org-c", "--write", "sightings", "--data", dir}, 2},
		{"ttl too long", []string{"create", "org-c", "--ttl", "10000h", "--data", dir}, 2},
		{"bad name", []string{"create", "org c/../", "--data", dir}, 2},
		{"no name", []string{"create", "--data", dir}, 2},
		{"unknown subcommand", []string{"delete", "org-b"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := runCmd(t, partnerCmd, tt.args...); code != tt.want {
				t.Errorf("exit %d, want %d", code, tt.want)
			}
		})
	}

	// A second token, then revoke: both stop working.
	code, out, _ = runCmd(t, partnerCmd, "token", "org-b", "--ttl", "2h", "--data", dir)
	tok2 := partnerToken(out)
	if code != 0 || !strings.HasPrefix(tok2, "hgp_") {
		t.Fatalf("partner token: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, partnerCmd, "list", "--data", dir); code != 0 || !strings.Contains(out, "org-b") || !strings.Contains(out, "write=indicators") {
		t.Errorf("list: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, partnerCmd, "revoke", "org-b", "--data", dir); code != 0 || !strings.Contains(out, "revoked 2") {
		t.Errorf("revoke: %d %s", code, out)
	}
	for _, tk := range []string{tok, tok2} {
		c := &taxii.Client{HTTP: srv.Client(), Token: tk}
		if _, err := c.Discover(context.Background(), srv.URL+taxii.Prefix); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("revoked token: %v", err)
		}
	}
}

func pullCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIntelPull(ctx, args, stdout, stderr)
}

// TestRunIntelPull: org A serves TAXII; an indicator is posted into it; org B
// pulls with `intel pull` into its own data directory.
func TestRunIntelPull(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	_, out, _ := runCmd(t, partnerCmd, "create", "contrib", "--write", "indicators", "--data", dirA)
	contrib := partnerToken(out)
	_, out, _ = runCmd(t, partnerCmd, "create", "org-b", "--data", dirA)
	orgB := partnerToken(out)
	srv, _ := taxiiServer(t, dirA)
	old, oldSink := pullHTTPClient, partnerIndicatorSink
	pullHTTPClient = srv.Client()
	t.Cleanup(func() { pullHTTPClient, partnerIndicatorSink = old, oldSink })

	ind := map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--6f1b0b0e-2c1f-4f3a-9b7e-6a1d2c3b4e5f",
		"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "valid_from": "2026-01-01T00:00:00Z",
		"pattern": "[url:value = 'http://pay-examp1e.com/checkout']", "pattern_type": "stix"}
	c := &taxii.Client{HTTP: srv.Client(), Token: contrib}
	collURL, _, err := c.FindCollection(context.Background(), srv.URL+"/taxii2/", "indicators")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.AddObjects(context.Background(), collURL, []any{ind}); err != nil || st.SuccessCount != 1 {
		t.Fatalf("AddObjects: %+v %v", st, err)
	}
	args := []string{"--server", srv.URL + "/taxii2/", "--token", orgB, "--partner", "org-a", "--trust", "80", "--data", dirB}

	// The pulled indicator lands in org B's intel store, attributed to
	// org A at org B's trust in it.
	code, out, errOut := runCmd(t, pullCmd, args...)
	if code != 0 || !strings.Contains(out, "pulled 1 indicators from org-a") {
		t.Fatalf("pull: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, pullCmd, args...)
	if code != 0 || !strings.Contains(out, "pulled 0 indicators") {
		t.Errorf("second pull: %d %s", code, out)
	}
	code, out, _ = runCmd(t, runIntel, "list", "--json", "--data", dirB)
	if code != 0 || !strings.Contains(out, `"value": "http://pay-examp1e.com/checkout"`) || !strings.Contains(out, `"source": "partner:org-a"`) ||
		!strings.Contains(out, `"confidence": 80`) {
		t.Errorf("org B's indicators after the pull: %s", out)
	}
	// Without a sink: a dry run that remembers nothing.
	partnerIndicatorSink = nil
	code, out, errOut = runCmd(t, pullCmd, args...)
	if code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	// The resume point lives in org B's store.
	dbB, err := sqlite.Open(context.Background(), filepath.Join(dirB, "healthgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	if at, err := dbB.PullState(context.Background(), "org-a", collURL); err != nil || at.IsZero() || time.Since(at) > time.Hour {
		t.Errorf("pull state = %v, %v", at, err)
	}

	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"no server", []string{"--token", orgB, "--data", dirB}, 2},
		{"plain http to a remote host", []string{"--server", "http://taxii.example.org/taxii2/", "--token", "x", "--data", dirB}, 2},
		{"trust out of range", append(append([]string{}, args...), "--trust", "101"), 2},
		{"limit out of range", append(append([]string{}, args...), "--limit", "5000"), 2},
		{"bad token", []string{"--server", srv.URL + "/taxii2/", "--token", "hgp_nope", "--data", dirB}, 1},
		{"unknown collection", append(append([]string{}, args...), "--collection", "nope"), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := runCmd(t, pullCmd, tt.args...); code != tt.want {
				t.Errorf("exit %d, want %d: %s", code, tt.want, errOut)
			}
		})
	}
}
