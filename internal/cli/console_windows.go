//go:build windows

package cli

import (
	"os"

	"golang.org/x/sys/windows"
)

// consoleColour turns on escape-sequence processing for the console f
// writes to and reports whether colour codes will show as colour. A
// Windows console starts with it off (mode 0x3, also under Wine): without
// it `healthgate scan` in cmd.exe printed "←[1;31m" around its text. An
// old console that refuses the mode, or a handle that is not a console,
// gets plain text.
func consoleColour(f *os.File) bool {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return false
	}
	if mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 {
		return true
	}
	return windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
