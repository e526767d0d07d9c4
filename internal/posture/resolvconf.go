package posture

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// maxDNSServers is the number of resolvers a report carries.
const maxDNSServers = 32

// resolvedStub is systemd-resolved's local stub resolver. When resolv.conf
// names it, the real upstream resolvers are in
// /run/systemd/resolve/resolv.conf.
var resolvedStub = netip.MustParseAddr("127.0.0.53")

// parseResolvConf returns the addresses of the nameserver lines of a
// resolv.conf in file order, without duplicates, at most maxDNSServers.
// IPv4 addresses may take any form glibc's resolver accepts (inet_aton:
// "0x55.0xff.0x70.1", "1442803713"); they are reported as dotted quads.
func parseResolvConf(data []byte) []string {
	servers := []string{}
	seen := make(map[string]bool)
	for len(data) > 0 && len(servers) < maxDNSServers {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		fields := strings.Fields(string(line))
		if len(fields) < 2 || fields[0] != "nameserver" || len(fields[1]) > 64 {
			continue
		}
		addr, err := netip.ParseAddr(fields[1])
		if err != nil {
			var ok bool
			if addr, ok = parseInetAton(fields[1]); !ok {
				continue
			}
		}
		s := addr.String()
		if !seen[s] {
			seen[s] = true
			servers = append(servers, s)
		}
	}
	return servers
}

// replaceStub returns servers with systemd-resolved's stub replaced by the
// upstream resolvers, without duplicates, at most maxDNSServers.
func replaceStub(servers []string, stub string, upstream []string) []string {
	out := []string{}
	seen := make(map[string]bool)
	add := func(s string) {
		if !seen[s] && len(out) < maxDNSServers {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range servers {
		if s != stub {
			add(s)
			continue
		}
		for _, u := range upstream {
			add(u)
		}
	}
	return out
}

// parseInetAton reads an IPv4 address as inet_aton does, which is how
// glibc reads resolv.conf's nameserver lines: one to four parts separated
// by '.', each decimal, octal (a leading 0) or hex (0x); the last part
// fills the remaining bytes ("10.1" is 10.0.0.1).
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[1] == 'x' || p[1] == 'X') && p[0] == '0':
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" || digits[0] == '+' || digits[0] == '-' {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v = v<<8 | n
			continue
		}
		bits := 8 * (4 - i)
		if n >= 1<<bits {
			return netip.Addr{}, false
		}
		v = v<<bits | n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
