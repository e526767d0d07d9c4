package evidence_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/healthgate/healthgate/evidence"
)

// TestSmallOrderKeys: an Ed25519 public key of small order (the identity,
// say) verifies signatures nobody made: with R the identity and S zero,
// R = [S]B − [k]A holds for every message. Such a key must be refused for
// evidence, so that a device enrolled with it (and the certificate bound to
// it) does not vouch for reports and proofs that anyone can forge.
func TestSmallOrderKeys(t *testing.T) {
	identity := make(ed25519.PublicKey, ed25519.PublicKeySize)
	identity[0] = 1

	// The forgery works with crypto/ed25519 as it is.
	c := claims()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(`{"alg":"EdDSA","typ":"eat+jwt"}`)) + "." + b64(payload)
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // R = identity, S = 0
	if !ed25519.Verify(identity, []byte(input), sig) {
		t.Fatal("the small-order forgery does not verify: the test checks nothing")
	}
	forged := []byte(input + "." + b64(sig))
	if _, err := evidence.Verify(forged, identity); !errors.Is(err, evidence.ErrAlgorithm) {
		t.Errorf("Verify of a forgery for the identity key: err = %v, want ErrAlgorithm", err)
	}

	// Every encoding of a point of order 1, 2, 4 or 8, with and without
	// the sign bit.
	for _, s := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		for _, sign := range []byte{0, 0x80} {
			k, _ := hex.DecodeString(s)
			k[31] |= sign
			if _, err := evidence.Algorithm(ed25519.PublicKey(k)); err == nil {
				t.Errorf("Algorithm accepted the small-order key %x", k)
			}
		}
	}
	for range 16 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := evidence.Algorithm(pub); err != nil {
			t.Errorf("Algorithm refused a generated key %x: %v", []byte(pub), err)
		}
	}
}
