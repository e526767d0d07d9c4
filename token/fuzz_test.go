package token_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/token"
)

// FuzzVerifyToken feeds Verify arbitrary tokens. It must never panic, and
// whenever it accepts a token, that token must carry a valid Ed25519
// signature, checked here independently, by the one key in the set.
func FuzzVerifyToken(f *testing.F) {
	k := newTestKey(5)
	keys := set(f, k)
	good := k.sign(f, mustJSON(f, claims()))
	f.Add(good)
	f.Add(readFile(f, goldenToken))
	f.Add(tamper(f, good))
	f.Add(good[:len(good)-10])
	f.Add(bytes.Replace(good, []byte("."), []byte(".."), 1))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	f.Add(compact(f, map[string]any{"alg": "none", "kid": k.kid}, mustJSON(f, claims()), func([]byte) []byte { return nil }))
	f.Add(compact(f, map[string]any{"alg": "EdDSA", "kid": k.kid, "crit": []string{"exp"}}, mustJSON(f, claims()),
		func(in []byte) []byte { return ed25519.Sign(k.priv, in) }))
	f.Add([]byte("a.b.c"))
	f.Add([]byte(""))
	now := func() time.Time { return epoch.Add(time.Minute) }

	f.Fuzz(func(t *testing.T, tok []byte) {
		c, err := token.Verify(context.Background(), tok, keys, token.WithNow(now))
		if err != nil {
			if c != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		if c == nil {
			t.Fatal("nil claims and nil error")
		}
		parts := strings.Split(strings.TrimSpace(string(tok)), ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts", len(parts))
		}
		var h struct{ Alg, Kid string }
		hb, err := b64.DecodeString(parts[0])
		if err != nil || json.Unmarshal(hb, &h) != nil || h.Alg != "EdDSA" || h.Kid != k.kid {
			t.Fatalf("accepted header %q (alg %q, kid %q)", hb, h.Alg, h.Kid)
		}
		sig, err := b64.DecodeString(parts[2])
		if err != nil || !ed25519.Verify(k.pub(), []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token whose signature does not verify: %q", tok)
		}
		if c.Profile != token.Profile || c.Tier() == "" || c.Subject == "" || c.Confirmation.JKT == "" {
			t.Fatalf("accepted claims %+v", c)
		}
	})
}
