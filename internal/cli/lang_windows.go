//go:build windows

package cli

import "golang.org/x/sys/windows"

// uiLanguage returns the user's first preferred Windows display language
// (e.g. "zh-CN"), or "" when Windows does not say.
func uiLanguage() string {
	langs, err := windows.GetUserPreferredUILanguages(windows.MUI_LANGUAGE_NAME)
	if err != nil || len(langs) == 0 {
		return ""
	}
	return langs[0]
}
