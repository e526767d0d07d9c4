//go:build !windows

package devicekey

import (
	"fmt"
	"os"
)

// createPrivate creates (or truncates) a file only its owner can read or
// write: mode 0600.
func createPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

// checkPrivate refuses a key file whose permission bits give its group or
// others any access.
func checkPrivate(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("device key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}
