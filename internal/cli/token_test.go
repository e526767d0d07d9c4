package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

// certificates issues a certificate that is valid now and one that has
// expired, both with the same key, and writes the JWKS to a file.
func certificates(t *testing.T) (valid, expired []byte, jwks []byte, jwksFile string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	clock := func() time.Time { return now }
	iss, err := issuer.New(ctx, db, issuer.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	req := issuer.Request{DeviceID: "dev-cli", JKT: issuer.Thumbprint(make([]byte, 32)), Tier: token.TierWarning}
	if valid, _, err = iss.Issue(req); err != nil {
		t.Fatal(err)
	}
	now = now.Add(-25 * time.Hour) // a warning certificate lives one hour
	if expired, _, err = iss.Issue(req); err != nil {
		t.Fatal(err)
	}
	jwksFile = filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, iss.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	return valid, expired, iss.JWKS(), jwksFile
}

func TestTokenVerify(t *testing.T) {
	valid, expired, jwks, jwksFile := certificates(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	defer srv.Close()
	dir := t.TempDir()
	validFile := filepath.Join(dir, "valid.jwt")
	if err := os.WriteFile(validFile, append(valid, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "valid from file jwks", args: []string{"verify", "--jwks", jwksFile, string(valid)}, wantCode: 0, wantStdout: `"sub": "dev-cli"`},
		{name: "valid from http jwks", args: []string{"verify", "--jwks", srv.URL, string(valid)}, wantCode: 0, wantStdout: `"ear.status": "warning"`},
		{name: "token file", args: []string{"verify", "--jwks", jwksFile, validFile}, wantCode: 0, wantStdout: `"sub": "dev-cli"`},
		{name: "stdin", args: []string{"verify", "--jwks", jwksFile, "-"}, stdin: string(valid) + "\n", wantCode: 0, wantStdout: `"sub": "dev-cli"`},
		{name: "flags after token", args: []string{"verify", string(valid), "--jwks", jwksFile}, wantCode: 0, wantStdout: `"sub": "dev-cli"`},
		{name: "issuer mismatch", args: []string{"verify", "--jwks", jwksFile, "--issuer", "https://other.example", string(valid)}, wantCode: 1, wantStderr: "invalid certificate claims"},
		{name: "expired", args: []string{"verify", "--jwks", jwksFile, string(expired)}, wantCode: 1, wantStderr: "certificate expired"},
		{name: "tampered", args: []string{"verify", "--jwks", jwksFile, string(valid[:len(valid)-3]) + "AAA"}, wantCode: 1, wantStderr: "signature does not verify"},
		{name: "missing token file", args: []string{"verify", "--jwks", jwksFile, filepath.Join(dir, "nope.jwt")}, wantCode: 1, wantStderr: "reading certificate"},
		{name: "missing jwks file", args: []string{"verify", "--jwks", filepath.Join(dir, "nope.json"), string(valid)}, wantCode: 1, wantStderr: "reading jwks"},
		{name: "no jwks", args: []string{"verify", string(valid)}, wantCode: 2, wantStderr: "need --jwks"},
		{name: "no token", args: []string{"verify", "--jwks", jwksFile}, wantCode: 2, wantStderr: "need --jwks"},
		{name: "two tokens", args: []string{"verify", "--jwks", jwksFile, string(valid), string(valid)}, wantCode: 2, wantStderr: "exactly one TOKEN"},
		{name: "unknown flag", args: []string{"verify", "--jwk", jwksFile, string(valid)}, wantCode: 2, wantStderr: "flag provided but not defined"},
		{name: "no subcommand", args: nil, wantCode: 2, wantStderr: "usage:"},
		{name: "unknown subcommand", args: []string{"mint"}, wantCode: 2, wantStderr: `unknown subcommand "mint"`},
		{name: "help", args: []string{"verify", "-h"}, wantCode: 0, wantStderr: "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin = strings.NewReader(tt.stdin)
			t.Cleanup(func() { stdin = os.Stdin })
			var stdout, stderr bytes.Buffer
			code := runToken(context.Background(), tt.args, &stdout, &stderr)
			if got, want := code, tt.wantCode; got != want {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", got, want, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", &stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", &stderr, tt.wantStderr)
			}
			if code == 0 && tt.args[0] == "verify" && len(tt.args) > 1 && tt.args[1] != "-h" {
				var c token.Claims
				if err := json.Unmarshal(stdout.Bytes(), &c); err != nil {
					t.Fatalf("stdout is not the claims as JSON: %v", err)
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr = %q on success, want nothing", &stderr)
				}
			}
			if code == 1 {
				if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 {
					t.Errorf("stderr has %d lines, want one: %q", lines+1, &stderr)
				}
				if stdout.Len() != 0 {
					t.Errorf("stdout = %q on failure, want nothing", &stdout)
				}
			}
		})
	}
}
