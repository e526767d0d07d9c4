package posture

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/healthgate/healthgate/evidence"
)

// Collect reads the nameservers of /etc/resolv.conf. When that names
// systemd-resolved's stub, the upstream resolvers systemd-resolved uses,
// from /run/systemd/resolve/resolv.conf, take the stub's place. Another
// loopback resolver is NetworkManager's dnsmasq (dns=dnsmasq: 127.0.1.1 on
// Ubuntu); the upstreams NetworkManager gave it, from
// /run/NetworkManager/no-stub-resolv.conf, take its place.
func (dnsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	data, _, err := env.readHead("etc/resolv.conf", maxConfig)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("reading resolv.conf: %w", err)
	}
	servers := parseResolvConf(data)
	upstreams := func(name string) ([]string, bool) {
		up, _, err := env.readHead(name, maxConfig)
		if err != nil {
			return nil, false
		}
		return parseResolvConf(up), true
	}
	if slices.Contains(servers, resolvedStub.String()) {
		if up, ok := upstreams("run/systemd/resolve/resolv.conf"); ok {
			servers = replaceStub(servers, resolvedStub.String(), up)
		}
	}
	for _, s := range slices.Clone(servers) {
		if a, err := netip.ParseAddr(s); err != nil || !a.IsLoopback() || a == resolvedStub {
			continue
		}
		if up, ok := upstreams("run/NetworkManager/no-stub-resolv.conf"); ok {
			servers = replaceStub(servers, s, slices.DeleteFunc(up, func(u string) bool {
				a, err := netip.ParseAddr(u)
				return err == nil && a.IsLoopback() // itself, or another stub: no upstream
			}))
		}
	}
	f.DNS = &evidence.DNSFacts{Servers: servers}
	return nil
}
