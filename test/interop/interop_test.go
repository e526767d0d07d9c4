// Package interop checks Healthgate health certificates against verifiers
// that no one on the project wrote: veraison's arc (Go, lestrrat-go/jwx),
// npm jose (JavaScript) and PyJWT (Python). A relying party may use any of
// them, so each must accept a valid certificate and refuse a tampered, an
// expired and a forged one.
//
// Setup: npm ci --prefix test/interop, and python3-jwt for /usr/bin/python3
// (apt-get install python3-jwt). arc is built from tools/ by the test. Set
// HEALTHGATE_SKIP_INTEROP=1 to skip instead of failing when they are missing.
package interop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

const setupHint = "run: npm ci --prefix test/interop && apt-get install -y python3-jwt " +
	"(or set HEALTHGATE_SKIP_INTEROP=1 to skip)"

// verifier runs one third-party verifier on a JWKS file and a token file.
type verifier struct {
	name string
	// run returns the verifier's output and whether it accepted the token.
	run func(t *testing.T, jwksFile, tokenFile string) (out string, ok bool)
}

func TestInterop(t *testing.T) {
	verifiers := setup(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	iss, err := issuer.New(ctx, db, issuer.Options{Issuer: "https://healthgate.example"})
	if err != nil {
		t.Fatal(err)
	}
	req := issuer.Request{
		DeviceID:    "dev-interop",
		JKT:         "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Tier:        token.TierWarning,
		TrustVector: map[string]int{"configuration": 32, "executables": 2},
		PolicyID:    "healthgate/default@1",
		Findings:    []string{"av.off"},
	}
	valid, _, err := iss.Issue(req)
	if err != nil {
		t.Fatal(err)
	}

	// Same store, so the same signing key, but a clock 25 hours back: the
	// certificate's only fault is that it has expired.
	past, err := issuer.New(ctx, db, issuer.Options{Issuer: "https://healthgate.example",
		Now: func() time.Time { return time.Now().Add(-25 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := past.Issue(req)
	if err != nil {
		t.Fatal(err)
	}

	// A forger's own Ed25519 key signing valid claims under the issuer's kid.
	_, forgerKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(valid), ".")
	forged := parts[0] + "." + parts[1]
	forged += "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(forgerKey, []byte(forged)))

	// Another Healthgate deployment's certificate: real, but not ours.
	otherDB, err := sqlite.Open(ctx, filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otherDB.Close() })
	other, err := issuer.New(ctx, otherDB, issuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := other.Issue(req)
	if err != nil {
		t.Fatal(err)
	}

	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, iss.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Healthgate's own verifier must agree with the third parties.
	keys, err := token.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		tok    []byte
		accept bool
		// reason is a word every verifier's refusal must contain, so that
		// a token refused for the wrong reason does not pass.
		reason string
	}{
		{name: "valid", tok: valid, accept: true},
		{name: "tampered", tok: tamper(t, valid), reason: "signature"},
		// arc (jwx v3 jwt.Parse validates by default), jose and PyJWT all
		// check exp themselves: each says "expired".
		{name: "expired", tok: expired, reason: "expired"},
		{name: "forged under the issuer's kid", tok: []byte(forged), reason: "signature"},
		{name: "other issuer's key", tok: foreign, reason: "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokenFile := filepath.Join(t.TempDir(), "certificate.jwt")
			if err := os.WriteFile(tokenFile, append(tt.tok, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := token.Verify(ctx, tt.tok, keys)
			if got, want := err == nil, tt.accept; got != want {
				t.Errorf("token.Verify accepted = %v, want %v (err %v)", got, want, err)
			}
			for _, v := range verifiers {
				out, ok := v.run(t, jwksFile, tokenFile)
				if got, want := ok, tt.accept; got != want {
					t.Errorf("%s accepted = %v, want %v; output:\n%s", v.name, got, want, out)
				} else if !ok && !strings.Contains(strings.ToLower(out), tt.reason) {
					t.Errorf("%s refused, but not for %q:\n%s", v.name, tt.reason, out)
				} else {
					t.Logf("%s accepted = %v: %s", v.name, ok, firstLine(out, !ok))
				}
			}
		})
	}
}

// setup finds or builds the three verifiers, failing (or skipping, with
// HEALTHGATE_SKIP_INTEROP=1) when one cannot be had.
func setup(t *testing.T) []verifier {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("HEALTHGATE_SKIP_INTEROP") == "1" {
			t.Skipf(format+"; skipping (HEALTHGATE_SKIP_INTEROP=1)", args...)
		}
		t.Fatalf(format+"; "+setupHint, args...)
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(here, "..", "..")

	// go test puts its own go first on PATH.
	arc := filepath.Join(t.TempDir(), "arc")
	build := exec.Command("go", "build", "-C", filepath.Join(root, "tools"), "-o", arc, "github.com/veraison/ear/arc")
	if out, err := build.CombinedOutput(); err != nil {
		missing("building arc from tools/: %v\n%s", err, out)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(here, "node_modules", "jose", "package.json")); err != nil {
		missing("npm jose is not installed under test/interop/node_modules")
	}
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import jwt, cryptography").CombinedOutput(); err != nil {
		missing("%s cannot import jwt (PyJWT) with cryptography: %v\n%s", python, err, out)
	}

	return []verifier{
		{name: "arc (veraison/ear)", run: func(t *testing.T, jwksFile, tokenFile string) (string, bool) {
			// arc takes one JWK, not a set: give it the key the token's kid
			// names, as a relying party would pick it, or else the issuer's
			// newest key. Never let the -p file be missing: arc then trusts
			// a key embedded in the token's own header.
			pkey := filepath.Join(t.TempDir(), "issuer-key.json")
			if err := os.WriteFile(pkey, pickKey(t, jwksFile, tokenFile), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(arc, "verify", "-p", pkey, "-a", "EdDSA", tokenFile).CombinedOutput()
			return string(out), err == nil && bytes.Contains(out, []byte("signature successfully verified"))
		}},
		{name: "npm jose", run: func(t *testing.T, jwksFile, tokenFile string) (string, bool) {
			cmd := exec.Command(node, "verify.mjs", jwksFile, tokenFile)
			cmd.Dir = here
			out, err := cmd.CombinedOutput()
			return string(out), exitedWith(t, err, out) == 0
		}},
		{name: "PyJWT", run: func(t *testing.T, jwksFile, tokenFile string) (string, bool) {
			out, err := exec.Command(python, filepath.Join(here, "verify.py"), jwksFile, tokenFile).CombinedOutput()
			return string(out), exitedWith(t, err, out) == 0
		}},
	}
}

// exitedWith returns the exit code of a verifier script, failing the test
// when the script did not run or crashed (an exit other than 0 or 1).
func exitedWith(t *testing.T, err error, out []byte) int {
	t.Helper()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running verifier: %v", err)
		}
		code = ee.ExitCode()
	}
	if code != 0 && code != 1 {
		t.Fatalf("verifier exited %d (neither valid nor invalid):\n%s", code, out)
	}
	return code
}

// pickKey returns the JWK of the set whose kid the token names, or the last
// (newest) key of the set.
func pickKey(t *testing.T, jwksFile, tokenFile string) []byte {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(readFile(t, jwksFile), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v", err)
	}
	key := set.Keys[len(set.Keys)-1]
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(string(bytes.TrimSpace(readFile(t, tokenFile))), ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k["kid"] == h.Kid {
			key = k
		}
	}
	b, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tamper flips one byte of the decoded payload and re-encodes it, keeping
// the header and the signature.
func tamper(t *testing.T, tok []byte) []byte {
	t.Helper()
	parts := strings.Split(string(tok), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(payload, []byte(`"warning"`)) + 1
	payload[i] = 'W' // "Warning": still JSON, different bytes
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return []byte(strings.Join(parts, "."))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstLine(s string, last bool) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if last {
		return lines[len(lines)-1]
	}
	return lines[0]
}
