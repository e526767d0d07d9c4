//go:build !windows

package agent

import "io"

// writeSystemState adds nothing on systems whose watched settings are all
// files (watch.go).
func writeSystemState(io.Writer) {}
