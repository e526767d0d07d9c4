//go:build !windows

package cli

import "os"

// consoleColour reports whether the terminal f writes to shows colour
// codes; on Windows it has to be asked to (console_windows.go).
func consoleColour(*os.File) bool { return true }
