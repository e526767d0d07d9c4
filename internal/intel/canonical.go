package intel

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxURLLen bounds the URLs CanonicalURL accepts, so a hostile page cannot
// make the agent hash megabytes.
const maxURLLen = 8 << 10

// ErrBadURL is returned for URLs that cannot be canonicalised.
var ErrBadURL = errors.New("not a URL that can be canonicalised")

// CanonicalURL canonicalises a URL the way the Google Safe Browsing v4
// "URLs and Hashing" method does, so that every spelling of one address
// hashes the same:
//
//   - tab, CR and LF are removed, leading and trailing spaces trimmed, the
//     fragment dropped, and "http://" assumed when there is no scheme;
//   - as browsers do, "http:" and "https:" may be followed by fewer than two
//     slashes or by backslashes, and a backslash before the query is a
//     slash (so it ends the host);
//   - host, path and query are percent-unescaped repeatedly until no escape
//     is left;
//   - the host loses user info, port and leading/trailing dots (ASCII or
//     ideographic), runs of dots become one, it is lower-cased, an
//     internationalised label becomes its Punycode ("xn--") form, a host
//     that parses as an IPv4 address in any inet_aton spelling (decimal,
//     octal, hex, 1 to 4 parts) becomes dotted decimal, and a bracketed
//     IPv6 address takes its RFC 5952 spelling (anything else in brackets
//     is an error);
//   - "/./" and "/../" are resolved and runs of slashes collapsed in the
//     path (not in the query), an empty path becomes "/";
//   - finally every byte <= 0x20, >= 0x7f, '#' and '%' is escaped as %XX.
//
// The result is scheme://host/path[?query].
func CanonicalURL(raw string) (string, error) {
	scheme, host, path, query, hasQuery, err := canonicalParts(raw)
	if err != nil {
		return "", err
	}
	s := scheme + "://" + host + path
	if hasQuery {
		s += "?" + query
	}
	return s, nil
}

func canonicalParts(raw string) (scheme, host, path, query string, hasQuery bool, err error) {
	if len(raw) > maxURLLen {
		return "", "", "", "", false, ErrBadURL
	}
	if strings.ContainsAny(raw, "\t\r\n") {
		b := make([]byte, 0, len(raw))
		for i := 0; i < len(raw); i++ {
			if c := raw[i]; c != '\t' && c != '\r' && c != '\n' {
				b = append(b, c)
			}
		}
		raw = string(b)
	}
	raw = strings.Trim(raw, " ")
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	scheme = "http"
	if i := strings.Index(raw, "://"); i > 0 && isScheme(raw[:i]) {
		scheme, raw = lowerASCII(raw[:i]), raw[i+3:]
	} else if s, rest, ok := strings.Cut(raw, ":"); ok && (lowerASCII(s) == "http" || lowerASCII(s) == "https") {
		// "http:/host", "https:host", "http:\\\\host": what browsers read
		// as http(s)://host.
		scheme, raw = lowerASCII(s), rest
		for n := 0; n < 2 && raw != "" && (raw[0] == '/' || raw[0] == '\\'); n++ {
			raw = raw[1:]
		}
	}
	if q := strings.IndexByte(raw, '?'); q >= 0 {
		raw = strings.ReplaceAll(raw[:q], "\\", "/") + raw[q:]
	} else {
		raw = strings.ReplaceAll(raw, "\\", "/")
	}
	hostEnd := strings.IndexAny(raw, "/?")
	if hostEnd < 0 {
		hostEnd = len(raw)
	}
	host, rest := raw[:hostEnd], raw[hostEnd:]
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.Trim(host[i+1:], "0123456789") == "" &&
		(!strings.HasPrefix(host, "[") || strings.HasSuffix(host[:i], "]")) {
		host = host[:i] // the port, whatever it is
	}
	host = canonicalHost(unescapeAll(host))
	if host == "" || strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "", "", "", "", false, ErrBadURL
	}
	if strings.HasPrefix(host, "[") {
		inner, ok := strings.CutSuffix(host[1:], "]")
		a, err := netip.ParseAddr(inner)
		if !ok || err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", "", "", false, ErrBadURL
		}
		host = "[" + a.String() + "]"
	}
	path = rest
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		path, query, hasQuery = rest[:i], rest[i+1:], true
	}
	path = canonicalPath(unescapeAll(path))
	if hasQuery {
		query = escape(unescapeAll(query))
	}
	// A host that unescaped to '/', '?', '@' or '\\' keeps them escaped, or
	// they would end it early when the result is read again; so does a
	// backslash in the path, which would become a slash.
	host = strings.NewReplacer("/", "%2F", "?", "%3F", "@", "%40", "\\", "%5C").Replace(escape(host))
	path = strings.ReplaceAll(escape(path), "\\", "%5C")
	if len(scheme)+3+len(host)+len(path)+1+len(query) > maxURLLen {
		return "", "", "", "", false, ErrBadURL // escaping made it too long
	}
	return scheme, host, path, query, hasQuery, nil
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// unescapeAll percent-unescapes until no valid escape is left. Each round
// shortens the string, so it ends.
func unescapeAll(s string) string {
	for {
		u, changed := unescapeOnce(s)
		if !changed {
			return u
		}
		s = u
	}
}

func unescapeOnce(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	changed := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			changed = true
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), changed
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// escape percent-escapes bytes <= 0x20, >= 0x7f, '#' and '%'.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '#' || c == '%' {
			if b.Len() == 0 && i > 0 {
				b.WriteString(s[:i])
			}
			b.Grow(len(s) - i + 2)
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}

// ideographicDots are the full stops IDNA reads as '.'.
var ideographicDots = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".")

func canonicalHost(h string) string {
	h = strings.Trim(ideographicDots.Replace(h), ".")
	for strings.Contains(h, "..") {
		h = strings.ReplaceAll(h, "..", ".")
	}
	h = lowerASCII(h)
	if !strings.HasPrefix(h, "[") {
		h = asciiHost(h)
	}
	if ip, ok := parseInetAton(h); ok {
		return ip
	}
	return h
}

// asciiHost turns each internationalised label of a host into its ASCII
// ("xn--") form as browsers do: IDNA's UTS #46 mapping for lookup
// (full-width letters and digits to ASCII, lower case, NFC, …), then
// Punycode. A label IDNA refuses, or that is not valid UTF-8, is left
// alone; escaping keeps it as bytes.
func asciiHost(h string) string {
	labels := strings.Split(h, ".")
	changed := false
	for i, l := range labels {
		if isASCII(l) || !utf8.ValidString(l) {
			continue
		}
		if a, err := idna.Lookup.ToASCII(l); err == nil && a != "" && !strings.Contains(a, ".") {
			labels[i], changed = a, true
		}
	}
	if !changed {
		return h
	}
	return strings.Join(labels, ".")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// parseInetAton parses an IPv4 address the way inet_aton does: one to four
// dot-separated parts, each decimal, octal (leading 0) or hex (0x); the last
// part fills the remaining bytes.
func parseInetAton(h string) (string, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 || h == "" {
		return "", false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return "", false
		}
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return "", false
		}
		vals[i] = v
	}
	var addr uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return "", false
		}
		addr |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return "", false
	}
	addr |= last
	return strconv.Itoa(int(addr>>24)) + "." + strconv.Itoa(int(addr>>16&255)) + "." +
		strconv.Itoa(int(addr>>8&255)) + "." + strconv.Itoa(int(addr&255)), true
}

// canonicalPath resolves "." and ".." segments and collapses runs of
// slashes. The result starts with "/"; a trailing slash or a final "." or
// ".." segment leaves a trailing slash.
func canonicalPath(p string) string {
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "":
			trailing = last
			continue
		case ".":
			trailing = last
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
			continue
		}
		out = append(out, s)
		trailing = false
	}
	if len(out) == 0 {
		return "/"
	}
	r := "/" + strings.Join(out, "/")
	if trailing {
		r += "/"
	}
	return r
}

// Expressions returns the host-suffix/path-prefix expressions of a URL that
// Safe Browsing looks up, most specific first: the exact host and up to four
// suffixes made from its last five components (never the bare top-level
// domain; only the exact address for an IP), times the exact path with its
// query, the path without the query, and up to four path prefixes from the
// root. At most 30 expressions, no duplicates.
func Expressions(raw string) ([]string, error) {
	_, host, path, query, hasQuery, err := canonicalParts(raw)
	if err != nil {
		return nil, err
	}
	return expressions(host, path, query, hasQuery), nil
}

func expressions(host, path, query string, hasQuery bool) []string {
	hosts := []string{host}
	if _, isIP := parseInetAton(host); !isIP && !strings.HasPrefix(host, "[") {
		comps := strings.Split(host, ".")
		if len(comps) > 5 {
			comps = comps[len(comps)-5:]
		}
		for i := 0; i < len(comps)-1 && len(hosts) < 5; i++ {
			h := strings.Join(comps[i:], ".")
			if h != host {
				hosts = append(hosts, h)
			}
		}
	}
	var paths []string
	if hasQuery {
		paths = append(paths, path+"?"+query)
	}
	paths = append(paths, path)
	// Prefixes from the root: "/", "/a/", "/a/b/", "/a/b/c/".
	prefix := "/"
	comps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := 0; i < 4; i++ {
		if prefix != path {
			paths = append(paths, prefix)
		}
		if i >= len(comps)-1 {
			break
		}
		prefix += comps[i] + "/"
	}
	out := make([]string, 0, len(hosts)*len(paths))
	seen := make(map[string]bool, cap(out))
	for _, h := range hosts {
		for _, p := range paths {
			e := h + p
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// URLExpression is the single expression a URL indicator is listed under:
// its canonical host, path and query without the scheme. Listing
// "evil.example/login/" matches every URL under that path.
func URLExpression(raw string) (string, error) {
	_, host, path, query, hasQuery, err := canonicalParts(raw)
	if err != nil {
		return "", err
	}
	if hasQuery {
		return host + path + "?" + query, nil
	}
	return host + path, nil
}

// DomainExpression is the expression a domain indicator is listed under:
// "host/", which every URL on the host and its subdomains generates.
func DomainExpression(domain string) (string, error) {
	_, host, _, _, _, err := canonicalParts("http://" + strings.TrimSpace(domain) + "/")
	if err != nil || strings.ContainsAny(domain, "/\\?#@") {
		return "", ErrBadURL
	}
	return host + "/", nil
}

// FullHash is the SHA-256 of an expression.
func FullHash(expr string) [32]byte { return sha256.Sum256([]byte(expr)) }

// HashPrefix is the first four bytes of an expression's SHA-256 as a
// big-endian integer: what the feed carries for URLs and domains.
func HashPrefix(expr string) uint32 {
	h := FullHash(expr)
	return binary.BigEndian.Uint32(h[:4])
}

// lowerASCII lower-cases ASCII letters only and leaves every other byte
// alone (strings.ToLower would replace invalid UTF-8).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
