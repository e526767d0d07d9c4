package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Limits Verify applies whatever the options say.
const (
	// MaxTokenSize is the largest certificate Verify reads. Healthgate
	// certificates are well under 2 KiB.
	MaxTokenSize = 16 << 10
	// DefaultLeeway is the clock skew Verify tolerates on iat and exp.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds WithLeeway.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxLifetime is the longest exp-iat Verify accepts by default,
	// the issuer's maximum certificate lifetime.
	DefaultMaxLifetime = 24 * time.Hour
)

// Errors Verify returns, wrapped with detail. Test them with errors.Is.
var (
	// ErrMalformed: the token is not a compact JWS with a JSON payload of
	// the right shape, or is larger than MaxTokenSize.
	ErrMalformed = errors.New("malformed certificate")
	// ErrAlgorithm: the token's alg is not EdDSA, or the key is not Ed25519.
	ErrAlgorithm = errors.New("certificate algorithm not allowed")
	// ErrUnknownKey: no signing key with the token's kid.
	ErrUnknownKey = errors.New("unknown certificate signing key")
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("certificate signature does not verify")
	// ErrExpired: exp has passed, beyond the leeway.
	ErrExpired = errors.New("certificate expired")
	// ErrNotYetValid: iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("certificate not yet valid")
	// ErrClaims: the signed claims are not those of a Healthgate health
	// certificate (profile, submodule, tier, lifetime, subject, cnf, iss).
	ErrClaims = errors.New("invalid certificate claims")
)

// KeySource finds a certificate signing key by kid.
//
// Key returns an error wrapping ErrUnknownKey when it has no key with that
// kid. StaticJWKS and RemoteJWKS are KeySources.
type KeySource interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// Option configures Verify.
type Option func(*verifyConfig)

type verifyConfig struct {
	now         func() time.Time
	leeway      time.Duration
	issuer      string
	maxLifetime time.Duration
}

// WithNow sets the clock Verify checks iat and exp against.
func WithNow(now func() time.Time) Option {
	return func(c *verifyConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLeeway sets the clock skew tolerated on iat and exp. Negative values
// count as zero and values above MaxLeeway as MaxLeeway.
func WithLeeway(d time.Duration) Option {
	return func(c *verifyConfig) { c.leeway = min(max(d, 0), MaxLeeway) }
}

// WithIssuer requires the iss claim to equal iss.
func WithIssuer(iss string) Option {
	return func(c *verifyConfig) { c.issuer = iss }
}

// WithMaxLifetime sets the longest exp-iat accepted. Non-positive values
// leave the default, DefaultMaxLifetime.
func WithMaxLifetime(d time.Duration) Option {
	return func(c *verifyConfig) {
		if d > 0 {
			c.maxLifetime = d
		}
	}
}

// Verify checks a health certificate and returns its claims. It accepts only
// a compact JWS signed with EdDSA by the Ed25519 key that keys holds under
// the token's kid, whose claims are those of a current Healthgate
// certificate. Whatever the token's header says, no other algorithm is
// tried and no key embedded in the token is used.
//
// White space around the token is ignored; inside, the token must be the
// compact serialisation, base64url without padding.
//
// Verify does not check the device binding: callers that hold the device's
// key thumbprint should also check Claims.BoundTo.
func Verify(ctx context.Context, tok []byte, keys KeySource, opts ...Option) (*Claims, error) {
	cfg := verifyConfig{now: time.Now, leeway: DefaultLeeway, maxLifetime: DefaultMaxLifetime}
	for _, o := range opts {
		o(&cfg)
	}
	if len(tok) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes is more than %d", ErrMalformed, len(tok), MaxTokenSize)
	}
	tok = bytes.TrimSpace(tok)
	if bytes.Count(tok, []byte{'.'}) != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	// One spelling per token: no padding, no white space or line breaks
	// inside (base64 decoders skip them).
	for i, b := range tok {
		if !isCompactChar(b) {
			return nil, fmt.Errorf("%w: byte %d is not base64url", ErrMalformed, i)
		}
	}
	// Nor unused bits set in a segment's last character: decoders ignore
	// them, and go-jose checks the signature over the re-encoded segments.
	for _, seg := range bytes.Split(tok, []byte{'.'}) {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(string(seg)); err != nil {
			return nil, fmt.Errorf("%w: not canonical base64url", ErrMalformed)
		}
	}
	jws, err := jose.ParseSignedCompact(string(tok), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		if algErr := (*jose.ErrUnexpectedSignatureAlgorithm)(nil); errors.As(err, &algErr) {
			return nil, fmt.Errorf("%w: alg %q", ErrAlgorithm, algErr.Got)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	if h.Algorithm != string(jose.EdDSA) { // ParseSignedCompact checked; keep the pin local
		return nil, fmt.Errorf("%w: alg %q", ErrAlgorithm, h.Algorithm)
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
			// Explicit typing (RFC 8725 §3.11): evidence tokens, say, are
			// eat+jwt and must never pass as certificates.
			return nil, fmt.Errorf("%w: typ %v", ErrMalformed, typ)
		}
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: kid missing", ErrMalformed)
	}

	if keys == nil {
		return nil, errors.New("verifying certificate: no key source")
	}
	key, err := keys.Key(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return nil, err
		}
		return nil, fmt.Errorf("finding certificate signing key %q: %w", h.KeyID, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: key %q is %T, not Ed25519", ErrAlgorithm, h.KeyID, key)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key %q has %d bytes", ErrAlgorithm, h.KeyID, len(pub))
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}

	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if err := cfg.check(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

var validTiers = []string{TierAffirming, TierWarning, TierContraindicated, TierNone}

// check applies the claim rules to signed claims.
func (cfg *verifyConfig) check(c *Claims) error {
	if c.Profile != Profile {
		return fmt.Errorf("%w: eat_profile %q is not %q", ErrClaims, c.Profile, Profile)
	}
	if len(c.Submods) != 1 {
		return fmt.Errorf("%w: %d submods, want exactly %q", ErrClaims, len(c.Submods), Submod)
	}
	a, ok := c.Submods[Submod]
	if !ok {
		return fmt.Errorf("%w: submod %q missing", ErrClaims, Submod)
	}
	if !slices.Contains(validTiers, a.Status) {
		return fmt.Errorf("%w: ear.status %q is not an AR4SI tier", ErrClaims, a.Status)
	}
	if c.Subject == "" {
		return fmt.Errorf("%w: sub missing", ErrClaims)
	}
	if c.Confirmation.JKT == "" {
		return fmt.Errorf("%w: cnf.jkt missing", ErrClaims)
	}
	if cfg.issuer != "" && c.Issuer != cfg.issuer {
		return fmt.Errorf("%w: iss %q, want %q", ErrClaims, c.Issuer, cfg.issuer)
	}
	if c.IssuedAt <= 0 {
		return fmt.Errorf("%w: iat missing", ErrClaims)
	}
	if c.Expiry <= 0 {
		return fmt.Errorf("%w: exp missing", ErrClaims)
	}
	if c.Expiry <= c.IssuedAt {
		return fmt.Errorf("%w: exp is not after iat", ErrClaims)
	}
	if secs := c.Expiry - c.IssuedAt; secs > int64(cfg.maxLifetime/time.Second) {
		return fmt.Errorf("%w: lifetime %ds is longer than %v", ErrClaims, secs, cfg.maxLifetime)
	}
	// Compare in Unix seconds: time.Time arithmetic on hostile values far
	// in the future overflows.
	now := cfg.now()
	nowS, leeway := now.Unix(), int64(cfg.leeway/time.Second)
	if c.IssuedAt > nowS+leeway {
		return fmt.Errorf("%w: issued at %s, now %s", ErrNotYetValid, unixString(c.IssuedAt), unixString(nowS))
	}
	if nowS-leeway >= c.Expiry {
		return fmt.Errorf("%w: at %s, now %s", ErrExpired, unixString(c.Expiry), unixString(nowS))
	}
	return nil
}

func unixString(secs int64) string {
	if secs > maxUnix {
		return strconv.FormatInt(secs, 10)
	}
	return time.Unix(secs, 0).UTC().Format(time.RFC3339)
}

// maxUnix is the last second of year 9999.
const maxUnix = 253402300799

func isCompactChar(r byte) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.'
}
