// Package intel is Healthgate's threat intelligence: indicator types and
// their lifetimes, Safe-Browsing-style URL canonicalisation and 4-byte hash
// prefixes, and the protective feed (snapshots, deltas, checksums) that the
// server builds and the agent applies. It is shared by both sides, so it
// imports neither the store nor the server.
package intel

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Type is an indicator type.
type Type string

// Indicator types.
const (
	TypeSHA256 Type = "sha256" // SHA-256 of a malicious file (malware)
	TypeURL    Type = "url"    // phishing or fake-merchant URL
	TypeDomain Type = "domain" // phishing or fake-merchant domain (and its subdomains)
	TypeIP     Type = "ip"     // IPv4/IPv6 address or CIDR range (rogue DNS, hijack target)
	TypeCert   Type = "cert"   // SHA-256 fingerprint of a rogue CA certificate (DER)
	TypeTool   Type = "tool"   // process or app name of a remote-control or risky tool
	TypePayee  Type = "payee"  // payee id known for fraud (server side only)
)

// Types lists every indicator type.
var Types = []Type{TypeSHA256, TypeURL, TypeDomain, TypeIP, TypeCert, TypeTool, TypePayee}

// Indicator statuses. Only active indicators are on the feed.
const (
	StatusActive  = "active"
	StatusPending = "pending_review" // suspicious, waiting for an analyst
	StatusRetired = "retired"        // withdrawn by someone, with a reason
	StatusExpired = "expired"        // its lifetime ended without a new sighting
)

// Statuses lists every status.
var Statuses = []string{StatusActive, StatusPending, StatusRetired, StatusExpired}

// Lifetime bounds how long an indicator of a type stays on the feed
// without being seen again. Default 0 means it does not decay.
type Lifetime struct {
	Default, Min, Max time.Duration
}

const day = 24 * time.Hour

// Lifetimes are per type: phishing sites move in days, servers in weeks,
// a malware sample stays malware, and a remote-control tool's name does not
// decay at all.
var Lifetimes = map[Type]Lifetime{
	TypeURL:    {Default: 7 * day, Min: time.Hour, Max: 90 * day},
	TypeDomain: {Default: 7 * day, Min: time.Hour, Max: 90 * day},
	TypeIP:     {Default: 30 * day, Min: time.Hour, Max: 180 * day},
	TypeSHA256: {Default: 365 * day, Min: day, Max: 3 * 365 * day},
	TypeCert:   {Default: 365 * day, Min: day, Max: 3 * 365 * day},
	TypePayee:  {Default: 90 * day, Min: day, Max: 365 * day},
	TypeTool:   {Default: 0, Min: day, Max: 10 * 365 * day},
}

// TTL returns the lifetime for an indicator of type t: the default when ttl
// is 0, otherwise ttl checked against the type's bounds. 0 means no expiry.
func TTL(t Type, ttl time.Duration) (time.Duration, error) {
	lt, ok := Lifetimes[t]
	if !ok {
		return 0, fmt.Errorf("unknown indicator type %q", t)
	}
	if ttl == 0 {
		return lt.Default, nil
	}
	if ttl < lt.Min || ttl > lt.Max {
		return 0, fmt.Errorf("lifetime %v for a %s indicator is outside [%v, %v]", ttl, t, lt.Min, lt.Max)
	}
	return ttl, nil
}

// Decayed returns the confidence of an indicator at now: it falls linearly
// from confidence at lastSeen to 0 at expires. Indicators that do not
// expire keep their confidence.
func Decayed(confidence int, lastSeen, expires, now time.Time) int {
	if expires.IsZero() || !now.After(lastSeen) {
		return confidence
	}
	if !now.Before(expires) {
		return 0
	}
	left := float64(expires.Sub(now)) / float64(expires.Sub(lastSeen))
	return int(math.Ceil(float64(confidence) * left))
}

// Normalized is an indicator value in canonical form and what it puts on the
// feed.
type Normalized struct {
	Value string // canonical value, the indicator's identity with its type
	// Entry is the indicator's feed entry; Kind is empty when the type is
	// not on the agent feed (payee).
	Entry Entry
	// FullHash is the hex SHA-256 of the URL/domain expression whose prefix
	// Entry carries; empty for other types.
	FullHash string
}

const maxValue = 2048

// Normalize checks an indicator value and returns its canonical form:
// lower-case hex for hashes and fingerprints (colons allowed on input),
// the canonical URL for URLs, the canonical host for domains, the
// canonical address or masked CIDR for IPs, the lower-cased name for tools
// and the trimmed id for payees.
func Normalize(t Type, value string) (Normalized, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return Normalized{}, errors.New("empty value")
	}
	if len(value) > maxValue {
		return Normalized{}, fmt.Errorf("value is longer than %d bytes", maxValue)
	}
	switch t {
	case TypeSHA256, TypeCert:
		v := strings.ToLower(strings.ReplaceAll(value, ":", ""))
		if len(v) != 64 || !isHex(v) {
			return Normalized{}, fmt.Errorf("%s must be 64 hex digits (SHA-256)", t)
		}
		kind := KindSHA256
		if t == TypeCert {
			kind = KindCert
		}
		return Normalized{Value: v, Entry: Entry{kind, v}}, nil
	case TypeURL:
		c, err := CanonicalURL(value)
		if err != nil || !(strings.HasPrefix(c, "http://") || strings.HasPrefix(c, "https://")) {
			return Normalized{}, fmt.Errorf("url %q is not an http(s) URL", trim(value))
		}
		expr, err := URLExpression(c)
		if err != nil {
			return Normalized{}, err
		}
		return prefixed(c, expr), nil
	case TypeDomain:
		// A host no browser can have (a space, '*', escaped bytes) would
		// never match: refuse it rather than list what protects nobody.
		expr, err := DomainExpression(value)
		if err != nil || !strings.Contains(expr, ".") || !isHostName(strings.TrimSuffix(expr, "/")) {
			return Normalized{}, fmt.Errorf("domain %q is not a host name (letters, digits, '-', '_' and dots; a domain already covers its subdomains)", trim(value))
		}
		return prefixed(strings.TrimSuffix(expr, "/"), expr), nil
	case TypeIP:
		v, err := canonicalIP(value)
		if err != nil {
			return Normalized{}, err
		}
		return Normalized{Value: v, Entry: Entry{KindIP, v}}, nil
	case TypeTool:
		v := strings.ToLower(value)
		if len(v) < 3 || len(v) > 64 || strings.ContainsAny(v, "/\\\x00\n") {
			return Normalized{}, errors.New("tool must be a process name of 3 to 64 characters without path separators")
		}
		return Normalized{Value: v, Entry: Entry{KindTool, v}}, nil
	case TypePayee:
		if len(value) > 256 {
			return Normalized{}, errors.New("payee id is longer than 256 bytes")
		}
		return Normalized{Value: value}, nil
	}
	return Normalized{}, fmt.Errorf("unknown indicator type %q (want one of %s)", t, joinTypes())
}

func prefixed(value, expr string) Normalized {
	h := FullHash(expr)
	return Normalized{Value: value, Entry: Entry{KindPrefix, hex.EncodeToString(h[:4])}, FullHash: hex.EncodeToString(h[:])}
}

func canonicalIP(v string) (string, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("ip %q is not an address or CIDR range", trim(v))
		}
		p = p.Masked()
		if p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && p.Bits() < 32 {
			return "", fmt.Errorf("ip range %s is too wide", p)
		}
		if p.IsSingleIP() {
			return p.Addr().String(), nil
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("ip %q is not an address or CIDR range", trim(v))
	}
	return a.Unmap().String(), nil
}

func joinTypes() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// isHostName reports whether a canonical host has only the characters of
// DNS names (ASCII after Punycode).
func isHostName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func trim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
