package posture

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/healthgate/healthgate/evidence"
)

// fits reports whether s can travel in a report.
func fits(s string) bool {
	return len(s) <= maxString && utf8.ValidString(s)
}

// seedDir adds every file under dir to a fuzz corpus.
func seedDir(f *testing.F, dir string) {
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
			return err
		}
		seedFile(f, p)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
}

func FuzzParsePlist(f *testing.F) {
	seedFile(f, "testdata/darwin/alltypes.bplist")
	seedFile(f, "testdata/darwin/alltypes.plist")
	seedFile(f, darwinTree+"/System/Library/CoreServices/SystemVersion.plist")
	seedFile(f, darwinTree+"/Library/Preferences/com.apple.alf.plist")
	seedFile(f, darwinTree+"/Library/Receipts/InstallHistory.plist")
	f.Add(makeBplist(0, []byte{0xa1, 0x00}))
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		parsePlist(data)
		if v, b, ok := parseSystemVersion(data); ok && (!fits(v) || !fits(b)) {
			t.Fatalf("version %q build %q do not fit a report", v, b)
		}
		if v, ok := parseBundleVersion(data); ok && !fits(v) {
			t.Fatalf("bundle version %q does not fit a report", v)
		}
		parseALFState(data)
		if latest, ok := parseInstallHistory(data, now); ok && latest.After(now.Add(24*time.Hour)) {
			t.Fatalf("install time %v is in the future", latest)
		}
	})
}

func FuzzDarwinOutputs(f *testing.F) {
	seedDir(f, darwinOutputs)
	f.Fuzz(func(t *testing.T, out []byte) {
		parseSocketFilterFW(out)
		parseFdesetupStatus(out)
		parseCsrutilStatus(out)
		parseSpctlStatus(out)
		p := parseScutilProxy(out)
		for _, v := range []string{p.HTTP, p.HTTPS, p.PACURL} {
			if !fits(v) {
				t.Fatalf("proxy %q does not fit a report", v)
			}
		}
		servers := parseScutilDNS(out)
		if len(servers) > maxDNSServers {
			t.Fatalf("%d servers", len(servers))
		}
		for _, s := range servers {
			if _, err := netip.ParseAddr(s); err != nil || !fits(s) {
				t.Fatalf("server %q: %v", s, err)
			}
		}
		for _, p := range parsePSComm(out) {
			if n := processNameOf(p); !fits(n) {
				t.Fatalf("process name %q does not fit a report", n)
			}
		}
		if vm, product := macVM(parseSysctl(out)); !fits(product) || !vm && product != "" {
			t.Fatalf("vm %v, product %q", vm, product)
		}
	})
}

// checkExtensionPermissions fails unless perms are risky permissions, each
// once, in report order.
func checkExtensionPermissions(t *testing.T, perms []string) {
	t.Helper()
	last := -1
	for _, p := range perms {
		i := slices.Index(riskyPermissions, p)
		if i <= last {
			t.Fatalf("permissions %q are not risky permissions in report order", perms)
		}
		last = i
	}
}

func FuzzParseExtensionManifest(f *testing.F) {
	seedDir(f, "testdata/infected/home")
	seedDir(f, "testdata/healthy/home/lin/.config")
	f.Add([]byte(`{"name":"__MSG_a__","permissions":["cookies",{"x":1},"cookies"],"content_scripts":[{"matches":["<all_urls>"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, locale, risky, err := parseExtensionManifest(data)
		if err != nil {
			return
		}
		checkExtensionPermissions(t, risky)
		messageKey(name)
		lookupMessage(data, name)
		_ = locale
		chromeDisabled(data)
	})
}

func FuzzParseFirefoxExtensions(f *testing.F) {
	seedFile(f, "testdata/healthy/home/lin/.mozilla/firefox/q8x1v2ab.default-esr/extensions.json")
	f.Add([]byte(`{"addons":[{"id":"a","type":"extension","active":true,"userPermissions":{"permissions":["proxy"],"origins":["<all_urls>"]}},null,1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		exts, skipped, err := parseFirefoxExtensions(data)
		if err != nil {
			return
		}
		if skipped < 0 {
			t.Fatal("negative skipped count")
		}
		for _, e := range exts {
			if e.ID == "" || !fits(e.ID) || !fits(e.Name) || e.Browser != "firefox" || len(e.Permissions) == 0 {
				t.Fatalf("extension %+v does not fit a report", e)
			}
			checkExtensionPermissions(t, e.Permissions)
		}
		claims := evidence.Claims{Nonce: "0123456789abcdef", UEID: "d", IssuedAt: 1, SWName: "hg", Platform: "linux",
			Facts: evidence.Facts{Browsers: &evidence.BrowserFacts{Extensions: sortExtensions(exts[:min(len(exts), maxExtensions)])}}}
		if err := claims.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	})
}

func FuzzLinuxParsers(f *testing.F) {
	seedFile(f, "testdata/healthy/proc/mounts")
	seedFile(f, "testdata/healthy/etc/fstab")
	seedFile(f, "testdata/healthy/etc/crypttab")
	seedFile(f, "testdata/healthy/etc/dconf/db/local.d/00-screensaver")
	seedFile(f, "testdata/infected/proc/sys/kernel/version")
	f.Add([]byte("#1 SMP PREEMPT_DYNAMIC Fri Nov  1 14:01:32 +0800 2024"))
	f.Add([]byte("#1 SMP PREEMPT_DYNAMIC Thu, 14 Nov 2024 22:38:02 +0000"))
	f.Add([]byte(`/dev/mapper/a\040b / ext4 rw 0 0` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range parseMounts(data) {
			if m.source == "" || m.target == "" {
				t.Fatalf("empty mount field in %+v", m)
			}
		}
		parseCrypttab(data)
		dmCryptMethod(string(data))
		parseEFIBool(data)
		kf := parseKeyfile(data)
		for _, g := range kf {
			for _, v := range g {
				gvariantBool(v)
				if n, ok := gvariantUint(v); ok && n < 0 {
					t.Fatalf("negative %d from %q", n, v)
				}
			}
		}
		kdeScreenLock(kf)
		parseKernelBuilt(string(data))
		if vm, product := detectVM(string(data), string(data), cpuinfoHypervisor(data)); !fits(product) || !vm && product != "" {
			t.Fatalf("vm %v, product %q", vm, product)
		}
	})
}
