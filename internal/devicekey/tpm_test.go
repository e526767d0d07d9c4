package devicekey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// TestTPMKeyClosed: a closed key says so from every method, without a
// panic (Attestation and ActivateCredential dereferenced the released TPM)
// and without leaving a handle in the TPM.
func TestTPMKeyClosed(t *testing.T) {
	tpm := tpmtest.Start(t)
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Attestation(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if h := tpm.LoadedHandles(t); len(h) != 0 {
		t.Errorf("handles left loaded in the TPM after Close: %v", h)
	}
	digest := sha256.Sum256([]byte("healthgate"))
	for name, call := range map[string]func() error{
		"Sign":               func() error { _, err := k.Sign(nil, digest[:], crypto.SHA256); return err },
		"Attestation":        func() error { _, err := k.Attestation(); return err },
		"ActivateCredential": func() error { _, err := k.ActivateCredential(devicekey.TPMChallenge{}); return err },
		"Close":              func() error { return k.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic: %v", p)
				}
			}()
			err := call()
			if name == "Close" {
				if err != nil {
					t.Errorf("closing twice: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "closed") {
				t.Errorf("error %v, want one saying the key is closed", err)
			}
		})
	}
}

// TestTPMBlobsPrivateDespiteLeftoverTemp: the key blobs are wrapped by the
// TPM, but with an empty authorization anyone who can read one and talk to
// the TPM can load it and sign as the device. A temporary file left by a
// crash keeps its wider mode when reopened and must not become a blob.
func TestTPMBlobsPrivateDespiteLeftoverTemp(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are Unix")
	}
	tpm := tpmtest.Start(t)
	state := t.TempDir()
	for _, name := range []string{"tpm-ak.blob.tmp", "tpm-device-key.blob.tmp"} {
		p := filepath.Join(state, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	for _, name := range []string{"tpm-ak.blob", "tpm-device-key.blob"} {
		fi, err := os.Stat(filepath.Join(state, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
}
