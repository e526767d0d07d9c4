package posture

import (
	"context"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// maxProfileScripts bounds the /etc/profile.d scripts read.
const maxProfileScripts = 256

// Collect reads the system-wide proxy variables from /etc/environment and
// then the /etc/profile.d/*.sh scripts in name order, the order a login
// shell applies them. Desktop settings (GNOME's dconf) are not read.
func (proxyCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	var p proxyEnv
	if data, _, err := env.readHead("etc/environment", maxConfig); err == nil {
		p.parse(data)
	}
	entries, _ := env.readDir("etc/profile.d")
	n := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !strings.HasSuffix(e.Name(), ".sh") {
			continue
		}
		if n++; n > maxProfileScripts {
			break
		}
		if data, _, err := env.readHead("etc/profile.d/"+e.Name(), maxConfig); err == nil {
			p.parse(data)
		}
	}
	f.Proxy = p.facts()
	return nil
}
