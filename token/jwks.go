package token

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/httpsafe"
)

// Limits on a JWKS, wherever it comes from.
const (
	// MaxJWKSSize is the largest JWKS document read, from a file or the network.
	MaxJWKSSize = 1 << 20
	// MaxJWKSKeys is the most keys a JWKS may hold.
	MaxJWKSKeys = 100
)

// Defaults and bounds of RemoteJWKS.
const (
	// DefaultMinRefresh is the least time between two fetches of a remote
	// JWKS, however many unknown kids come in.
	DefaultMinRefresh = 30 * time.Second
	// DefaultCacheAge is how long a fetched JWKS is used when the response
	// has no Cache-Control max-age.
	DefaultCacheAge = 5 * time.Minute
	// MinCacheAge and MaxCacheAge bound the Cache-Control max-age honoured.
	MinCacheAge = time.Minute
	MaxCacheAge = time.Hour
	// DefaultFetchTimeout bounds one fetch of a remote JWKS.
	DefaultFetchTimeout = 10 * time.Second
)

// jwk is the part of a JSON Web Key that matters here.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// parseKeySet returns the Ed25519 signature keys of a JWKS by kid. Keys of
// other types or uses are skipped, so that an issuer can publish them; a
// private key, a duplicate kid or a malformed Ed25519 key fails the set.
func parseKeySet(data []byte) (map[string]ed25519.PublicKey, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("jwks is larger than %d bytes", MaxJWKSSize)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parsing jwks: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("parsing jwks: no \"keys\" member")
	}
	if len(set.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("jwks has %d keys, more than %d", len(set.Keys), MaxJWKSKeys)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	seen := make(map[string]bool, len(set.Keys))
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("jwks key %d: %w", i, err)
		}
		if k.D != "" {
			return nil, fmt.Errorf("jwks key %d (kid %q) is a private key: the issuer's signing key has leaked", i, k.Kid)
		}
		if k.Kid != "" {
			if seen[k.Kid] {
				return nil, fmt.Errorf("jwks has two keys with kid %q", k.Kid)
			}
			seen[k.Kid] = true
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") ||
			(k.Alg != "" && k.Alg != "EdDSA" && k.Alg != "Ed25519") || k.Kid == "" {
			continue // not a certificate signing key; Verify requires a kid
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwks key %q: x is not a base64url Ed25519 public key", k.Kid)
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}

// StaticJWKS is a fixed set of certificate signing keys, e.g. read from a
// file. It is a KeySource and safe for concurrent use.
type StaticJWKS struct {
	keys map[string]ed25519.PublicKey
}

var _ KeySource = (*StaticJWKS)(nil)

// ParseJWKS reads a JSON Web Key Set (RFC 7517) such as the one a Healthgate
// server publishes at /.well-known/jwks.json. It keeps the Ed25519
// signature keys that have a kid and fails if there are none.
func ParseJWKS(data []byte) (*StaticJWKS, error) {
	keys, err := parseKeySet(data)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks has no Ed25519 signing key with a kid")
	}
	return &StaticJWKS{keys: keys}, nil
}

// Key implements KeySource.
func (s *StaticJWKS) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
}

// KeyIDs returns the kids of the set, sorted.
func (s *StaticJWKS) KeyIDs() []string {
	ids := make([]string, 0, len(s.keys))
	for kid := range s.keys {
		ids = append(ids, kid)
	}
	slices.Sort(ids)
	return ids
}

// RemoteJWKS fetches a JWKS over HTTP and caches it. It is a KeySource and
// safe for concurrent use.
//
// A fetched set is used for the response's Cache-Control max-age, bounded
// to [MinCacheAge, MaxCacheAge], or DefaultCacheAge without one. A kid that
// is not in the cached set triggers a refetch, at most one per MinRefresh,
// so that keys the issuer has just rotated in are found without letting
// tokens with made-up kids hammer the issuer. An expired cache is never
// used: when the fetch fails, Key fails.
//
// The URL must be https, or http to a loopback address (for tests and
// local demos): keys fetched in the clear could be swapped by anyone on the
// path.
type RemoteJWKS struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	timeout    time.Duration
	now        func() time.Time

	// sem guards the fields below and serialises fetches; a caller whose
	// context ends stops waiting for it.
	sem       chan struct{}
	keys      map[string]ed25519.PublicKey
	expires   time.Time // when keys stop being used
	lastFetch time.Time // last attempt, successful or not
	lastErr   error     // error of the last attempt, if it failed
}

var _ KeySource = (*RemoteJWKS)(nil)

// JWKSOption configures a RemoteJWKS.
type JWKSOption func(*RemoteJWKS)

// WithHTTPClient sets the HTTP client used to fetch the JWKS. Each fetch is
// still bounded by the fetch timeout.
func WithHTTPClient(c *http.Client) JWKSOption {
	return func(r *RemoteJWKS) {
		if c != nil {
			r.client = c
		}
	}
}

// WithMinRefresh sets the least time between two fetches (default
// DefaultMinRefresh), bounded to [1s, MinCacheAge].
func WithMinRefresh(d time.Duration) JWKSOption {
	return func(r *RemoteJWKS) { r.minRefresh = min(max(d, time.Second), MinCacheAge) }
}

// WithFetchTimeout sets the time limit of one fetch (default
// DefaultFetchTimeout).
func WithFetchTimeout(d time.Duration) JWKSOption {
	return func(r *RemoteJWKS) {
		if d > 0 {
			r.timeout = d
		}
	}
}

// WithClock sets the clock that ages the cache and rate-limits fetches.
func WithClock(now func() time.Time) JWKSOption {
	return func(r *RemoteJWKS) {
		if now != nil {
			r.now = now
		}
	}
}

// NewRemoteJWKS returns a KeySource that fetches the JWKS at url when it is
// first needed.
func NewRemoteJWKS(url string, opts ...JWKSOption) *RemoteJWKS {
	r := &RemoteJWKS{
		url:        url,
		client:     &http.Client{Timeout: DefaultFetchTimeout},
		minRefresh: DefaultMinRefresh,
		timeout:    DefaultFetchTimeout,
		now:        time.Now,
		sem:        make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Key implements KeySource: it returns the key from the cached set,
// fetching the set when it has expired or lacks kid.
func (r *RemoteJWKS) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.sem }()

	now := r.now()
	fresh := r.keys != nil && now.Before(r.expires)
	if k, ok := r.keys[kid]; ok && fresh {
		return k, nil
	}
	if !r.lastFetch.IsZero() && now.Sub(r.lastFetch) < r.minRefresh {
		if !fresh && r.lastErr != nil {
			return nil, fmt.Errorf("fetching jwks (retry after %v): %w", r.lastFetch.Add(r.minRefresh).Sub(now).Round(time.Second), r.lastErr)
		}
		return nil, fmt.Errorf("%w: kid %q (jwks fetched %v ago)", ErrUnknownKey, kid, now.Sub(r.lastFetch).Round(time.Second))
	}

	keys, age, err := r.fetch(ctx)
	if err != nil {
		if ctx.Err() == nil { // the caller giving up says nothing about the server
			r.lastFetch, r.lastErr = now, err
		}
		return nil, fmt.Errorf("fetching jwks: %w", err)
	}
	r.lastFetch, r.lastErr = now, nil
	r.keys, r.expires = keys, now.Add(age)
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q not in %s", ErrUnknownKey, kid, r.url)
}

// fetch gets and parses the set, and says how long to use it.
func (r *RemoteJWKS) fetch(ctx context.Context) (map[string]ed25519.PublicKey, time.Duration, error) {
	if err := checkURL(r.url); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	// A redirect is held to the same rule as the URL: an https server (or
	// whoever answers for it) must not send the fetch to plain http, where
	// anyone on the path could hand out keys.
	client := httpsafe.CheckRedirects(r.client, func(u *url.URL) error { return checkURL(u.String()) })
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%s answered %s", r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading jwks: %w", err)
	}
	keys, err := parseKeySet(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, cacheAge(resp.Header), nil
}

// cacheAge returns how long to keep a response, from its Cache-Control.
func cacheAge(h http.Header) time.Duration {
	age := DefaultCacheAge
	for _, cc := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(cc, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return MinCacheAge
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
				if err != nil || secs < 0 {
					continue
				}
				age = time.Duration(min(secs, int64(MaxCacheAge/time.Second))) * time.Second
			}
		}
	}
	return min(max(age, MinCacheAge), MaxCacheAge)
}

// checkURL allows https, and http only to loopback addresses.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("jwks url: %w", err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if httpsafe.Loopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("jwks url %s: http is allowed only to loopback addresses; use https", raw)
	default:
		return fmt.Errorf("jwks url %s: scheme must be https", raw)
	}
}
