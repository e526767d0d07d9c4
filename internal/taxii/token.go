package taxii

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// Token lifetimes: every partner token expires.
const (
	DefaultTokenLifetime = 90 * 24 * time.Hour
	MinTokenLifetime     = time.Hour
	MaxTokenLifetime     = 366 * 24 * time.Hour
)

const tokenPrefix = "hgp_"

// NewToken makes a Bearer token for a partner: the token to show once and
// the record to store, which holds only the SHA-256 of the secret. The
// token reads hgp_<token id>_<secret>.
func NewToken(partnerID string, lifetime time.Duration, now time.Time, rnd io.Reader) (string, store.PartnerToken, error) {
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	if lifetime < MinTokenLifetime || lifetime > MaxTokenLifetime {
		return "", store.PartnerToken{}, fmt.Errorf("token lifetime %v is outside [%v, %v]", lifetime, MinTokenLifetime, MaxTokenLifetime)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, 8+32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", store.PartnerToken{}, err
	}
	id, secret := hex.EncodeToString(b[:8]), hex.EncodeToString(b[8:])
	sum := sha256.Sum256([]byte(secret))
	t := store.PartnerToken{ID: id, PartnerID: partnerID, Hash: sum[:], Created: now.UTC(), Expires: now.Add(lifetime).UTC()}
	return tokenPrefix + id + "_" + secret, t, nil
}

func parseToken(tok string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 64 {
		return "", "", false
	}
	return id, secret, true
}

var errBadToken = errors.New("unknown, expired or revoked token")

// authenticate returns the partner a Bearer token belongs to.
func authenticate(ctx context.Context, st store.PartnerStore, tok string, now time.Time) (store.Partner, error) {
	id, secret, ok := parseToken(tok)
	if !ok {
		return store.Partner{}, errBadToken
	}
	rec, err := st.PartnerToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Partner{}, errBadToken
	}
	if err != nil {
		return store.Partner{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], rec.Hash) != 1 || !rec.ValidAt(now) {
		return store.Partner{}, errBadToken
	}
	p, err := st.Partner(ctx, rec.PartnerID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Partner{}, errBadToken
	}
	return p, err
}
