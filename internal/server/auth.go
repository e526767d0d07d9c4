package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// API key lifetimes and the rotation grace period.
const (
	DefaultKeyLifetime = 365 * 24 * time.Hour
	MinKeyLifetime     = time.Hour
	MaxKeyLifetime     = 2 * 365 * 24 * time.Hour
	DefaultKeyGrace    = 24 * time.Hour
	MaxKeyGrace        = 7 * 24 * time.Hour
	// KeyCacheTTL bounds how long a key checked against the store is
	// trusted from memory: a revocation takes effect within this time (at
	// once at nodes sharing a PostgreSQL store: AnnounceKeysChanged).
	KeyCacheTTL = 30 * time.Second
	keyCacheMax = 10_000
)

const keyPrefix = "hgk_"

// NewAPIKey makes a key for a relying party: the secret to show once and
// the record to store (which holds only the SHA-256 of the secret). The key
// reads hgk_<key id>_<secret>: the id finds the record, the 256-bit secret
// is what is checked.
func NewAPIKey(rpID string, scopes []string, lifetime time.Duration, now time.Time, rnd io.Reader) (string, store.APIKey, error) {
	if lifetime == 0 {
		lifetime = DefaultKeyLifetime
	}
	if lifetime < MinKeyLifetime || lifetime > MaxKeyLifetime {
		return "", store.APIKey{}, fmt.Errorf("key lifetime %v is outside [%v, %v]", lifetime, MinKeyLifetime, MaxKeyLifetime)
	}
	if len(scopes) == 0 {
		return "", store.APIKey{}, errors.New("a key needs at least one scope")
	}
	for _, sc := range scopes {
		if !slices.Contains(store.Scopes, sc) {
			return "", store.APIKey{}, fmt.Errorf("unknown scope %q: want %s", sc, strings.Join(store.Scopes, ", "))
		}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 8+32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", store.APIKey{}, err
	}
	id, secret := hex.EncodeToString(b[:8]), hex.EncodeToString(b[8:])
	sum := sha256.Sum256([]byte(secret))
	k := store.APIKey{ID: id, RPID: rpID, Hash: sum[:], Scopes: slices.Clone(scopes), Created: now.UTC(), Expires: now.Add(lifetime).UTC()}
	return keyPrefix + id + "_" + secret, k, nil
}

// parseAPIKey splits a key into id and secret.
func parseAPIKey(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 64 {
		return "", "", false
	}
	return id, secret, true
}

// keyCache remembers API keys read from the store for KeyCacheTTL, so that
// authenticating a request costs a SHA-256 and a map lookup. It is bounded
// and forgets an arbitrary entry when full.
type keyCache struct {
	store store.Store
	now   func() time.Time
	mu    sync.RWMutex
	m     map[string]cachedKey
}

type cachedKey struct {
	key     store.APIKey
	fetched time.Time
}

func newKeyCache(s store.Store, now func() time.Time) *keyCache {
	return &keyCache{store: s, now: now, m: make(map[string]cachedKey)}
}

func (c *keyCache) get(ctx context.Context, id string) (store.APIKey, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && now.Sub(e.fetched) < KeyCacheTTL && !now.Before(e.fetched) {
		return e.key, nil
	}
	k, err := c.store.APIKey(ctx, id)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	if len(c.m) >= keyCacheMax {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cachedKey{k, now}
	c.mu.Unlock()
	return k, nil
}

// forgetRP drops the cached keys of a relying party, so that the next
// request reads them from the store again.
func (c *keyCache) forgetRP(rpID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if e.key.RPID == rpID {
			delete(c.m, id)
		}
	}
}

type rpKey struct{}

// relyingParty returns the id of the authenticated relying party.
func relyingParty(ctx context.Context) string {
	id, _ := ctx.Value(rpKey{}).(string)
	return id
}

// authed wraps a handler so that it runs only for a request with a valid
// API key that has the scope.
func (s *Server) authed(scope string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		rpID, err := s.authenticate(r, scope)
		if err != nil {
			if he := (*httpError)(nil); errors.As(err, &he) && he.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="healthgate"`)
			}
			return err
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), rpKey{}, rpID)))
	}
}

func (s *Server) authenticate(r *http.Request, scope string) (string, error) {
	auth := r.Header.Get("Authorization")
	scheme, key, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "an API key is required: Authorization: Bearer KEY")
	}
	id, secret, ok := parseAPIKey(strings.TrimSpace(key))
	if !ok {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
	}
	k, err := s.dec.keys.get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
	} else if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], k.Hash) != 1 {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the API key is not valid")
	}
	if !k.ValidAt(s.opts.Now()) {
		return "", errorf(http.StatusUnauthorized, "unauthorized", "the API key was revoked or has expired: ask the operator for a new one")
	}
	if !slices.Contains(k.Scopes, scope) {
		return "", errorf(http.StatusForbidden, "forbidden", "this API key does not have the %q scope", scope)
	}
	return k.RPID, nil
}
