//go:build darwin

package posture

import (
	"context"
	"errors"
	"fmt"

	"github.com/healthgate/healthgate/evidence"
)

// The macOS collectors are in darwin_collect.go; these methods give them
// the device's programs (none for a device tree under --root).

func (osCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macOS(ctx, env, hostRunner(env), f)
}

func (firewallCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macFirewall(ctx, env, hostRunner(env), f)
}

func (antivirusCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macAntivirus(ctx, env, hostRunner(env), f)
}

func (hostsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macHosts(ctx, env, hostRunner(env), f)
}

func (dnsCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macDNS(ctx, env, hostRunner(env), f)
}

func (proxyCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macProxy(ctx, env, hostRunner(env), f)
}

func (trustStoreCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macTrustStore(ctx, env, hostRunner(env), f)
}

func (processCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macProcesses(ctx, env, hostRunner(env), f)
}

func (diskEncryptionCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macDiskEncryption(ctx, env, hostRunner(env), f)
}

func (platformSecurityCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macPlatformSecurity(ctx, env, hostRunner(env), f)
}

func (virtualizationCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	return macVirtualization(ctx, env, hostRunner(env), f)
}

// Secure Boot and the screen lock are not read on macOS yet: Apple
// silicon always boots securely (its policy is only visible to
// bputil/csrutil in Recovery), and the screen lock settings are per user
// and need that user's session (sysadminctl -screenLock).

func (secureBootCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return fmt.Errorf("%s facts on macOS: %w", groupSecureBoot, errors.ErrUnsupported)
}

func (screenLockCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return fmt.Errorf("%s facts on macOS: %w", groupScreenLock, errors.ErrUnsupported)
}
