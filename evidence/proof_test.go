package evidence_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

func TestTransactionHash(t *testing.T) {
	tx := evidence.Transaction{Account: "acct-1", Amount: "128.00", Currency: "CNY", Payee: "shop-42", MerchantURL: "https://shop.example/checkout"}
	got, err := evidence.TransactionHash(tx)
	if err != nil {
		t.Fatal(err)
	}
	// printf 'healthgate-tx-v1\nacct-1\n128.00\nCNY\nshop-42\nhttps://shop.example/checkout' | sha256sum | xxd -r -p | base64 | tr '+/' '-_' | tr -d =
	if want := "9MUkxRgPPsV3vz8IjnkxZmGdwe1O2nUunaUbaabciGw"; got != want {
		t.Errorf("TransactionHash = %s, want %s", got, want)
	}
	tx.Amount = "128.01"
	if other, _ := evidence.TransactionHash(tx); other == got {
		t.Error("a different amount hashed the same")
	}
	tx.Payee = "a\nb"
	if _, err := evidence.TransactionHash(tx); err == nil {
		t.Error("a payee with a line break was canonicalised")
	}
}

func TestProof(t *testing.T) {
	now := time.Unix(1795932335, 0)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	p := evidence.Proof{TxHash: "9MUkxRgPPsV3vz8IjnkxZmGdwe1O2nUunaUbaabciGw", Origin: "https://shop.example", IssuedAt: now.Unix()}
	edTok, err := evidence.SignProof(p, ed)
	if err != nil {
		t.Fatal(err)
	}
	ecTok, err := evidence.SignProof(p, ec)
	if err != nil {
		t.Fatal(err)
	}
	evTok, _ := evidence.Sign(claims(), ed) // evidence is not a proof
	tests := []struct {
		name string
		tok  []byte
		pub  any
		at   time.Time
		want error
	}{
		{"ed25519", edTok, ed.Public(), now, nil},
		{"p256", ecTok, ec.Public(), now.Add(time.Minute), nil},
		{"another key", edTok, stranger.Public(), now, evidence.ErrBadSignature},
		{"key of another type", edTok, ec.Public(), now, evidence.ErrMalformed},
		{"stale", edTok, ed.Public(), now.Add(evidence.MaxProofAge + time.Second), evidence.ErrSchema},
		{"from the future", edTok, ed.Public(), now.Add(-2 * time.Minute), evidence.ErrSchema},
		{"evidence token", evTok, ed.Public(), now, evidence.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evidence.VerifyProof(tt.tok, tt.pub, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && (got.TxHash != p.TxHash || got.Origin != p.Origin) {
				t.Errorf("proof = %+v, want %+v", got, p)
			}
		})
	}
}

// TestProofOneSpelling: the service refuses a proof used twice by hashing
// the proof as sent (store.UseProof), so VerifyProof must accept only the
// bytes SignProof made. JWS decoders skip CR and LF, ignore the unused bits
// of a segment's last character and accept ECDSA's (r, n−s) as well as
// (r, s); each such twin would buy another decision with the same proof.
func TestProofOneSpelling(t *testing.T) {
	now := time.Unix(1795932335, 0)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p := evidence.Proof{TxHash: "9MUkxRgPPsV3vz8IjnkxZmGdwe1O2nUunaUbaabciGw", Origin: "https://shop.example", IssuedAt: now.Unix()}
	tok, err := evidence.SignProof(p, ed)
	if err != nil {
		t.Fatal(err)
	}
	s := string(tok)
	parts := strings.Split(s, ".")
	// A 64-byte signature is 86 characters; the last carries 4 unused bits.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	bits := s[:len(s)-1] + string(alphabet[last^1])
	for name, twin := range map[string]string{
		"unused bits set":      bits,
		"line feed inside":     parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2],
		"carriage return":      parts[0] + "\r." + parts[1] + "." + parts[2],
		"trailing white space": s + " ",
		"leading new line":     "\n" + s,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := evidence.VerifyProof([]byte(twin), ed.Public(), now); !errors.Is(err, evidence.ErrMalformed) {
				t.Errorf("VerifyProof(%q) = %v, want ErrMalformed", twin, err)
			}
		})
	}
	if _, err := evidence.VerifyProof(tok, ed.Public(), now); err != nil {
		t.Errorf("the proof itself: %v", err)
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	n := elliptic.P256().Params().N
	for i := range 8 { // a signer that leaves s as it comes makes high s half the time
		tok, err := evidence.SignProof(p, ec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evidence.VerifyProof(tok, ec.Public(), now); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
		parts := strings.Split(string(tok), ".")
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		other := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
		other.FillBytes(sig[32:])
		twin := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		if _, err := evidence.VerifyProof([]byte(twin), ec.Public(), now); err == nil {
			t.Fatalf("proof %d: its (r, n-s) twin verifies too", i)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Shop.Example:443/": "https://shop.example",
		"http://localhost:8080":     "http://localhost:8080",
		"https://[::1]:8443":        "https://[::1]:8443",
		"https://user@shop.example": "",
		"https://shop.example/pay":  "",
		"https://shop.example?x":    "",
		"https://shop.example#x":    "",
		"null":                      "",
		"ftp://shop.example":        "",
		"https://shop.example:0":    "",
	} {
		got, err := evidence.ParseOrigin(in)
		if want == "" && err == nil || want != "" && (err != nil || got != want) {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
