package posture

import (
	"bytes"
	"net/netip"
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
			continue
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
func replaceStub(servers, upstream []string) []string {
	out := []string{}
	seen := make(map[string]bool)
	add := func(s string) {
		if !seen[s] && len(out) < maxDNSServers {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range servers {
		if s != resolvedStub.String() {
			add(s)
			continue
		}
		for _, u := range upstream {
			add(u)
		}
	}
	return out
}
