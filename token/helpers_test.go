package token_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

// epoch is the fixed time of deterministic tests and the golden certificate.
var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable fake clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// newIssuer returns a real issuer over a fresh SQLite store, with time from
// now and randomness from a ChaCha8 stream seeded with seed.
func newIssuer(t testing.TB, now func() time.Time, seed byte) *issuer.Issuer {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	iss, err := issuer.New(ctx, db, issuer.Options{
		Issuer: "https://healthgate.example",
		Now:    now,
		Rand:   rand.NewChaCha8([32]byte{seed}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// request is the certificate request of the tests.
var request = issuer.Request{
	DeviceID:    "dev-5f2c9a",
	JKT:         "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	Tier:        token.TierAffirming,
	TrustVector: map[string]int{"instance-identity": 2, "configuration": 2, "executables": 2},
	PolicyID:    "healthgate/default@1",
	Findings:    []string{},
}

// jwksOf parses an issuer's published JWKS.
func jwksOf(t testing.TB, iss *issuer.Issuer) *token.StaticJWKS {
	t.Helper()
	set, err := token.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

var b64 = base64.RawURLEncoding

// compact builds a compact JWS from a header, a payload and a signing
// function over the signing input.
func compact(t testing.TB, hdr map[string]any, payload []byte, sign func(input []byte) []byte) []byte {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	return []byte(input + "." + b64.EncodeToString(sign([]byte(input))))
}

// testKey is an Ed25519 key the tests sign with directly.
type testKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTestKey(seed byte) testKey {
	priv := ed25519.NewKeyFromSeed(append(make([]byte, 31), seed))
	return testKey{kid: issuer.Thumbprint(priv.Public().(ed25519.PublicKey)), priv: priv}
}

func (k testKey) pub() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// jwk returns the public JWK of the key as JSON.
func (k testKey) jwk() string {
	return `{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"` + k.kid + `","x":"` + b64.EncodeToString(k.pub()) + `"}`
}

// set returns a JWKS holding the keys.
func set(t testing.TB, keys ...testKey) *token.StaticJWKS {
	t.Helper()
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.jwk())
	}
	s, err := token.ParseJWKS([]byte(`{"keys":[` + strings.Join(parts, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign signs a payload with EdDSA under the key's kid.
func (k testKey) sign(t testing.TB, payload []byte) []byte {
	t.Helper()
	return compact(t, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": "JWT"}, payload,
		func(in []byte) []byte { return ed25519.Sign(k.priv, in) })
}

// claims returns valid certificate claims issued at epoch as a JSON object
// the test can edit.
func claims() map[string]any {
	return map[string]any{
		"eat_profile":         token.Profile,
		"iss":                 "https://healthgate.example",
		"sub":                 "dev-1",
		"jti":                 "j1",
		"iat":                 epoch.Unix(),
		"exp":                 epoch.Add(time.Hour).Unix(),
		"ear.verifier-id":     map[string]any{"build": "test", "developer": "https://github.com/healthgate/healthgate"},
		"submods":             map[string]any{"device": map[string]any{"ear.status": "affirming"}},
		"cnf":                 map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		"healthgate.findings": []string{},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tamper flips one byte of the decoded payload and re-encodes it, keeping
// the original header and signature.
func tamper(t testing.TB, tok []byte) []byte {
	t.Helper()
	parts := strings.Split(string(tok), ".")
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(payload), `"dev-`) + 1 // inside the sub
	payload[i] ^= 0x01
	parts[1] = b64.EncodeToString(payload)
	return []byte(strings.Join(parts, "."))
}
