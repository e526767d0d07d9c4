package posture

import (
	"context"

	"github.com/healthgate/healthgate/evidence"
)

// Collect reports an empty group: UAC, SIP, Gatekeeper and XProtect do not
// exist on Linux. Reporting the group (rather than leaving it unknown) says
// that nothing in it applies, so policies need not treat Linux devices as
// unread.
func (platformSecurityCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	f.PlatformSecurity = &evidence.PlatformSecurityFacts{}
	return nil
}
