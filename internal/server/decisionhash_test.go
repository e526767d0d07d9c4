package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"testing"
)

// TestDecisionHash: the pooled HMACs give the keyed hash of the value, the
// same on every call and from every goroutine.
func TestDecisionHash(t *testing.T) {
	d := &decisions{hashKey: []byte("0123456789abcdef0123456789abcdef")}
	want := func(kind, rp, v string) string {
		m := hmac.New(sha256.New, d.hashKey)
		m.Write([]byte(kind + "\x00" + rp + "\x00" + v))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	}
	if got := d.hash("account", "rp1", ""); got != "" {
		t.Errorf("empty value hashed to %q", got)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				kind, v := "account", string(rune('a'+i%26))+"-acct"
				if (i+g)%2 == 0 {
					kind = "payee"
				}
				if got, w := d.hash(kind, "rp1", v), want(kind, "rp1", v); got != w {
					t.Errorf("hash(%s, %s) = %s, want %s", kind, v, got, w)
					return
				}
			}
		})
	}
	wg.Wait()
	if d.hash("account", "rp1", "x") == d.hash("account", "rp2", "x") || d.hash("account", "rp1", "x") == d.hash("payee", "rp1", "x") {
		t.Error("hashes of different relying parties or kinds collide")
	}
}
