package devicekey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
)

func TestTPMKeySignsAndPersists(t *testing.T) {
	tpm := tpmtest.Start(t)
	state := t.TempDir()
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Hardware() {
		t.Error("Hardware() = false, want true")
	}
	pub := k.Public().(*ecdsa.PublicKey)
	digest := sha256.Sum256([]byte("healthgate"))
	sig, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Error("TPM signature does not verify as ASN.1 DER ECDSA")
	}
	if _, err := k.Sign(nil, digest[:], crypto.SHA384); err == nil {
		t.Error("Sign accepted a SHA-384 request")
	}
	// Real ES256 evidence.
	tok, err := evidence.Sign(&evidence.Claims{Nonce: "nonce-0123456789", UEID: "device", IssuedAt: 1, SWName: "t", SWVersion: "1", Platform: "linux"}, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.Verify(tok, pub); err != nil {
		t.Fatalf("ES256 evidence from the TPM key does not verify: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening loads the same key from the state directory.
	k2, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if !k2.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Error("reopened TPM key has another public key")
	}
	sig, err = k2.Sign(nil, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Errorf("reopened key: sign err %v or bad signature", err)
	}
	if _, err := k2.Attestation(); err != nil {
		t.Fatal(err)
	}
}
