package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// maxConfig bounds how much of one configuration file is read.
const maxConfig = 1 << 20

// Collect applies the firewall heuristic described in firewall.go to the
// configuration files under the device root.
func (firewallCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	var unreadable []string
	read := func(name string) []byte {
		data, _, err := env.readHead(name, maxConfig)
		if err != nil && !isNotExist(err) {
			unreadable = append(unreadable, name)
		}
		return data
	}
	backends := []struct {
		name    string
		enabled func() bool
	}{
		{"ufw", func() bool {
			enabled, policy := false, ""
			parseAssignments(read("etc/ufw/ufw.conf"), func(k, v string) {
				if k == "ENABLED" {
					enabled = strings.EqualFold(v, "yes")
				}
			})
			parseAssignments(read("etc/default/ufw"), func(k, v string) {
				if k == "DEFAULT_INPUT_POLICY" {
					policy = v
				}
			})
			return enabled && !strings.EqualFold(policy, "ACCEPT")
		}},
		{"firewalld", func() bool {
			return env.exists("etc/systemd/system/multi-user.target.wants/firewalld.service")
		}},
		{"nftables", func() bool {
			return nftablesFilters(read("etc/nftables.conf"))
		}},
		{"iptables", func() bool {
			return iptablesFilters(read("etc/iptables/rules.v4")) || iptablesFilters(read("etc/sysconfig/iptables"))
		}},
	}
	for _, b := range backends {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if b.enabled() {
			f.Firewall = &evidence.FirewallFacts{Enabled: true, Backend: b.name}
			return nil
		}
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("cannot read %s", strings.Join(unreadable, ", "))
	}
	f.Firewall = &evidence.FirewallFacts{}
	return nil
}
