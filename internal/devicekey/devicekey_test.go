package devicekey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key")
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := LoadOrCreateFile(path); err == nil {
		t.Error("garbage key file accepted")
	}
}

func TestJWKRoundTripAndThumbprint(t *testing.T) {
	// RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
	rfc := JWK{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	if got, want := rfc.Thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("RFC 8037 thumbprint = %s, want %s", got, want)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tt := range []struct {
		name string
		pub  any
	}{{"ed25519", ed.Public()}, {"p256", ec.Public()}} {
		t.Run(tt.name, func(t *testing.T) {
			j, err := PublicJWK(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(j)
			var back JWK
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			pub, err := back.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.pub) {
				t.Error("public key did not round-trip")
			}
			if back.Thumbprint() != j.Thumbprint() || len(j.Thumbprint()) != 43 {
				t.Errorf("thumbprint %q unstable or wrong length", j.Thumbprint())
			}
		})
	}
	for _, bad := range []JWK{
		{Kty: "OKP", Crv: "Ed25519", X: "AAAA"},
		{Kty: "EC", Crv: "P-256", X: "AAAA", Y: "AAAA"},
		{Kty: "EC", Crv: "P-256", X: rfc.X, Y: rfc.X}, // not a point on the curve
		{Kty: "RSA"},
		{Kty: "OKP", Crv: "X25519", X: rfc.X},
	} {
		if _, err := bad.PublicKey(); err == nil {
			t.Errorf("bad JWK %+v accepted", bad)
		}
	}
}
