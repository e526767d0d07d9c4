package posture

import (
	"context"
	"fmt"
	"slices"

	"github.com/healthgate/healthgate/evidence"
)

// Collect reads the nameservers of /etc/resolv.conf. When that names
// systemd-resolved's stub, the upstream resolvers systemd-resolved uses,
// from /run/systemd/resolve/resolv.conf, take the stub's place.
func (dnsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	data, _, err := env.readHead("etc/resolv.conf", maxConfig)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("reading resolv.conf: %w", err)
	}
	servers := parseResolvConf(data)
	if slices.Contains(servers, resolvedStub.String()) {
		if up, _, err := env.readHead("run/systemd/resolve/resolv.conf", maxConfig); err == nil {
			servers = replaceStub(servers, parseResolvConf(up))
		}
	}
	f.DNS = &evidence.DNSFacts{Servers: servers}
	return nil
}
