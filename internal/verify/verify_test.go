package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/store"
)

type fakeDevices map[string]store.Device

func (f fakeDevices) Device(_ context.Context, id string) (store.Device, error) {
	if d, ok := f[id]; ok {
		return d, nil
	}
	return store.Device{}, store.ErrNotFound
}

func device(t *testing.T, id string, pub ed25519.PublicKey) store.Device {
	t.Helper()
	j := devicekey.JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub)}
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return store.Device{ID: id, PublicKey: raw, JKT: j.Thumbprint()}
}

func report(nonce, ueid string, now time.Time) *evidence.Claims {
	return &evidence.Claims{Nonce: nonce, UEID: ueid, IssuedAt: now.Unix(), SWName: "healthgate-agent", Platform: "linux",
		Facts: evidence.Facts{Firewall: &evidence.FirewallFacts{Enabled: true}}}
}

// TestVerifyVerdicts runs whole reports through Verify.
func TestVerifyVerdicts(t *testing.T) {
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	nonces, err := NewNonces(bytes.Repeat([]byte{7}, 32), 0, clock, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	// A small-order key verifies signatures nobody made (R the identity,
	// S zero); one that reached the store must not vouch for a report.
	identity := make(ed25519.PublicKey, ed25519.PublicKeySize)
	identity[0] = 1
	v := &Verifier{
		Devices: fakeDevices{"dev-a": device(t, "dev-a", pub), "dev-o": device(t, "dev-o", identity)},
		Nonces:  nonces, Now: clock,
	}
	sign := func(c *evidence.Claims) []byte {
		tok, err := evidence.Sign(c, priv)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forge := func(c *evidence.Claims) []byte {
		payload, _ := json.Marshal(c)
		b64 := base64.RawURLEncoding.EncodeToString
		sig := make([]byte, ed25519.SignatureSize)
		sig[0] = 1
		return []byte(b64([]byte(`{"alg":"EdDSA","typ":"eat+jwt"}`)) + "." + b64(payload) + "." + b64(sig))
	}
	nonceA, _, _ := nonces.Issue("dev-a")
	nonceO, _, _ := nonces.Issue("dev-o")
	tests := []struct {
		name   string
		tok    []byte
		reason string
		status int
	}{
		{"healthy report", sign(report(nonceA, "dev-a", now)), ReasonOK, http.StatusOK},
		{"nonce spelt another way", sign(report(nonceA[:20]+"\n"+nonceA[20:], "dev-a", now)), ReasonNonceUnknown, http.StatusUnauthorized},
		{"nonce of another device", sign(report(nonceO, "dev-a", now)), ReasonNonceUnknown, http.StatusUnauthorized},
		{"iat too old", sign(report(nonceA, "dev-a", now.Add(-DefaultMaxSkew-time.Second))), ReasonClockSkew, http.StatusBadRequest},
		{"iat too far ahead", sign(report(nonceA, "dev-a", now.Add(DefaultMaxSkew+time.Second))), ReasonClockSkew, http.StatusBadRequest},
		{"forgery for a small-order key", forge(report(nonceO, "dev-o", now)), ReasonAlgorithm, http.StatusBadRequest},
		{"unknown device", sign(report(nonceA, "dev-x", now)), ReasonUnknownDevice, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := v.Verify(context.Background(), tt.tok)
			if a.Reason != tt.reason || a.Status != tt.status {
				t.Errorf("Verify = %s %d (%s; %v), want %s %d", a.Reason, a.Status, a.Message, a.Err, tt.reason, tt.status)
			}
			if got := a.Claims != nil; got != (tt.reason == ReasonOK) {
				t.Errorf("claims returned = %v with reason %s", got, a.Reason)
			}
		})
	}
}
