package posture

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/healthgate/healthgate/evidence"
)

// Placeholders until the Linux collectors of these groups land; they
// replace this file.
func unsupported(group string) error {
	return fmt.Errorf("%s facts on %s: %w", group, runtime.GOOS, errors.ErrUnsupported)
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
