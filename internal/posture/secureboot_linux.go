package posture

import (
	"context"
	"errors"
	"fmt"

	"github.com/healthgate/healthgate/evidence"
)

// secureBootVar is the efivarfs file of the SecureBoot variable.
const secureBootVar = "sys/firmware/efi/efivars/SecureBoot-" + efiGlobalVariable

// Collect reads the SecureBoot UEFI variable from efivarfs: four attribute
// bytes, then 1 when Secure Boot is on. A device booted by a legacy BIOS
// (/sys/firmware without efi) has Secure Boot off; UEFI firmware without
// the variable does not support it, which counts as off too. Without
// /sys/firmware, or with efivarfs not mounted, it is not known.
func (secureBootCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	data, _, err := env.readHead(secureBootVar, 64)
	if err == nil {
		on, ok := parseEFIBool(data)
		if !ok {
			return errors.New("SecureBoot variable is malformed")
		}
		f.SecureBoot = &evidence.SecureBootFacts{Enabled: on}
		return nil
	}
	if !isNotExist(err) {
		return fmt.Errorf("reading SecureBoot variable: %w", err)
	}
	switch {
	case !env.exists("sys/firmware"):
		return errors.New("no /sys/firmware")
	case !env.exists("sys/firmware/efi"):
		f.SecureBoot = &evidence.SecureBootFacts{} // legacy BIOS boot
		return nil
	}
	if vars, err := env.readDir("sys/firmware/efi/efivars"); err != nil || len(vars) == 0 {
		return errors.New("efivarfs is not mounted")
	}
	f.SecureBoot = &evidence.SecureBootFacts{}
	return nil
}
