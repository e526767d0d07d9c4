package posture

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// riskyPermissions are the extension permissions that reach payment pages,
// in the order a report lists them: host patterns matching every site,
// then the APIs that read or rewrite what a page sends and receives.
var riskyPermissions = []string{
	"<all_urls>", "*://*/*", "http://*/*", "https://*/*",
	"clipboardRead", "cookies", "debugger", "nativeMessaging", "proxy",
	"webRequest", "webRequestBlocking",
}

// Limits on the extension scan.
const (
	maxManifestBytes = 1 << 20 // a larger manifest is skipped
	maxPrefsBytes    = 8 << 20 // Chrome's Preferences, Firefox's extensions.json
	maxExtDirs       = 4096    // extension folders looked at per run
	maxProfiles      = 64      // browser profiles per user and browser
)

// errManifest is returned for a manifest that does not parse.
var errManifest = errors.New("malformed extension manifest")

// extensionManifest is the part of a Chrome (WebExtension) manifest.json
// the collector reads. Permission entries may be objects (Chrome's
// {"fileSystem": […]}), so they are decoded one by one.
type extensionManifest struct {
	Name            string            `json:"name"`
	DefaultLocale   string            `json:"default_locale"`
	Permissions     []json.RawMessage `json:"permissions"`
	HostPermissions []json.RawMessage `json:"host_permissions"`
	ContentScripts  []struct {
		Matches []json.RawMessage `json:"matches"`
	} `json:"content_scripts"`
}

// parseExtensionManifest returns an extension's name (possibly a
// "__MSG_key__" reference), its default locale and the risky permissions
// it holds: permissions, host_permissions and content-script matches.
// Optional permissions are not held until the user grants them, so they
// are left out.
func parseExtensionManifest(data []byte) (name, locale string, risky []string, err error) {
	var m extensionManifest
	if err := json.Unmarshal(trimBOM(data), &m); err != nil {
		return "", "", nil, errManifest
	}
	held := map[string]bool{}
	for _, list := range [][]json.RawMessage{m.Permissions, m.HostPermissions} {
		addStrings(held, list)
	}
	for _, cs := range m.ContentScripts {
		addStrings(held, cs.Matches)
	}
	return m.Name, m.DefaultLocale, riskyOf(held), nil
}

func addStrings(set map[string]bool, list []json.RawMessage) {
	for _, raw := range list {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			set[s] = true
		}
	}
}

// riskyOf returns the risky permissions in held, in report order.
func riskyOf(held map[string]bool) []string {
	var out []string
	for _, p := range riskyPermissions {
		if held[p] {
			out = append(out, p)
		}
	}
	return out
}

func trimBOM(data []byte) []byte {
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
}

// messageKey returns the key of a "__MSG_key__" name, or "" for a plain
// name.
func messageKey(name string) string {
	k, ok := strings.CutPrefix(name, "__MSG_")
	if !ok {
		return ""
	}
	k, ok = strings.CutSuffix(k, "__")
	if !ok {
		return ""
	}
	return k
}

// lookupMessage returns the message of key in an extension's
// _locales/LANG/messages.json; keys are case-insensitive.
func lookupMessage(data []byte, key string) (string, bool) {
	var msgs map[string]struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(trimBOM(data), &msgs) != nil {
		return "", false
	}
	for k, v := range msgs {
		if strings.EqualFold(k, key) && v.Message != "" {
			return v.Message, true
		}
	}
	return "", false
}

// isChromeExtensionID reports whether s is a Chrome extension id: 32
// letters a to p.
func isChromeExtensionID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'p' {
			return false
		}
	}
	return true
}

// compareVersions orders Chrome extension version folders ("1.10.2_0")
// by their numeric parts.
func compareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y uint64
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a, b)
}

func versionParts(v string) []uint64 {
	var out []uint64
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '_' }) {
		n, _ := strconv.ParseUint(p, 10, 64)
		out = append(out, n)
	}
	return out
}

// chromeDisabled returns the ids of the extensions a Chrome profile's
// Preferences (or Secure Preferences) file marks disabled: "state" 0 in
// older versions, a non-empty "disable_reasons" in newer ones.
func chromeDisabled(data []byte) map[string]bool {
	var prefs struct {
		Extensions struct {
			Settings map[string]struct {
				State          *int            `json:"state"`
				DisableReasons json.RawMessage `json:"disable_reasons"`
			} `json:"settings"`
		} `json:"extensions"`
	}
	if json.Unmarshal(trimBOM(data), &prefs) != nil {
		return nil
	}
	off := map[string]bool{}
	for id, s := range prefs.Extensions.Settings {
		r := strings.TrimSpace(string(s.DisableReasons))
		if s.State != nil && *s.State == 0 || r != "" && r != "0" && r != "[]" && r != "null" {
			off[id] = true
		}
	}
	return off
}

// firefoxAddon is one entry of a Firefox profile's extensions.json.
type firefoxAddon struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Active        bool   `json:"active"`
	Location      string `json:"location"`
	DefaultLocale struct {
		Name string `json:"name"`
	} `json:"defaultLocale"`
	UserPermissions *struct {
		Permissions []json.RawMessage `json:"permissions"`
		Origins     []json.RawMessage `json:"origins"`
	} `json:"userPermissions"`
}

// parseFirefoxExtensions returns the active, user-installed extensions of
// a Firefox extensions.json that hold risky permissions (granted API
// permissions and origins, which include content-script matches). Themes,
// dictionaries and the add-ons Firefox ships (locations app-builtin and
// app-system-*) are left out; skipped counts entries without an id.
func parseFirefoxExtensions(data []byte) (exts []evidence.BrowserExtension, skipped int, err error) {
	var doc struct {
		Addons []json.RawMessage `json:"addons"`
	}
	if err := json.Unmarshal(trimBOM(data), &doc); err != nil {
		return nil, 0, errManifest
	}
	for _, raw := range doc.Addons {
		var a firefoxAddon
		if json.Unmarshal(raw, &a) != nil || a.ID == "" {
			skipped++
			continue
		}
		if a.Type != "extension" || !a.Active || a.Location == "app-builtin" || strings.HasPrefix(a.Location, "app-system") {
			continue
		}
		held := map[string]bool{}
		if a.UserPermissions != nil {
			addStrings(held, a.UserPermissions.Permissions)
			addStrings(held, a.UserPermissions.Origins)
		}
		risky := riskyOf(held)
		if len(risky) == 0 {
			continue
		}
		name := a.DefaultLocale.Name
		if name == "" {
			name = a.ID
		}
		exts = append(exts, evidence.BrowserExtension{
			Browser: "firefox", ID: clean(a.ID), Name: clean(name), Permissions: risky,
		})
	}
	return exts, skipped, nil
}

// sortExtensions orders extensions by browser and id and drops repeats
// (the same extension in two profiles), keeping the first.
func sortExtensions(exts []evidence.BrowserExtension) []evidence.BrowserExtension {
	slices.SortStableFunc(exts, func(a, b evidence.BrowserExtension) int {
		if c := strings.Compare(a.Browser, b.Browser); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return slices.CompactFunc(exts, func(a, b evidence.BrowserExtension) bool {
		return a.Browser == b.Browser && a.ID == b.ID
	})
}
