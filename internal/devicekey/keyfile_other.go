//go:build !windows

package devicekey

import (
	"fmt"
	"os"
)

// createPrivate creates a new file only its owner can read or write: mode
// 0600. It fails if path exists, whose mode it could not trust.
func createPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// checkPrivate refuses a key file whose permission bits give its group or
// others any access.
func checkPrivate(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("device key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}
