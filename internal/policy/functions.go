package policy

import (
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/healthgate/healthgate/evidence"
)

// stringSet is the CEL value of a named list (lists.NAME). It behaves as an
// ordinary list(string) but answers `x in lists.NAME` with a map lookup, and
// keeps the entries pre-parsed for inDomains and inNetworks.
type stringSet struct {
	traits.Lister
	items   []string
	set     map[string]struct{}
	domains map[string]struct{} // lower case, without a trailing dot
	nets    []netip.Prefix      // entries that parse as an address or a CIDR
	// bigrams indexes the entries by their first two bytes so that
	// anyContainedIn tests each position of a string once instead of
	// searching for every entry.
	bigrams map[uint16][]string
	seen    *[1 << 10]uint64 // bit k set when bigrams has key k
	short   []string         // entries shorter than two bytes
}

func newStringSet(items []string) *stringSet {
	s := &stringSet{
		Lister:  types.NewStringList(types.DefaultTypeAdapter, items),
		items:   items,
		set:     make(map[string]struct{}, len(items)),
		domains: make(map[string]struct{}, len(items)),
	}
	for _, it := range items {
		s.set[it] = struct{}{}
		s.domains[normalizeHost(it)] = struct{}{}
		if p, ok := parsePrefix(it); ok {
			s.nets = append(s.nets, p)
		}
		if len(it) < 2 {
			s.short = append(s.short, it)
			continue
		}
		if s.bigrams == nil {
			s.bigrams = map[uint16][]string{}
			s.seen = new([1 << 10]uint64)
		}
		k := bigram(it, 0)
		s.bigrams[k] = append(s.bigrams[k], it)
		s.seen[k>>6] |= 1 << (k & 63)
	}
	return s
}

// Contains overrides the linear search of the embedded list.
func (s *stringSet) Contains(v ref.Val) ref.Val {
	str, ok := v.(types.String)
	if !ok {
		return s.Lister.Contains(v)
	}
	_, found := s.set[string(str)]
	return types.Bool(found)
}

// setOf returns the argument as a stringSet, building one for a list that is
// not a named list (a literal in a condition).
func setOf(v ref.Val) (*stringSet, bool) {
	if s, ok := v.(*stringSet); ok {
		return s, true
	}
	l, ok := v.(traits.Lister)
	if !ok {
		return nil, false
	}
	var items []string
	for it := l.Iterator(); it.HasNext() == types.True; {
		str, ok := it.Next().(types.String)
		if !ok {
			return nil, false
		}
		items = append(items, string(str))
	}
	return newStringSet(items), true
}

// functions are the Healthgate additions to CEL. Each is documented in
// docs/POLICY.md; all are pure and cheap.
func functions() []cel.EnvOption {
	processList := cel.ListType(cel.ObjectType("evidence.Process"))
	hostList := cel.ListType(cel.ObjectType("evidence.HostEntry"))
	return []cel.EnvOption{
		listFunction("inDomains", "string_in_domains_list", cel.StringType, func(v ref.Val, set *stringSet) (bool, bool) {
			h, ok := v.(types.String)
			return ok && set.matchDomain(string(h)), ok
		}),
		listFunction("containsAny", "string_contains_any_list", cel.StringType, func(v ref.Val, set *stringSet) (bool, bool) {
			s, ok := v.(types.String)
			return ok && set.anyContainedIn(string(s)), ok
		}),
		listFunction("inNetworks", "string_in_networks_list", cel.StringType, func(v ref.Val, set *stringSet) (bool, bool) {
			a, ok := v.(types.String)
			if !ok {
				return false, false
			}
			ip, ok := parseAddr(string(a))
			if !ok {
				return false, true
			}
			for _, p := range set.nets {
				if p.Contains(ip) {
					return true, true
				}
			}
			return false, true
		}),
		listFunction("anyNameContains", "processes_any_name_contains_list", processList, func(v ref.Val, set *stringSet) (bool, bool) {
			ps, ok := nativeSlice[evidence.Process](v)
			return ok && slices.ContainsFunc(ps, func(p evidence.Process) bool { return set.anyContainedIn(lowerASCII(p.Name)) }), ok
		}),
		listFunction("anyNameRunsTool", "processes_any_name_runs_tool_list", processList, func(v ref.Val, set *stringSet) (bool, bool) {
			ps, ok := nativeSlice[evidence.Process](v)
			return ok && slices.ContainsFunc(ps, func(p evidence.Process) bool { return set.anyToolIn(lowerASCII(p.Name)) }), ok
		}),
		listFunction("anyHashIn", "processes_any_hash_in_list", processList, func(v ref.Val, set *stringSet) (bool, bool) {
			ps, ok := nativeSlice[evidence.Process](v)
			return ok && slices.ContainsFunc(ps, func(p evidence.Process) bool {
				_, found := set.set[p.SHA256]
				return found && p.SHA256 != ""
			}), ok
		}),
		listFunction("anyHostInDomains", "hosts_any_host_in_domains_list", hostList, func(v ref.Val, set *stringSet) (bool, bool) {
			es, ok := nativeSlice[evidence.HostEntry](v)
			return ok && slices.ContainsFunc(es, func(e evidence.HostEntry) bool { return set.matchDomain(e.Host) }), ok
		}),
		cel.Function("isLoopback",
			cel.MemberOverload("string_is_loopback", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					s, ok := v.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(v)
					}
					return types.Bool(isLoopback(string(s)))
				}))),
	}
}

// listFunction declares a member function v.name(list(string)) → bool whose
// list argument is one of the policy's named lists, looked up as a set.
// match returns the answer and whether v had the declared type.
func listFunction(name, overload string, recv *cel.Type, match func(v ref.Val, set *stringSet) (bool, bool)) cel.EnvOption {
	return cel.Function(name,
		cel.MemberOverload(overload, []*cel.Type{recv, cel.ListType(cel.StringType)}, cel.BoolType,
			cel.BinaryBinding(func(v, list ref.Val) ref.Val {
				set, ok := setOf(list)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				res, ok := match(v, set)
				if !ok {
					return types.MaybeNoSuchOverloadErr(v)
				}
				return types.Bool(res)
			})))
}

// anyContainedIn reports whether s contains any entry of the set.
func (s *stringSet) anyContainedIn(str string) bool {
	for _, sub := range s.short {
		if strings.Contains(str, sub) {
			return true
		}
	}
	if len(s.bigrams) == 0 {
		return false
	}
	for i := 0; i+1 < len(str); i++ {
		k := bigram(str, i)
		if s.seen[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, sub := range s.bigrams[k] {
			if strings.HasPrefix(str[i:], sub) {
				return true
			}
		}
	}
	return false
}

// anyToolIn reports whether a lower-cased program name runs any entry of
// the set, as evidence.RunsTool decides: an entry starting a word of it.
// It looks entries up by their first two bytes, like anyContainedIn.
func (s *stringSet) anyToolIn(name string) bool {
	for i := range len(name) {
		if !evidence.WordStart(name, i) {
			continue
		}
		for _, sub := range s.short {
			if sub != "" && strings.HasPrefix(name[i:], sub) {
				return true
			}
		}
		if i+1 >= len(name) || len(s.bigrams) == 0 {
			continue
		}
		k := bigram(name, i)
		if s.seen[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, sub := range s.bigrams[k] {
			if strings.HasPrefix(name[i:], sub) {
				return true
			}
		}
	}
	return false
}

func bigram(s string, i int) uint16 { return uint16(s[i])<<8 | uint16(s[i+1]) }

// nativeSlice returns the Go slice behind a CEL list of native objects.
func nativeSlice[T any](v ref.Val) ([]T, bool) {
	if s, ok := v.Value().([]T); ok {
		return s, true
	}
	s, err := v.ConvertToNative(reflect.TypeFor[[]T]())
	if err != nil {
		return nil, false
	}
	out, ok := s.([]T)
	return out, ok
}

// lowerASCII lower-cases ASCII letters, allocating only when needed.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// matchDomain reports whether host equals a listed domain or is a subdomain
// of one, ignoring case and a trailing dot.
func (s *stringSet) matchDomain(host string) bool {
	h := normalizeHost(host)
	for h != "" {
		if _, ok := s.domains[h]; ok {
			return true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return false
		}
		h = h[i+1:]
	}
	return false
}

func normalizeHost(h string) string {
	return lowerASCII(strings.TrimSuffix(h, "."))
}

// parsePrefix reads a list entry as a network: a CIDR, or one address.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// parseAddr reads a resolver address as the agent reports it: an address,
// possibly with a zone ("fe80::1%eth0") or a port ("1.2.3.4:53", "[::1]:53").
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// isLoopback reports whether a proxy setting points at this device: a URL,
// host:port or bare host whose host is localhost (or a name under
// .localhost) or a loopback address. Anything else, including an empty
// string, a file: URL and an unparsable value, is not loopback.
func isLoopback(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	if a, ok := parseAddr(s); ok {
		return a.IsLoopback()
	}
	host := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		host = u.Hostname()
	} else if h, err := splitHost(s); err == nil {
		host = h
	}
	host = normalizeHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, ok := parseAddr(host)
	return ok && a.IsLoopback()
}

// splitHost strips a port and brackets from "host:port" or "[v6]:port" and
// an optional path ("127.0.0.1:8080/proxy.pac").
func splitHost(s string) (string, error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	u, err := url.Parse("//" + s)
	if err != nil {
		return "", err
	}
	return u.Hostname(), nil
}
