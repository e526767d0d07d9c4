package verify

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNonces(t *testing.T) {
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := bytes.Repeat([]byte{7}, 32)
	n, err := NewNonces(key, 0, clock, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nonce, exp, err := n.Issue("dev-a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exp, now.Add(DefaultNonceTTL); !got.Equal(want) {
		t.Errorf("expiry = %v, want %v", got, want)
	}
	if l := len(nonce); l < 8 || l > 88 {
		t.Errorf("nonce length %d is outside EAT's 8..88", l)
	}
	other, _ := NewNonces(bytes.Repeat([]byte{8}, 32), 0, clock, rand.Reader)
	flipped := []byte(nonce)
	flipped[10] ^= 1
	tests := []struct {
		name   string
		n      *Nonces
		device string
		nonce  string
		at     time.Time
		want   error
	}{
		{"fresh, right device", n, "dev-a", nonce, now, nil},
		{"just before expiry", n, "dev-a", nonce, exp.Add(-time.Second), nil},
		{"at expiry", n, "dev-a", nonce, exp, ErrNonceExpired},
		{"another device", n, "dev-b", nonce, now, ErrNonceUnknown},
		{"another server key", other, "dev-a", nonce, now, ErrNonceUnknown},
		{"flipped bit", n, "dev-a", string(flipped), now, ErrNonceUnknown},
		{"not base64", n, "dev-a", "!!!!!!!!!!", now, ErrNonceUnknown},
		{"empty", n, "dev-a", "", now, ErrNonceUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			tt.n.now = func() time.Time { return at }
			defer func() { tt.n.now = clock }()
			if _, err := tt.n.Check(tt.device, tt.nonce); !errors.Is(err, tt.want) {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
		})
	}
	a, _, _ := n.Issue("dev-a")
	b, _, _ := n.Issue("dev-a")
	if a == b {
		t.Error("two nonces for one device are equal")
	}
}

func TestNonceBounds(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	for _, tt := range []struct {
		name string
		key  []byte
		ttl  time.Duration
		ok   bool
	}{
		{"default", key, 0, true},
		{"minimum", key, MinNonceTTL, true},
		{"maximum", key, MaxNonceTTL, true},
		{"too short", key, time.Second, false},
		{"too long", key, time.Hour, false},
		{"short key", key[:16], 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNonces(tt.key, tt.ttl, time.Now, rand.Reader)
			if got := err == nil; got != tt.ok {
				t.Errorf("NewNonces err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestNonceOneSpelling: single use is enforced on the nonce string the
// report carries (store.RecordReport), so Check must accept exactly the
// string Issue returned. base64 decoders ignore the unused low bits of the
// last character and skip CR and LF; without a canonical check one
// challenge would yield many nonces that each buy a certificate.
func TestNonceOneSpelling(t *testing.T) {
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	n, err := NewNonces(bytes.Repeat([]byte{7}, 32), 0, func() time.Time { return now }, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _, err := n.Issue("dev-a")
	if err != nil {
		t.Fatal(err)
	}
	// 40 bytes in 54 characters: the last character carries 4 unused bits.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, nonce[len(nonce)-1])
	trailing := nonce[:len(nonce)-1] + string(alphabet[last|1])
	if trailing == nonce {
		trailing = nonce[:len(nonce)-1] + string(alphabet[last&^1|2])
	}
	for name, variant := range map[string]string{
		"unused bits set": trailing,
		"line feed":       nonce[:20] + "\n" + nonce[20:],
		"carriage return": nonce[:20] + "\r" + nonce[20:],
		"trailing CRLF":   nonce + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if variant == nonce {
				t.Fatal("variant is the nonce itself")
			}
			if _, err := n.Check("dev-a", variant); !errors.Is(err, ErrNonceUnknown) {
				t.Errorf("Check(%q) = %v, want ErrNonceUnknown", variant, err)
			}
		})
	}
	if _, err := n.Check("dev-a", nonce); err != nil {
		t.Errorf("Check of the issued nonce: %v", err)
	}
}
