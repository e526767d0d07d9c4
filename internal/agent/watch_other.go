//go:build !windows

package agent

import "io"

// writeSystemState adds nothing on systems whose watched settings are all
// files (watch.go).
func writeSystemState(io.Writer) {}

// liveRoot is the device root of the running system.
func liveRoot() string { return "/" }
