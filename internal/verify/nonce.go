package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Nonce lifetimes: every lifetime is bounded.
const (
	DefaultNonceTTL = 5 * time.Minute
	MinNonceTTL     = 30 * time.Second
	MaxNonceTTL     = 15 * time.Minute
)

// Nonces mints and checks challenge nonces without storing them: a nonce is
// its expiry, 16 random bytes and an HMAC over the device id and both, so
// only the device it was issued to can use it and only until it expires.
// Single use is enforced where the report is stored (store.RecordReport).
type Nonces struct {
	key  []byte
	ttl  time.Duration
	now  func() time.Time
	rand io.Reader
}

const (
	nonceRand = 16
	nonceMAC  = 16
	nonceLen  = 8 + nonceRand + nonceMAC // 40 bytes, 54 base64url characters
)

// Errors of Check.
var (
	ErrNonceUnknown = errors.New("nonce was not issued to this device")
	ErrNonceExpired = errors.New("nonce has expired")
)

// NewNonces returns a nonce minter. key must be at least 32 bytes.
func NewNonces(key []byte, ttl time.Duration, now func() time.Time, rand io.Reader) (*Nonces, error) {
	if len(key) < 32 {
		return nil, errors.New("nonce key must be at least 32 bytes")
	}
	if ttl == 0 {
		ttl = DefaultNonceTTL
	}
	if ttl < MinNonceTTL || ttl > MaxNonceTTL {
		return nil, fmt.Errorf("nonce lifetime %v is outside [%v, %v]", ttl, MinNonceTTL, MaxNonceTTL)
	}
	return &Nonces{key: key, ttl: ttl, now: now, rand: rand}, nil
}

// Issue returns a fresh nonce for a device and when it expires.
func (n *Nonces) Issue(deviceID string) (string, time.Time, error) {
	exp := n.now().Add(n.ttl).Truncate(time.Second)
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(exp.Unix()))
	if _, err := io.ReadFull(n.rand, b[8:8+nonceRand]); err != nil {
		return "", time.Time{}, err
	}
	copy(b[8+nonceRand:], n.mac(deviceID, b[:8+nonceRand]))
	return base64.RawURLEncoding.EncodeToString(b[:]), exp, nil
}

// Check verifies that nonce was issued to deviceID and has not expired, and
// returns its expiry.
func (n *Nonces) Check(deviceID, nonce string) (time.Time, error) {
	// Only the spelling Issue made: single use is enforced on the string,
	// and base64 decoders skip CR and LF and ignore the last character's
	// unused bits, which would let one nonce be spelt many ways.
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen || base64.RawURLEncoding.EncodeToString(b) != nonce {
		return time.Time{}, ErrNonceUnknown
	}
	if !hmac.Equal(b[8+nonceRand:], n.mac(deviceID, b[:8+nonceRand])) {
		return time.Time{}, ErrNonceUnknown
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if !n.now().Before(exp) {
		return exp, ErrNonceExpired
	}
	return exp, nil
}

func (n *Nonces) mac(deviceID string, body []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("healthgate nonce v1\x00"))
	m.Write([]byte(deviceID))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:nonceMAC]
}
