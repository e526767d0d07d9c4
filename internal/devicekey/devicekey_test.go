package devicekey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestConcurrentCreateOneKey: agents started together on one fresh state
// directory must end up with one device key, the one in the file, not each
// with its own (the last rename winning and the others' identity lost).
func TestConcurrentCreateOneKey(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "state", "device.key")
		const agents = 8
		keys := make([]Key, agents)
		errs := make([]error, agents)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				keys[i], errs[i] = LoadOrCreateFile(path)
			}()
		}
		close(start)
		wg.Wait()
		onDisk, err := LoadOrCreateFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range agents {
			if errs[i] != nil {
				t.Fatalf("round %d, agent %d: %v", round, i, errs[i])
			}
			if !onDisk.Public().(ed25519.PublicKey).Equal(keys[i].Public()) {
				t.Fatalf("round %d: agent %d holds a key that is not the one in %s", round, i, path)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*tmp*")); len(left) != 0 {
			t.Fatalf("round %d: temporary files left behind: %v", round, left)
		}
	}
}

// TestLoadDanglingSymlinkNotReplaced: a key file that is a symbolic link to
// a missing file (a volume not mounted) is an error, not the cue to make a
// new device key in its place.
func TestLoadDanglingSymlinkNotReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	if err := os.Symlink(filepath.Join(dir, "missing", "device.key"), path); err != nil {
		t.Skip("no symbolic links:", err)
	}
	if _, err := LoadOrCreateFile(path); err == nil {
		t.Fatal("a dangling symbolic link was replaced with a new key")
	} else if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the key file", err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symbolic link is gone (%v, %v)", fi, err)
	}
}

// TestJWKRefusesNonCanonicalBase64: a coordinate that decodes only because
// the decoder ignores unused bits or line breaks is another string for the
// same key, so its RFC 7638 thumbprint would be another one too.
func TestJWKRefusesNonCanonicalBase64(t *testing.T) {
	const x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" // RFC 8037 A.3
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := PublicJWK(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string { // set an unused low bit of the last character
		return s[:len(s)-1] + string(rune(s[len(s)-1])+1)
	}
	for name, j := range map[string]JWK{
		"ed25519 unused bits": {Kty: "OKP", Crv: "Ed25519", X: x[:42] + "p"},
		"ed25519 line break":  {Kty: "OKP", Crv: "Ed25519", X: x[:20] + "\n" + x[20:]},
		"p256 x unused bits":  {Kty: "EC", Crv: "P-256", X: flip(good.X), Y: good.Y},
		"p256 y line break":   {Kty: "EC", Crv: "P-256", X: good.X, Y: good.Y[:10] + "\r\n" + good.Y[10:]},
	} {
		if _, err := j.PublicKey(); err == nil {
			t.Errorf("%s: accepted, thumbprint %s", name, j.Thumbprint())
		}
	}
}
