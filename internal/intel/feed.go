package intel

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// Kind is the kind of a feed entry.
type Kind string

// Feed entry kinds, in checksum order. URLs and domains travel only as
// 4-byte SHA-256 prefixes of their Safe Browsing expressions: the agent
// confirms a prefix hit by asking for the full hashes of that prefix, so
// the server never learns which page was visited unless it is (probably)
// listed. File hashes, certificate fingerprints, IPs and tool names travel
// in full: they say nothing about what the user browses.
const (
	KindPrefix Kind = "prefix" // 8 lower-case hex digits
	KindSHA256 Kind = "sha256" // 64 lower-case hex digits
	KindCert   Kind = "cert"   // 64 lower-case hex digits
	KindIP     Kind = "ip"     // address or CIDR range, canonical text
	KindTool   Kind = "tool"   // lower-case process name
)

// Kinds lists the entry kinds in checksum order.
var Kinds = []Kind{KindPrefix, KindSHA256, KindCert, KindIP, KindTool}

// Entry is one feed entry in its wire text form.
type Entry struct {
	Kind  Kind
	Value string
}

// Limits of the feed.
const (
	// MaxEntries bounds a feed (and so what an agent holds in memory):
	// 10 million prefixes take 40 MB.
	MaxEntries = 20_000_000
	// MaxFullHashPrefixes bounds one full-hash request.
	MaxFullHashPrefixes = 64
)

// Set is the feed's entry set, kept sorted so lookups are binary searches
// and a 4-byte prefix costs 4 bytes.
type Set struct {
	Prefixes []uint32
	SHA256   [][32]byte
	Cert     [][32]byte
	IP       []string
	Tool     []string
	// nets holds the CIDR ranges of IP, parsed, for matching.
	nets []netip.Prefix
	// index[h] is the position in Prefixes of the first prefix whose top 16
	// bits are >= h (65,537 entries, 256 KiB): a lookup binary-searches
	// only the ~150 prefixes of its bucket at 10 million, one or two cache
	// misses instead of two dozen.
	index []uint32
}

func (s *Set) buildIndex() {
	if len(s.Prefixes) < 1<<12 {
		s.index = nil
		return
	}
	idx := make([]uint32, 1<<16+1)
	j := 0
	for h := 0; h <= 1<<16; h++ {
		for j < len(s.Prefixes) && int(s.Prefixes[j]>>16) < h {
			j++
		}
		idx[h] = uint32(j)
	}
	s.index = idx
}

// Len returns the number of entries.
func (s *Set) Len() int {
	return len(s.Prefixes) + len(s.SHA256) + len(s.Cert) + len(s.IP) + len(s.Tool)
}

// HasPrefix reports whether p is on the feed.
func (s *Set) HasPrefix(p uint32) bool {
	list := s.Prefixes
	if s.index != nil {
		list = list[s.index[p>>16]:s.index[p>>16+1]]
	}
	_, ok := slices.BinarySearch(list, p)
	return ok
}

// HasSHA256 reports whether a file hash (hex) is on the feed.
func (s *Set) HasSHA256(h string) bool { return hasHash(s.SHA256, h) }

// HasCert reports whether a certificate fingerprint (hex) is on the feed.
func (s *Set) HasCert(h string) bool { return hasHash(s.Cert, h) }

func hasHash(list [][32]byte, h string) bool {
	var k [32]byte
	if len(h) != 64 {
		return false
	}
	if _, err := hex.Decode(k[:], []byte(strings.ToLower(h))); err != nil {
		return false
	}
	_, ok := slices.BinarySearchFunc(list, k, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return ok
}

// MatchIP reports whether an address is on the feed, itself or in a range.
func (s *Set) MatchIP(addr string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	if _, ok := slices.BinarySearch(s.IP, a.String()); ok {
		return true
	}
	for _, n := range s.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// MatchTool returns the listed tool a process name runs (evidence.RunsTool),
// if any.
func (s *Set) MatchTool(process string) (string, bool) {
	for _, t := range s.Tool {
		if evidence.RunsTool(process, t) {
			return t, true
		}
	}
	return "", false
}

// Checksum is the hex SHA-256 of the set in its canonical form: for each
// kind in Kinds order, each value in ascending order, the line
// "kind:value\n". Server and agent compute it independently.
func (s *Set) Checksum() string {
	h := sha256.New()
	buf := make([]byte, 0, 64<<10)
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	line := func(kind Kind, v []byte) {
		if len(buf) > 60<<10 {
			flush()
		}
		buf = append(buf, kind...)
		buf = append(buf, ':')
		buf = append(buf, v...)
		buf = append(buf, '\n')
	}
	var tmp [64]byte
	var p [4]byte
	for _, v := range s.Prefixes {
		binary.BigEndian.PutUint32(p[:], v)
		hex.Encode(tmp[:8], p[:])
		line(KindPrefix, tmp[:8])
	}
	for _, v := range s.SHA256 {
		hex.Encode(tmp[:], v[:])
		line(KindSHA256, tmp[:])
	}
	for _, v := range s.Cert {
		hex.Encode(tmp[:], v[:])
		line(KindCert, tmp[:])
	}
	for _, v := range s.IP {
		line(KindIP, []byte(v))
	}
	for _, v := range s.Tool {
		line(KindTool, []byte(v))
	}
	flush()
	return hex.EncodeToString(h.Sum(nil))
}

// Entries returns the whole set as wire entries (a snapshot's "add").
func (s *Set) Entries() Entries {
	e := Entries{Prefixes: Prefixes(s.Prefixes), IP: s.IP, Tool: s.Tool}
	e.SHA256 = hexList(s.SHA256)
	e.Cert = hexList(s.Cert)
	return e
}

func hexList(l [][32]byte) []string {
	if len(l) == 0 {
		return nil
	}
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = hex.EncodeToString(v[:])
	}
	return out
}

// NewSet builds a set from entries (duplicates are merged). It fails on a
// malformed entry or more than MaxEntries.
func NewSet(entries []Entry) (*Set, error) {
	var e Entries
	for _, en := range entries {
		switch en.Kind {
		case KindPrefix:
			v, err := parsePrefix(en.Value)
			if err != nil {
				return nil, err
			}
			e.Prefixes = append(e.Prefixes, v)
		case KindSHA256:
			e.SHA256 = append(e.SHA256, en.Value)
		case KindCert:
			e.Cert = append(e.Cert, en.Value)
		case KindIP:
			e.IP = append(e.IP, en.Value)
		case KindTool:
			e.Tool = append(e.Tool, en.Value)
		default:
			return nil, fmt.Errorf("unknown feed entry kind %q", en.Kind)
		}
	}
	s := &Set{}
	if err := s.Apply(Entries{}, e); err != nil {
		return nil, err
	}
	return s, nil
}

// Apply removes and then adds entries. Both are idempotent: removing an
// absent entry or adding a present one changes nothing. On error the set
// is unchanged.
func (s *Set) Apply(remove, add Entries) error {
	if err := remove.validate(); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	if err := add.validate(); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	rs, as := remove.hashes(), add.hashes()
	next := Set{
		Prefixes: merge(s.Prefixes, sortedUnique(slices.Clone([]uint32(remove.Prefixes)), cmp.Compare[uint32]), sortedUnique(slices.Clone([]uint32(add.Prefixes)), cmp.Compare[uint32]), cmp.Compare[uint32]),
		SHA256:   merge(s.SHA256, rs[0], as[0], cmpHash),
		Cert:     merge(s.Cert, rs[1], as[1], cmpHash),
		IP:       merge(s.IP, sortedUnique(slices.Clone(remove.IP), strings.Compare), sortedUnique(slices.Clone(add.IP), strings.Compare), strings.Compare),
		Tool:     merge(s.Tool, sortedUnique(slices.Clone(remove.Tool), strings.Compare), sortedUnique(slices.Clone(add.Tool), strings.Compare), strings.Compare),
	}
	if next.Len() > MaxEntries {
		return fmt.Errorf("feed would hold more than %d entries", MaxEntries)
	}
	next.buildIndex()
	for _, v := range next.IP {
		if strings.Contains(v, "/") {
			next.nets = append(next.nets, netip.MustParsePrefix(v))
		}
	}
	*s = next
	return nil
}

func cmpHash(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }

func sortedUnique[T any](s []T, c func(a, b T) int) []T {
	slices.SortFunc(s, c)
	return slices.CompactFunc(s, func(a, b T) bool { return c(a, b) == 0 })
}

// merge returns (cur − rem) ∪ add; all three are sorted and unique.
func merge[T any](cur, rem, add []T, c func(a, b T) int) []T {
	if len(rem) == 0 && len(add) == 0 {
		return cur
	}
	out := make([]T, 0, len(cur)+len(add))
	i, j, k := 0, 0, 0
	for i < len(cur) || k < len(add) {
		// Next candidate: the smaller of cur[i] and add[k].
		var v T
		fromAdd := false
		switch {
		case i >= len(cur):
			v, fromAdd = add[k], true
		case k >= len(add):
			v = cur[i]
		default:
			switch d := c(cur[i], add[k]); {
			case d < 0:
				v = cur[i]
			case d > 0:
				v, fromAdd = add[k], true
			default:
				v = cur[i]
				i++ // the same value in both: take it once
				fromAdd = true
			}
		}
		if fromAdd {
			k++
			out = append(out, v)
			continue
		}
		i++
		for j < len(rem) && c(rem[j], v) < 0 {
			j++
		}
		if j < len(rem) && c(rem[j], v) == 0 {
			continue
		}
		out = append(out, v)
	}
	return out
}

// Prefixes are 4-byte hash prefixes. In JSON they are one base64 string of
// the big-endian prefixes concatenated (4 bytes each), as Safe Browsing
// sends raw hashes: 10 million prefixes are 53 MB of text, not 110 MB.
type Prefixes []uint32

// MarshalJSON implements json.Marshaler.
func (p Prefixes) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 4*len(p))
	for i, v := range p {
		binary.BigEndian.PutUint32(raw[4*i:], v)
	}
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(raw))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Prefixes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("prefixes must be a base64 string")
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw)%4 != 0 {
		return errors.New("prefixes must be base64 of 4-byte values")
	}
	out := make([]uint32, len(raw)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	*p = out
	return nil
}

// Entries are feed entries by kind, as they travel.
type Entries struct {
	Prefixes Prefixes `json:"prefixes,omitempty"`
	SHA256   []string `json:"sha256,omitempty"`
	Cert     []string `json:"cert,omitempty"`
	IP       []string `json:"ip,omitempty"`
	Tool     []string `json:"tool,omitempty"`
}

// Len is the number of entries.
func (e Entries) Len() int {
	return len(e.Prefixes) + len(e.SHA256) + len(e.Cert) + len(e.IP) + len(e.Tool)
}

// Add appends one entry.
func (e *Entries) Add(en Entry) error {
	switch en.Kind {
	case KindPrefix:
		v, err := parsePrefix(en.Value)
		if err != nil {
			return err
		}
		e.Prefixes = append(e.Prefixes, v)
	case KindSHA256:
		e.SHA256 = append(e.SHA256, en.Value)
	case KindCert:
		e.Cert = append(e.Cert, en.Value)
	case KindIP:
		e.IP = append(e.IP, en.Value)
	case KindTool:
		e.Tool = append(e.Tool, en.Value)
	default:
		return fmt.Errorf("unknown feed entry kind %q", en.Kind)
	}
	return nil
}

func (e Entries) validate() error {
	if e.Len() > MaxEntries {
		return fmt.Errorf("more than %d entries", MaxEntries)
	}
	for _, v := range append(slices.Clip(e.SHA256), e.Cert...) {
		if len(v) != 64 || !isLowerHex(v) {
			return fmt.Errorf("hash %q is not 64 lower-case hex digits", trim(v))
		}
	}
	for _, v := range e.IP {
		if c, err := canonicalIP(v); err != nil || c != v {
			return fmt.Errorf("ip %q is not canonical", trim(v))
		}
	}
	for _, v := range e.Tool {
		if n, err := Normalize(TypeTool, v); err != nil || n.Value != v {
			return fmt.Errorf("tool %q is not canonical", trim(v))
		}
	}
	return nil
}

// hashes returns the SHA256 and Cert lists decoded, sorted and unique.
// Call after validate.
func (e Entries) hashes() [2][][32]byte {
	var out [2][][32]byte
	for i, l := range [][]string{e.SHA256, e.Cert} {
		hs := make([][32]byte, len(l))
		for j, v := range l {
			hex.Decode(hs[j][:], []byte(v))
		}
		out[i] = sortedUnique(hs, cmpHash)
	}
	return out
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func parsePrefix(s string) (uint32, error) {
	if len(s) != 8 || !isLowerHex(s) {
		return 0, fmt.Errorf("prefix %q is not 8 lower-case hex digits", trim(s))
	}
	v, err := strconv.ParseUint(s, 16, 32)
	return uint32(v), err
}

// ParsePrefix parses a prefix in its text form: 8 lower-case hex digits.
func ParsePrefix(s string) (uint32, error) { return parsePrefix(s) }

// FormatPrefix is the text form of a prefix.
func FormatPrefix(p uint32) string { return fmt.Sprintf("%08x", p) }

// Feed is the answer of GET /v1/feed: a snapshot (Since 0, Add is the
// whole set) or a delta since a version the agent holds. Checksum is the
// checksum of the whole set at Version, which the agent checks after
// applying the delta.
type Feed struct {
	Version  int64   `json:"version"`
	Since    int64   `json:"since"`
	Snapshot bool    `json:"snapshot"`
	Checksum string  `json:"checksum"`
	Add      Entries `json:"add"`
	Remove   Entries `json:"remove"`
	// MinWaitSeconds asks the agent not to ask again before that long.
	MinWaitSeconds int `json:"min_wait_seconds,omitempty"`
}

// FullHashRequest is the body of POST /v1/feed/full-hashes.
type FullHashRequest struct {
	Prefixes []string `json:"prefixes"`
}

// FullHashResponse answers it: the full hashes listed under each prefix
// asked for (prefixes with none are left out).
type FullHashResponse struct {
	Matches      []FullHashMatch `json:"matches"`
	CacheSeconds int             `json:"cache_seconds"`
}

// FullHashMatch is the full hashes under one prefix.
type FullHashMatch struct {
	Prefix     string   `json:"prefix"`
	FullHashes []string `json:"full_hashes"`
}
