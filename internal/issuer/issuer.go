// Package issuer mints Healthgate health certificates: EAR JWTs signed with
// EdDSA by a server key that is persisted in the store, published in a JWKS
// and rotated without breaking certificates already issued.
package issuer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/token"
)

// Lifetimes bound how long a certificate is valid. Worse tiers get shorter
// lives: a device at risk must come back sooner.
type Lifetimes struct {
	Affirming time.Duration // default lifetime of a healthy device's certificate
	Warning   time.Duration
	// Contraindicated and none certificates say the device is NOT healthy;
	// they live just long enough for a relying party to act on them.
	Contraindicated time.Duration
	Min, Max        time.Duration
}

// DefaultLifetimes are the lifetimes used when none are configured.
func DefaultLifetimes() Lifetimes {
	return Lifetimes{Affirming: 4 * time.Hour, Warning: time.Hour, Contraindicated: 5 * time.Minute,
		Min: time.Minute, Max: 24 * time.Hour}
}

// Validate reports every problem with the lifetimes at once.
func (l Lifetimes) Validate() error {
	var errs []error
	if l.Min <= 0 {
		errs = append(errs, errors.New("minimum certificate lifetime must be positive"))
	}
	if l.Max < l.Min {
		errs = append(errs, errors.New("maximum certificate lifetime is below the minimum"))
	}
	if l.Max > token.DefaultMaxLifetime {
		// Relying parties using token.Verify would reject such certificates.
		errs = append(errs, fmt.Errorf("maximum certificate lifetime %v is above %v", l.Max, token.DefaultMaxLifetime))
	}
	for name, d := range map[string]time.Duration{"affirming": l.Affirming, "warning": l.Warning, "contraindicated": l.Contraindicated} {
		if d < l.Min || d > l.Max {
			errs = append(errs, fmt.Errorf("%s certificate lifetime %v is outside [%v, %v]", name, d, l.Min, l.Max))
		}
	}
	if l.Warning > l.Affirming {
		errs = append(errs, errors.New("a warning certificate must not outlive a healthy one"))
	}
	if l.Contraindicated > l.Warning {
		errs = append(errs, errors.New("a contraindicated certificate must not outlive a warning one"))
	}
	return errors.Join(errs...)
}

// For returns the lifetime of a certificate for a tier.
func (l Lifetimes) For(tier string) time.Duration {
	switch tier {
	case token.TierAffirming:
		return l.Affirming
	case token.TierWarning:
		return l.Warning
	default:
		return l.Contraindicated
	}
}

// Options configure an Issuer.
type Options struct {
	Issuer    string // iss claim, e.g. the service URL
	Build     string // ear.verifier-id build
	Lifetimes Lifetimes
	Now       func() time.Time
	Rand      io.Reader
	Logf      func(format string, args ...any)
}

// Keys is the part of the store the issuer needs.
type Keys interface {
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	AddSigningKey(ctx context.Context, k store.SigningKey) error
	RetireSigningKey(ctx context.Context, kid string, at time.Time) error
	DeleteSigningKey(ctx context.Context, kid string) error
}

// Key rotation timing. A new key is published Prepublish before it signs,
// so that relying parties holding a JWKS fetched before the rotation (they
// may cache it for JWKSMaxAge) and nodes that have not reloaded the keys yet
// (they do so every minute) know it by then; the key it replaces signs
// until that moment. A retired key is deleted RetireGrace after the longest
// certificate it can have signed expired: relying parties may accept a
// certificate up to token.MaxLeeway late, and server clocks drift.
const (
	JWKSMaxAge = 5 * time.Minute
	// Prepublish covers JWKSMaxAge, one reload by every node and clock skew.
	Prepublish  = JWKSMaxAge + 5*time.Minute
	RetireGrace = token.MaxLeeway + 5*time.Minute
)

// Issuer mints and publishes certificates. It is safe for concurrent use.
type Issuer struct {
	opts Options
	keys Keys

	mu      sync.RWMutex
	signers []*signingKey // usable keys, oldest first
	jwks    []byte
	pub     []publishedKey
}

type signingKey struct {
	kid    string
	priv   ed25519.PrivateKey
	header string    // base64url of the protected header, computed once
	from   time.Time // signs from then (created + Prepublish) ...
	until  time.Time // ... until then; zero: until a newer key takes over
}

type publishedKey struct {
	kid     string
	pub     ed25519.PublicKey
	retired time.Time
}

// New loads the signing keys, creating the first one if there is none.
func New(ctx context.Context, keys Keys, opts Options) (*Issuer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Lifetimes == (Lifetimes{}) {
		opts.Lifetimes = DefaultLifetimes()
	}
	if opts.Build == "" {
		opts.Build = "healthgate"
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := opts.Lifetimes.Validate(); err != nil {
		return nil, err
	}
	iss := &Issuer{opts: opts, keys: keys}
	if err := iss.load(ctx); err != nil {
		return nil, err
	}
	if iss.active(opts.Now()) == nil {
		if err := iss.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return iss, nil
}

// load reads the keys from the store, retires keys a newer one supersedes,
// drops retired keys whose certificates have all expired, and rebuilds the
// JWKS. Every node derives the same signing schedule from the same stored
// keys, so nodes that rotate at once agree on the key that wins (the newest)
// even before its predecessors are marked retired in the store.
func (iss *Issuer) load(ctx context.Context) error {
	stored, err := iss.keys.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	now := iss.opts.Now()
	newest := -1 // newest key not marked retired
	for i, k := range stored {
		if k.Retired.IsZero() {
			newest = i
		}
	}
	var signers []*signingKey
	var pub []publishedKey
	for i, k := range stored {
		if k.Algorithm != "EdDSA" {
			return fmt.Errorf("signing key %s: unsupported algorithm %q", k.KID, k.Algorithm)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(k.Private)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		priv, ok := parsed.(ed25519.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s is %T, not Ed25519", k.KID, parsed)
		}
		if k.Retired.IsZero() && i != newest {
			// Superseded: it signs until the newest key takes over.
			k.Retired = stored[newest].Created.Add(Prepublish)
			if err := iss.keys.RetireSigningKey(ctx, k.KID, k.Retired); err != nil && !errors.Is(err, store.ErrNotFound) {
				iss.opts.Logf("retiring signing key %s: %v", k.KID, err) // retried on the next load
			}
		}
		if !k.Retired.IsZero() && now.After(k.Retired.Add(iss.opts.Lifetimes.Max+RetireGrace)) {
			// Every certificate it signed has expired: it may go.
			if err := iss.keys.DeleteSigningKey(ctx, k.KID); err != nil && !errors.Is(err, store.ErrNotFound) {
				iss.opts.Logf("deleting signing key %s: %v", k.KID, err) // retried on the next load
			}
			continue
		}
		pub = append(pub, publishedKey{kid: k.KID, pub: priv.Public().(ed25519.PublicKey), retired: k.Retired})
		if k.Retired.IsZero() || now.Before(k.Retired) {
			s := newSigningKey(k.KID, priv)
			s.from, s.until = k.Created.Add(Prepublish), k.Retired
			signers = append(signers, s)
		}
	}
	jwks, err := marshalJWKS(pub)
	if err != nil {
		return err
	}
	iss.mu.Lock()
	iss.signers, iss.pub, iss.jwks = signers, pub, jwks
	iss.mu.Unlock()
	return nil
}

// active returns the key that signs at now: the newest key published for
// Prepublish and not retired, or, when no key has been published that long
// (the first keys of a new store), the oldest key not retired: the one that
// nodes which have not seen the newer keys yet sign with.
func (iss *Issuer) active(now time.Time) *signingKey {
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	var fallback *signingKey
	for i := len(iss.signers) - 1; i >= 0; i-- {
		k := iss.signers[i]
		if !k.until.IsZero() && !now.Before(k.until) {
			continue
		}
		if !now.Before(k.from) {
			return k
		}
		fallback = k
	}
	return fallback
}

func newSigningKey(kid string, priv ed25519.PrivateKey) *signingKey {
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "kid": kid, "typ": "JWT"})
	return &signingKey{kid: kid, priv: priv, header: base64.RawURLEncoding.EncodeToString(h)}
}

// Rotate creates a new signing key and retires the current one. The new key
// is published at once and signs after Prepublish; the current key signs
// until then and stays in the JWKS until every certificate it signed has
// expired.
func (iss *Issuer) Rotate(ctx context.Context) error {
	pub, priv, err := ed25519.GenerateKey(iss.opts.Rand)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	kid := Thumbprint(pub)
	if err := iss.keys.AddSigningKey(ctx, store.SigningKey{KID: kid, Algorithm: "EdDSA", Private: der, Created: iss.opts.Now()}); err != nil {
		return fmt.Errorf("storing signing key: %w", err)
	}
	iss.opts.Logf("certificate signing key rotated: new kid %s", kid)
	return iss.load(ctx) // retires the keys the new one supersedes
}

// Refresh reloads keys from the store, e.g. after another node rotated, and
// drops retired keys that no certificate can still need.
func (iss *Issuer) Refresh(ctx context.Context) error { return iss.load(ctx) }

// JWKS returns the JSON Web Key Set of every key whose certificates may still
// be valid.
func (iss *Issuer) JWKS() []byte {
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	return iss.jwks
}

// KeyIDs returns the kids in the JWKS, oldest first.
func (iss *Issuer) KeyIDs() []string {
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	ids := make([]string, len(iss.pub))
	for i, k := range iss.pub {
		ids[i] = k.kid
	}
	return ids
}

// Request is what a certificate says about a device.
type Request struct {
	DeviceID    string
	JKT         string // device key thumbprint (cnf.jkt)
	Tier        string
	TrustVector map[string]int
	PolicyID    string
	Findings    []string
	Nonce       string // echoed evidence nonce, optional
}

var tiers = []string{token.TierAffirming, token.TierWarning, token.TierContraindicated, token.TierNone}

// trustVectorKeys are the AR4SI categories EAR accepts.
var trustVectorKeys = []string{"instance-identity", "configuration", "executables", "file-system",
	"hardware", "runtime-opaque", "storage-opaque", "sourced-data"}

// Prepare validates a request and returns the claims of its certificate
// without signing them, so the caller can record the certificate id and
// expiry before the certificate exists.
func (iss *Issuer) Prepare(r Request) (*token.Claims, error) {
	var errs []error
	if r.DeviceID == "" {
		errs = append(errs, errors.New("device id is missing"))
	}
	if r.JKT == "" {
		errs = append(errs, errors.New("device key thumbprint is missing"))
	}
	if !slices.Contains(tiers, r.Tier) {
		errs = append(errs, fmt.Errorf("tier %q is not an AR4SI tier", r.Tier))
	}
	for k, v := range r.TrustVector {
		if !slices.Contains(trustVectorKeys, k) {
			errs = append(errs, fmt.Errorf("trust vector category %q is unknown", k))
		}
		if v < -128 || v > 127 {
			errs = append(errs, fmt.Errorf("trust vector %s value %d out of range", k, v))
		}
	}
	if n := len(r.Nonce); n != 0 && (n < 8 || n > 88) {
		errs = append(errs, errors.New("nonce must be 8 to 88 characters"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid certificate request: %w", err)
	}
	var jti [16]byte
	if _, err := io.ReadFull(iss.opts.Rand, jti[:]); err != nil {
		return nil, err
	}
	now := iss.opts.Now()
	findings := r.Findings
	if findings == nil {
		findings = []string{}
	}
	return &token.Claims{
		Profile:    token.Profile,
		Issuer:     iss.opts.Issuer,
		Subject:    r.DeviceID,
		ID:         base64.RawURLEncoding.EncodeToString(jti[:]),
		IssuedAt:   now.Unix(),
		Expiry:     now.Add(iss.opts.Lifetimes.For(r.Tier)).Unix(),
		VerifierID: token.VerifierID{Build: iss.opts.Build, Developer: "https://github.com/healthgate/healthgate"},
		Nonce:      r.Nonce,
		Submods: map[string]token.Appraisal{token.Submod: {
			Status: r.Tier, TrustVector: r.TrustVector, PolicyID: r.PolicyID,
		}},
		Confirmation: token.Confirmation{JKT: r.JKT},
		Findings:     findings,
	}, nil
}

// Sign signs prepared claims with the active key: a compact JWS with
// alg EdDSA, the key's kid and typ JWT.
func (iss *Issuer) Sign(c *token.Claims) ([]byte, error) {
	k := iss.active(iss.opts.Now())
	if k == nil {
		return nil, errors.New("no active signing key")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(k.header)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(ed25519.SignatureSize))
	out = append(out, k.header...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	sig := ed25519.Sign(k.priv, out)
	out = append(out, '.')
	return enc.AppendEncode(out, sig), nil
}

// Issue prepares and signs a certificate.
func (iss *Issuer) Issue(r Request) ([]byte, *token.Claims, error) {
	c, err := iss.Prepare(r)
	if err != nil {
		return nil, nil, err
	}
	tok, err := iss.Sign(c)
	return tok, c, err
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of an Ed25519
// public key, base64url without padding: the kid of a signing key.
func Thumbprint(pub ed25519.PublicKey) string {
	j, err := devicekey.PublicJWK(pub)
	if err != nil {
		panic(err) // only called with keys ed25519.GenerateKey made
	}
	return j.Thumbprint()
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func marshalJWKS(keys []publishedKey) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.kid, Alg: "EdDSA", Use: "sig"})
	}
	return json.Marshal(set)
}
