//go:build darwin

package posture

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/healthgate/healthgate/evidence"
)

// Placeholders until the macOS collectors land; they replace this file.
func unsupported(group string) error {
	return fmt.Errorf("%s facts on %s: %w", group, runtime.GOOS, errors.ErrUnsupported)
}

func (osCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupOS)
}

func (firewallCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupFirewall)
}

func (antivirusCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupAntivirus)
}

func (hostsCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupHosts)
}

func (dnsCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupDNS)
}

func (proxyCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupProxy)
}

func (trustStoreCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupTrustStore)
}

func (processCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupProcesses)
}

func (diskEncryptionCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupDiskEncryption)
}

func (secureBootCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupSecureBoot)
}

func (screenLockCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupScreenLock)
}

func (platformSecurityCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupPlatformSecurity)
}

func (virtualizationCollector) Collect(context.Context, *Env, *evidence.Facts) error {
	return unsupported(groupVirtualization)
}
