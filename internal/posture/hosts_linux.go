package posture

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// Collect reads /etc/hosts (at most its first maxHostsBytes bytes).
func (hostsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	// The device's own name has a standard loopback line.
	var hostname string
	for _, name := range []string{"etc/hostname", "proc/sys/kernel/hostname"} {
		if data, _, err := env.readHead(name, 256); err == nil {
			if hostname = strings.TrimSpace(string(data)); hostname != "" {
				break
			}
		}
	}
	data, cut, err := env.readHead("etc/hosts", maxHostsBytes)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("reading hosts file: %w", err)
	}
	if cut {
		// Drop the line the limit cut in two.
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		}
	}
	entries, truncated := parseHosts(data, hostname)
	f.Hosts = &evidence.HostsFacts{Entries: entries, Truncated: truncated || cut}
	return nil
}
