package token_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	goldenToken = "testdata/certificate.jwt"
	goldenJWKS  = "testdata/jwks.json"
)

// TestGolden pins the wire form of a certificate: an issuer with a fixed
// clock and random stream must produce exactly the token in testdata (Ed25519
// signatures are deterministic), and that token must keep verifying.
// Regenerate with go test ./token -run TestGolden -update.
func TestGolden(t *testing.T) {
	iss := newIssuer(t, func() time.Time { return epoch }, 1)
	tok, _, err := iss.Issue(request)
	if err != nil {
		t.Fatal(err)
	}
	jwks := append(iss.JWKS(), '\n')
	if *update {
		for path, data := range map[string][]byte{goldenToken: append(tok, '\n'), goldenJWKS: jwks} {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, want := range map[string][]byte{goldenToken: append(tok, '\n'), goldenJWKS: jwks} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the issuer produces now:\n got %s\nwant %s\n(if the change is intended, run with -update)", filepath.Base(path), got, want)
		}
	}

	keys, err := token.ParseJWKS(readFile(t, goldenJWKS))
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.Verify(context.Background(), readFile(t, goldenToken), keys, token.WithNow(func() time.Time { return epoch.Add(time.Hour) }))
	if err != nil {
		t.Fatalf("golden certificate does not verify: %v", err)
	}
	if got, want := c.Subject, request.DeviceID; got != want {
		t.Errorf("sub = %q, want %q", got, want)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
