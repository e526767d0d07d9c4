//go:build !windows

package cli

// uiLanguage is Windows' display language; elsewhere the locale variables
// decide (systemLang).
func uiLanguage() string { return "" }
