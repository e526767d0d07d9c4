package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// Checkout sessions are the path to a decision that needs no loopback call
// from the page: the merchant asks for a one-time session id, the page
// opens healthgate://report?session=ID, the agent reports for that session,
// and the decision that names the session uses that report.
//
// A session id is stateless, like a nonce: its expiry, 12 random bytes, the
// relying party's id and an HMAC over all three. Only the relying party
// that asked for it can decide with it, and only until it expires; the
// store keeps at most one report per session.

// SessionTTL bounds how long a checkout session can be used.
const SessionTTL = 10 * time.Minute

type sessionMinter struct {
	key []byte
	now func() time.Time
	rnd io.Reader
}

var errSession = errors.New("checkout session is unknown or expired")

func newSessionMinter(ctx context.Context, st store.Store, now func() time.Time, rnd io.Reader) (*sessionMinter, error) {
	key, err := st.Secret(ctx, "checkout-session-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, k)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	return &sessionMinter{key: key, now: now, rnd: rnd}, nil
}

func (m *sessionMinter) mac(body []byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("healthgate session v1\x00"))
	h.Write(body)
	return h.Sum(nil)[:16]
}

// mint returns a session id for a relying party.
func (m *sessionMinter) mint(rpID string) (string, time.Time, error) {
	exp := m.now().Add(SessionTTL).Truncate(time.Second)
	body := make([]byte, 20, 20+len(rpID)+16)
	binary.BigEndian.PutUint64(body, uint64(exp.Unix()))
	if _, err := io.ReadFull(m.rnd, body[8:20]); err != nil {
		return "", time.Time{}, err
	}
	body = append(body, rpID...)
	return base64.RawURLEncoding.EncodeToString(append(body, m.mac(body)...)), exp, nil
}

// check returns the relying party a session id was minted for.
func (m *sessionMinter) check(id string) (string, error) {
	// Only the spelling mint made: the store keeps one report per session
	// string, and base64 decoding ignores the last character's unused bits.
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) < 20+1+16 || len(b) > 20+64+16 || base64.RawURLEncoding.EncodeToString(b) != id {
		return "", errSession
	}
	body, sum := b[:len(b)-16], b[len(b)-16:]
	if !hmac.Equal(sum, m.mac(body)) {
		return "", errSession
	}
	if !m.now().Before(time.Unix(int64(binary.BigEndian.Uint64(body)), 0)) {
		return "", errSession
	}
	return string(body[20:]), nil
}

type sessionResponse struct {
	Session   string    `json:"session"`
	ExpiresAt time.Time `json:"expires_at"`
}

// handleNewSession is POST /v1/sessions (scope decisions).
func (s *Server) handleNewSession(w http.ResponseWriter, r *http.Request) error {
	id, exp, err := s.sessions.mint(relyingParty(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, sessionResponse{Session: id, ExpiresAt: exp.UTC()})
}
