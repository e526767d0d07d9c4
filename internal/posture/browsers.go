package posture

import (
	"context"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// browserLayout is where one browser keeps its profiles, relative to a
// user's home folder. Chromium-based browsers (Chrome, Edge, 360) share a
// profile format; Firefox has its own.
type browserLayout struct {
	browser string
	dir     string
	firefox bool
}

// browserLayouts lists every layout on every system: a folder that does
// not exist costs one failed lookup, and one list keeps the collector the
// same on Linux, Windows and macOS.
var browserLayouts = []browserLayout{
	// Linux
	{"chrome", ".config/google-chrome", false},
	{"chromium", ".config/chromium", false},
	{"edge", ".config/microsoft-edge", false},
	{"firefox", ".mozilla/firefox", true},
	{"firefox", "snap/firefox/common/.mozilla/firefox", true},
	// Windows
	{"chrome", "AppData/Local/Google/Chrome/User Data", false},
	{"edge", "AppData/Local/Microsoft/Edge/User Data", false},
	{"360se", "AppData/Roaming/360se6/User Data", false},
	{"360chrome", "AppData/Local/360Chrome/Chrome/User Data", false},
	{"firefox", "AppData/Roaming/Mozilla/Firefox/Profiles", true},
	// macOS
	{"chrome", "Library/Application Support/Google/Chrome", false},
	{"edge", "Library/Application Support/Microsoft Edge", false},
	{"firefox", "Library/Application Support/Firefox/Profiles", true},
}

// homeRoots are the folders that hold users' home folders: Linux's /home,
// Windows' and macOS's /Users. Linux's /root is a home of its own.
var homeRoots = []string{"home", "Users"}

// Collect lists the extensions installed in every user's Chrome, Chromium,
// Edge, 360 Secure Browser and Firefox profiles that hold a risky
// permission (see riskyPermissions), at most 512. Extensions a profile has
// disabled are left out. A manifest that is larger than 1 MiB or does not
// parse is skipped: one broken extension never hides the others.
func (browserCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	s := &extensionScan{ctx: ctx, env: env}
	var homes []string
	for _, root := range homeRoots {
		entries, _ := env.readDir(root)
		for _, e := range entries {
			if len(homes) < maxHomes {
				homes = append(homes, root+"/"+e.Name())
			}
		}
	}
	homes = append(homes, "root")
	for _, home := range homes {
		for _, l := range browserLayouts {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			base := home + "/" + l.dir
			if !env.exists(base) {
				continue
			}
			if l.firefox {
				s.firefox(base)
			} else {
				s.chromium(l.browser, base)
			}
		}
	}
	exts := sortExtensions(s.found)
	if len(exts) > maxExtensions {
		exts = exts[:maxExtensions]
	}
	if exts == nil {
		exts = []evidence.BrowserExtension{}
	}
	f.Browsers = &evidence.BrowserFacts{Extensions: exts}
	return ctx.Err()
}

// Limits of the scan: extensions a report carries, home folders looked at.
const (
	maxExtensions = 512
	maxHomes      = 64
)

// extensionScan accumulates one run's findings.
type extensionScan struct {
	ctx     context.Context
	env     *Env
	found   []evidence.BrowserExtension
	dirs    int // extension folders looked at
	skipped int // manifests too large or malformed
}

// chromium scans the profiles ("Default", "Profile 1", …) of a
// Chromium-based browser's user-data folder.
func (s *extensionScan) chromium(browser, base string) {
	profiles, _ := s.env.readDir(base)
	n := 0
	for _, p := range profiles {
		if !p.IsDir() || !s.env.exists(base+"/"+p.Name()+"/Extensions") {
			continue
		}
		if n++; n > maxProfiles {
			return
		}
		s.chromiumProfile(browser, base+"/"+p.Name())
	}
}

func (s *extensionScan) chromiumProfile(browser, profile string) {
	disabled := map[string]bool{}
	for _, name := range []string{"Preferences", "Secure Preferences"} {
		if data, cut, err := s.env.readHead(profile+"/"+name, maxPrefsBytes); err == nil && !cut {
			for id := range chromeDisabled(data) {
				disabled[id] = true
			}
		}
	}
	ids, _ := s.env.readDir(profile + "/Extensions")
	for _, id := range ids {
		if s.ctx.Err() != nil {
			return
		}
		if !isChromeExtensionID(id.Name()) || disabled[id.Name()] {
			continue
		}
		if s.dirs++; s.dirs > maxExtDirs {
			return
		}
		dir := profile + "/Extensions/" + id.Name()
		versions, _ := s.env.readDir(dir)
		latest := ""
		for _, v := range versions {
			if v.IsDir() && (latest == "" || compareVersions(v.Name(), latest) > 0) {
				latest = v.Name()
			}
		}
		if latest == "" {
			continue
		}
		if e, ok := s.chromiumExtension(browser, id.Name(), dir+"/"+latest); ok {
			s.found = append(s.found, e)
		}
	}
}

// chromiumExtension reads one unpacked extension version folder; ok is
// false when it holds no risky permission or its manifest is unusable.
func (s *extensionScan) chromiumExtension(browser, id, dir string) (evidence.BrowserExtension, bool) {
	data, cut, err := s.env.readHead(dir+"/manifest.json", maxManifestBytes)
	if err != nil || cut {
		s.skipped++
		return evidence.BrowserExtension{}, false
	}
	name, locale, risky, err := parseExtensionManifest(data)
	if err != nil {
		s.skipped++
		return evidence.BrowserExtension{}, false
	}
	if len(risky) == 0 {
		return evidence.BrowserExtension{}, false
	}
	if key := messageKey(name); key != "" {
		name = id
		for _, lang := range slices.Compact([]string{locale, "en", "en_US"}) {
			if lang == "" || strings.ContainsAny(lang, "/\\") || strings.Contains(lang, "..") {
				continue
			}
			msgs, cut, err := s.env.readHead(dir+"/_locales/"+lang+"/messages.json", maxManifestBytes)
			if err != nil || cut {
				continue
			}
			if m, ok := lookupMessage(msgs, key); ok {
				name = m
				break
			}
		}
	}
	if strings.TrimSpace(name) == "" {
		name = id
	}
	return evidence.BrowserExtension{Browser: browser, ID: id, Name: clean(name), Permissions: risky}, true
}

// firefox scans the profiles of a Firefox profiles folder.
func (s *extensionScan) firefox(base string) {
	profiles, _ := s.env.readDir(base)
	n := 0
	for _, p := range profiles {
		if s.ctx.Err() != nil {
			return
		}
		if !p.IsDir() {
			continue
		}
		data, cut, err := s.env.readHead(base+"/"+p.Name()+"/extensions.json", maxPrefsBytes)
		if err != nil {
			continue
		}
		if n++; n > maxProfiles {
			return
		}
		if cut {
			s.skipped++
			continue
		}
		exts, skipped, err := parseFirefoxExtensions(data)
		s.skipped += skipped
		if err != nil {
			s.skipped++
			continue
		}
		s.found = append(s.found, exts[:min(len(exts), maxExtDirs)]...)
	}
}
