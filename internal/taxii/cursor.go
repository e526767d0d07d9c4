package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// A cursor is the position after the last object of a page, bound to the
// collection and the query it was issued for, and signed so a client can
// neither forge a position nor reuse it for another query.
//
//	version(1) | scope(16) | issued(8) | date_added µs(8) | version µs(8) | id
//	followed by HMAC-SHA256(key, all of the above)[:16], base64url.
const (
	cursorVersion = 1
	cursorMaxAge  = 24 * time.Hour
	cursorMaxLen  = 512
	cursorMACLen  = 16
)

var errBadCursor = errors.New("next is not a cursor this server issued for this query")

// cursorScope binds a cursor to a collection and a query.
func cursorScope(collection, query string) []byte {
	h := sha256.Sum256([]byte(collection + "\x00" + query))
	return h[:16]
}

func encodeCursor(key []byte, scope []byte, now time.Time, c store.TAXIICursor) string {
	b := make([]byte, 0, 1+16+24+len(c.ID)+cursorMACLen)
	b = append(b, cursorVersion)
	b = append(b, scope...)
	b = binary.BigEndian.AppendUint64(b, uint64(now.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.DateAdded.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Version.UnixMicro()))
	b = append(b, c.ID...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	b = append(b, m.Sum(nil)[:cursorMACLen]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(key []byte, scope []byte, now time.Time, s string) (store.TAXIICursor, error) {
	if len(s) > cursorMaxLen {
		return store.TAXIICursor{}, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+16+24+cursorMACLen {
		return store.TAXIICursor{}, errBadCursor
	}
	body, mac := b[:len(b)-cursorMACLen], b[len(b)-cursorMACLen:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)[:cursorMACLen]) || body[0] != cursorVersion || !hmac.Equal(body[1:17], scope) {
		return store.TAXIICursor{}, errBadCursor
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[17:25])), 0)
	if now.Sub(issued) > cursorMaxAge || issued.After(now.Add(time.Minute)) {
		return store.TAXIICursor{}, errors.New("next has expired: start again without it")
	}
	return store.TAXIICursor{
		DateAdded: time.UnixMicro(int64(binary.BigEndian.Uint64(body[25:33]))).UTC(),
		Version:   time.UnixMicro(int64(binary.BigEndian.Uint64(body[33:41]))).UTC(),
		ID:        string(body[41:]),
	}, nil
}
