package token_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/healthgate/healthgate/token"
)

func TestVerifyIssuedCertificate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	iss := newIssuer(t, clk.Now, 1)
	keys := jwksOf(t, iss)
	tok, issued, err := iss.Issue(request)
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.Verify(ctx, tok, keys, token.WithNow(clk.Now), token.WithIssuer("https://healthgate.example"))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got, want := c.Subject, request.DeviceID; got != want {
		t.Errorf("sub = %q, want %q", got, want)
	}
	if got, want := c.Tier(), token.TierAffirming; got != want {
		t.Errorf("tier = %q, want %q", got, want)
	}
	if got, want := c.ID, issued.ID; got != want {
		t.Errorf("jti = %q, want %q", got, want)
	}
	if got, want := c.ExpiresAt(), epoch.Add(4*time.Hour); !got.Equal(want) {
		t.Errorf("exp = %v, want %v", got, want)
	}
	if got, want := c.Submods[token.Submod].TrustVector["executables"], 2; got != want {
		t.Errorf("executables = %d, want %d", got, want)
	}
	if !c.BoundTo(request.JKT) {
		t.Errorf("BoundTo(%q) = false, want true", request.JKT)
	}
	if c.BoundTo("other") || c.BoundTo("") {
		t.Errorf("BoundTo another thumbprint = true, want false")
	}
}

func TestVerifyRejects(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	iss := newIssuer(t, clk.Now, 1)
	keys := jwksOf(t, iss)
	kid := keys.KeyIDs()[0]
	good, _, err := iss.Issue(request)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keys.Key(ctx, kid)
	if err != nil {
		t.Fatal(err)
	}
	pubBytes := []byte(pub.(ed25519.PublicKey))
	other := newTestKey(9)

	// issued signs claims the test has edited, with the issuer's real key.
	issued := func(edit func(c *token.Claims)) []byte {
		c, err := iss.Prepare(request)
		if err != nil {
			t.Fatal(err)
		}
		edit(c)
		tok, err := iss.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hs256 := func(secret []byte) []byte {
		return compact(t, map[string]any{"alg": "HS256", "kid": kid, "typ": "JWT"}, mustJSON(t, claims()),
			func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) })
	}
	es256 := func() []byte {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
			(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := s.Sign(mustJSON(t, claims()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return []byte(out)
	}

	tests := []struct {
		name string
		tok  []byte
		now  time.Time
		opts []token.Option
		want error // nil: accepted
	}{
		{name: "valid", tok: good, now: epoch},
		{name: "valid just before expiry", tok: good, now: epoch.Add(4*time.Hour - time.Second)},
		{name: "expired within leeway", tok: good, now: epoch.Add(4*time.Hour + 29*time.Second)},
		{name: "expired", tok: good, now: epoch.Add(4*time.Hour + 30*time.Second), want: token.ErrExpired},
		{name: "expired with no leeway", tok: good, now: epoch.Add(4 * time.Hour), opts: []token.Option{token.WithLeeway(0)}, want: token.ErrExpired},
		{name: "leeway bounded", tok: good, now: epoch.Add(4*time.Hour + 6*time.Minute), opts: []token.Option{token.WithLeeway(time.Hour)}, want: token.ErrExpired},
		{name: "issued within leeway", tok: good, now: epoch.Add(-29 * time.Second)},
		{name: "not yet valid", tok: good, now: epoch.Add(-time.Minute), want: token.ErrNotYetValid},
		{name: "tampered payload", tok: tamper(t, good), now: epoch, want: token.ErrSignature},
		{name: "signature of another token", tok: func() []byte {
			other, _, err := iss.Issue(request)
			if err != nil {
				t.Fatal(err)
			}
			return append(good[:bytes.LastIndexByte(good, '.')+1:bytes.LastIndexByte(good, '.')+1], other[bytes.LastIndexByte(other, '.')+1:]...)
		}(), now: epoch, want: token.ErrSignature},
		{name: "wrong key under the issuer's kid", tok: compact(t, map[string]any{"alg": "EdDSA", "kid": kid}, mustJSON(t, claims()),
			func(in []byte) []byte { return signWith(other, in) }), now: epoch, want: token.ErrSignature},
		{name: "wrong key with embedded jwk", tok: compact(t, map[string]any{"alg": "EdDSA", "kid": kid,
			"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(other.pub())}}, mustJSON(t, claims()),
			func(in []byte) []byte { return signWith(other, in) }), now: epoch, want: token.ErrSignature},
		{name: "unknown kid", tok: other.sign(t, mustJSON(t, claims())), now: epoch, want: token.ErrUnknownKey},
		{name: "kid missing", tok: compact(t, map[string]any{"alg": "EdDSA"}, mustJSON(t, claims()),
			func(in []byte) []byte { return signWith(other, in) }), now: epoch, want: token.ErrMalformed},
		{name: "alg none", tok: compact(t, map[string]any{"alg": "none", "kid": kid}, mustJSON(t, claims()),
			func([]byte) []byte { return nil }), now: epoch, want: token.ErrAlgorithm},
		{name: "alg missing", tok: compact(t, map[string]any{"kid": kid}, mustJSON(t, claims()),
			func(in []byte) []byte { return signWith(other, in) }), now: epoch, want: token.ErrAlgorithm},
		{name: "HS256 with the public key as secret", tok: hs256(pubBytes), now: epoch, want: token.ErrAlgorithm},
		{name: "HS256 with the JWKS as secret", tok: hs256(iss.JWKS()), now: epoch, want: token.ErrAlgorithm},
		{name: "ES256", tok: es256(), now: epoch, want: token.ErrAlgorithm},
		{name: "evidence typ", tok: compact(t, map[string]any{"alg": "EdDSA", "kid": kid, "typ": "eat+jwt"}, mustJSON(t, claims()),
			func(in []byte) []byte { return signWith(other, in) }), now: epoch, want: token.ErrMalformed},
		{name: "oversized", tok: append(bytes.Repeat([]byte("a"), token.MaxTokenSize), good...), now: epoch, want: token.ErrMalformed},
		{name: "garbage", tok: []byte("\x00\xffnot a token"), now: epoch, want: token.ErrMalformed},
		{name: "empty", tok: nil, now: epoch, want: token.ErrMalformed},
		{name: "four parts", tok: append(append([]byte{}, good...), ".x"...), now: epoch, want: token.ErrMalformed},
		{name: "surrounding white space", tok: []byte("  " + string(good) + "\r\n"), now: epoch},
		{name: "line break inside", tok: []byte(string(good[:20]) + "\n" + string(good[20:])), now: epoch, want: token.ErrMalformed},
		{name: "padded signature", tok: append(append([]byte{}, good...), "=="...), now: epoch, want: token.ErrMalformed},
		{name: "JWS JSON serialisation", tok: []byte(`{"payload":"e30","signatures":[]}`), now: epoch, want: token.ErrMalformed},
		{name: "payload swapped", tok: func() []byte {
			return []byte(string(good[:bytes.IndexByte(good, '.')+1]) + b64.EncodeToString([]byte("hello")) + "." + "AA")
		}(), now: epoch, want: token.ErrSignature},
		{name: "wrong profile", tok: issued(func(c *token.Claims) { c.Profile = "tag:example.com,2024:other" }), now: epoch, want: token.ErrClaims},
		{name: "no device submod", tok: issued(func(c *token.Claims) {
			c.Submods = map[string]token.Appraisal{"other": c.Submods[token.Submod]}
		}), now: epoch, want: token.ErrClaims},
		{name: "two submods", tok: issued(func(c *token.Claims) { c.Submods["other"] = c.Submods[token.Submod] }), now: epoch, want: token.ErrClaims},
		{name: "bad status", tok: issued(func(c *token.Claims) { c.Submods[token.Submod] = token.Appraisal{Status: "great"} }), now: epoch, want: token.ErrClaims},
		{name: "sub missing", tok: issued(func(c *token.Claims) { c.Subject = "" }), now: epoch, want: token.ErrClaims},
		{name: "cnf missing", tok: issued(func(c *token.Claims) { c.Confirmation.JKT = "" }), now: epoch, want: token.ErrClaims},
		{name: "iat missing", tok: issued(func(c *token.Claims) { c.IssuedAt = 0 }), now: epoch, want: token.ErrClaims},
		{name: "exp missing", tok: issued(func(c *token.Claims) { c.Expiry = 0 }), now: epoch, want: token.ErrClaims},
		{name: "exp before iat", tok: issued(func(c *token.Claims) { c.Expiry = c.IssuedAt - 1 }), now: epoch, want: token.ErrClaims},
		{name: "lifetime too long", tok: issued(func(c *token.Claims) { c.Expiry = c.IssuedAt + 25*3600 }), now: epoch, want: token.ErrClaims},
		{name: "lifetime under custom maximum", tok: good, now: epoch, opts: []token.Option{token.WithMaxLifetime(4 * time.Hour)}},
		{name: "lifetime over custom maximum", tok: good, now: epoch, opts: []token.Option{token.WithMaxLifetime(time.Hour)}, want: token.ErrClaims},
		{name: "wrong issuer", tok: good, now: epoch, opts: []token.Option{token.WithIssuer("https://evil.example")}, want: token.ErrClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]token.Option{token.WithNow(func() time.Time { return tt.now })}, tt.opts...)
			c, err := token.Verify(ctx, tt.tok, keys, opts...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want success", err)
				}
				if c == nil {
					t.Fatal("Verify returned nil claims and no error")
				}
				return
			}
			if got, want := err, tt.want; !errors.Is(got, want) {
				t.Fatalf("Verify error = %v, want %v", got, want)
			}
			if c != nil {
				t.Errorf("Verify returned claims with error %v", err)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q does not start lower case", msg)
			}
		})
	}
}

// TestVerifyClaimShape signs hand-written claims with a key in the set, to
// reach the claim checks with payloads the issuer cannot produce.
func TestVerifyClaimShape(t *testing.T) {
	ctx := context.Background()
	k := newTestKey(3)
	keys := set(t, k)
	tests := []struct {
		name string
		edit func(c map[string]any)
		want error
	}{
		{name: "valid", edit: func(map[string]any) {}},
		{name: "extension claim", edit: func(c map[string]any) { c["ear.veraison.annotated-evidence"] = map[string]any{"x": 1} }},
		{name: "iat absent", edit: func(c map[string]any) { delete(c, "iat") }, want: token.ErrClaims},
		{name: "exp absent", edit: func(c map[string]any) { delete(c, "exp") }, want: token.ErrClaims},
		{name: "iat a string", edit: func(c map[string]any) { c["iat"] = "yesterday" }, want: token.ErrMalformed},
		{name: "exp fractional", edit: func(c map[string]any) { c["exp"] = 1.5 }, want: token.ErrMalformed},
		{name: "submods absent", edit: func(c map[string]any) { delete(c, "submods") }, want: token.ErrClaims},
		{name: "submods an array", edit: func(c map[string]any) { c["submods"] = []any{} }, want: token.ErrMalformed},
		{name: "status absent", edit: func(c map[string]any) { c["submods"] = map[string]any{"device": map[string]any{}} }, want: token.ErrClaims},
		{name: "profile absent", edit: func(c map[string]any) { delete(c, "eat_profile") }, want: token.ErrClaims},
		{name: "cnf absent", edit: func(c map[string]any) { delete(c, "cnf") }, want: token.ErrClaims},
		{name: "huge exp", edit: func(c map[string]any) { c["exp"] = int64(1<<63 - 1) }, want: token.ErrClaims},
		{name: "huge iat and exp", edit: func(c map[string]any) { c["iat"], c["exp"] = int64(1<<63-100), int64(1<<63-1) }, want: token.ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims()
			tt.edit(c)
			got, err := token.Verify(ctx, k.sign(t, mustJSON(t, c)), keys, token.WithNow(func() time.Time { return epoch }))
			if tt.want == nil {
				if err != nil || got == nil {
					t.Fatalf("Verify = %v, %v, want claims", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyKeyType makes sure a KeySource handing back a non-Ed25519 key
// cannot steer Verify to another algorithm.
func TestVerifyKeyType(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := newTestKey(4)
	tok := k.sign(t, mustJSON(t, claims()))
	for _, tt := range []struct {
		name string
		key  any
	}{
		{name: "ecdsa", key: &ecKey.PublicKey},
		{name: "bytes", key: []byte(k.pub())},
		{name: "short ed25519", key: k.pub()[:16]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.Verify(context.Background(), tok, keyFunc(func(string) (any, error) { return tt.key, nil }),
				token.WithNow(func() time.Time { return epoch }))
			if got, want := err, token.ErrAlgorithm; !errors.Is(got, want) {
				t.Fatalf("Verify error = %v, want %v", got, want)
			}
		})
	}
}

func TestVerifyKeySourceError(t *testing.T) {
	boom := errors.New("jwks unreachable")
	k := newTestKey(4)
	_, err := token.Verify(context.Background(), k.sign(t, mustJSON(t, claims())),
		keyFunc(func(string) (any, error) { return nil, boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("Verify error = %v, want it to wrap %v", err, boom)
	}
	if errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("a failing key source is reported as an unknown key: %v", err)
	}
}

type keyFunc func(kid string) (any, error)

func (f keyFunc) Key(_ context.Context, kid string) (crypto.PublicKey, error) { return f(kid) }

var _ token.KeySource = keyFunc(nil)

func signWith(k testKey, input []byte) []byte { return ed25519.Sign(k.priv, input) }

// TestVerifyOneSpelling: a certificate has one spelling. Base64 decoders
// ignore the unused low bits of a segment's last character, and the JWS
// library checks the signature over the segments re-encoded, so a token
// with those bits set would verify as a second spelling of the same
// certificate, one that other JOSE libraries refuse.
func TestVerifyOneSpelling(t *testing.T) {
	ctx := context.Background()
	iss := newIssuer(t, func() time.Time { return epoch }, 1)
	keys := jwksOf(t, iss)
	good, _, err := iss.Issue(request)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(string(good), ".")
	tried := 0
	for i, name := range []string{"header", "payload", "signature"} {
		seg := parts[i]
		if len(seg)%4 == 0 {
			continue // no unused bits
		}
		tried++
		t.Run(name, func(t *testing.T) {
			c := strings.IndexByte(alphabet, seg[len(seg)-1])
			twin := append([]string{}, parts...)
			twin[i] = seg[:len(seg)-1] + string(alphabet[c^1])
			tok := []byte(strings.Join(twin, "."))
			if _, err := token.Verify(ctx, tok, keys, token.WithNow(func() time.Time { return epoch })); !errors.Is(err, token.ErrMalformed) {
				t.Errorf("Verify of %s with unused bits set = %v, want ErrMalformed", name, err)
			}
		})
	}
	if tried == 0 {
		t.Fatal("no segment has unused bits: the test checks nothing")
	}
}
