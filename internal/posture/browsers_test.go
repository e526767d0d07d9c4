package posture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// envAt returns an Env reading the tree root with a fixed clock. (The
// Linux tests' fixedEnv is the same, but those build only on Linux.)
func envAt(root string, now time.Time) *Env {
	return &Env{Root: root, Now: func() time.Time { return now }}
}

// sha256Of returns the hex SHA-256 of a file.
func sha256Of(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// put writes a file of a device tree.
func put(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func collectBrowsers(t *testing.T, root string) string {
	t.Helper()
	var f evidence.Facts
	if err := (browserCollector{}).Collect(context.Background(), envAt(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	// jsonOf escapes < and > as in HTML; undo it for readable wants.
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(jsonOf(t, f.Browsers.Extensions))
}

// Extension ids of the tests (32 letters a to p).
const (
	extA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	extB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	extC = "cccccccccccccccccccccccccccccccc"
)

func TestBrowserExtensions(t *testing.T) {
	chrome := "home/u/.config/google-chrome/Default/Extensions/"
	edgeWin := "Users/zhang/AppData/Local/Microsoft/Edge/User Data/Profile 1/Extensions/"
	se360 := "Users/zhang/AppData/Roaming/360se6/User Data/Default/Extensions/"
	risky := `{"name":"Risky","permissions":["cookies"],"host_permissions":["<all_urls>"]}`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name:  "none installed",
			files: map[string]string{"home/u/.bashrc": ""},
			want:  `[]`,
		},
		{
			name: "only risky permissions are listed, in report order",
			files: map[string]string{chrome + extA + "/1.0_0/manifest.json": `{"name":"Shop Helper","permissions":["webRequestBlocking","storage","tabs","proxy",{"fileSystem":["write"]},"debugger","webRequest","clipboardRead","nativeMessaging","cookies"],` +
				`"optional_permissions":["<all_urls>"],"content_scripts":[{"matches":["*://*/*","https://*/*"],"js":["a.js"]},{"matches":["http://*/*"]}]}`},
			want: `[{"browser":"chrome","id":"` + extA + `","name":"Shop Helper","permissions":["*://*/*","http://*/*","https://*/*","clipboardRead","cookies","debugger","nativeMessaging","proxy","webRequest","webRequestBlocking"]}]`,
		},
		{
			name:  "harmless extension is not reported",
			files: map[string]string{chrome + extA + "/1.0_0/manifest.json": `{"name":"Timer","permissions":["storage","alarms"],"host_permissions":["https://example.com/*"]}`},
			want:  `[]`,
		},
		{
			name: "name from _locales, case-insensitive key, default locale",
			files: map[string]string{
				edgeWin + extA + "/2.0_0/manifest.json":                          `{"name":"__MSG_AppName__","default_locale":"zh_CN","permissions":["cookies"]}`,
				edgeWin + extA + "/2.0_0/_locales/zh_CN/messages.json":           "\ufeff" + `{"appname":{"message":"比价助手"}}`,
				edgeWin + extA + "/2.0_0/_locales/en/messages.json":              `{"appname":{"message":"Price Helper"}}`,
				se360 + extB + "/1.0_0/manifest.json":                            `{"name":"__MSG_missing__","permissions":["debugger"]}`,
				se360 + extC + "/1.0_0/manifest.json":                            `{"name":"__MSG_n__","default_locale":"../../../../x","permissions":["proxy"]}`,
				se360 + extC + "/1.0_0/_locales/en/messages.json":                `{"n":{"message":"Fallback English"}}`,
				"Users/zhang/AppData/Roaming/360se6/User Data/Default/Bookmarks": `{}`,
			},
			want: `[{"browser":"360se","id":"` + extB + `","name":"` + extB + `","permissions":["debugger"]},` +
				`{"browser":"360se","id":"` + extC + `","name":"Fallback English","permissions":["proxy"]},` +
				`{"browser":"edge","id":"` + extA + `","name":"比价助手","permissions":["cookies"]}]`,
		},
		{
			name: "newest version folder",
			files: map[string]string{
				chrome + extA + "/1.9.3_0/manifest.json":  `{"name":"Old","permissions":["storage"]}`,
				chrome + extA + "/1.10.0_0/manifest.json": `{"name":"New","permissions":["cookies"]}`,
			},
			want: `[{"browser":"chrome","id":"` + extA + `","name":"New","permissions":["cookies"]}]`,
		},
		{
			name: "broken, oversized and misnamed extensions are skipped, the rest reported",
			files: map[string]string{
				chrome + extA + "/1.0_0/manifest.json":   `{"name": "Broken", "permissions": ["cookies"`,
				chrome + extB + "/1.0_0/manifest.json":   `{"name":"Huge","permissions":["cookies"],"x":"` + strings.Repeat("a", maxManifestBytes) + `"}`,
				chrome + extC + "/1.0_0/manifest.json":   risky,
				chrome + "Temp/1.0_0/manifest.json":      risky,
				chrome + "not-an-id/1.0_0/manifest.json": risky,
			},
			want: `[{"browser":"chrome","id":"` + extC + `","name":"Risky","permissions":["<all_urls>","cookies"]}]`,
		},
		{
			name: "disabled in Preferences",
			files: map[string]string{
				chrome + extA + "/1.0_0/manifest.json":                    risky,
				chrome + extB + "/1.0_0/manifest.json":                    risky,
				chrome + extC + "/1.0_0/manifest.json":                    risky,
				"home/u/.config/google-chrome/Default/Preferences":        `{"extensions":{"settings":{"` + extA + `":{"state":0},"` + extC + `":{"state":1}}}}`,
				"home/u/.config/google-chrome/Default/Secure Preferences": `{"extensions":{"settings":{"` + extB + `":{"disable_reasons":[1]},"` + extC + `":{"disable_reasons":[]}}}}`,
			},
			want: `[{"browser":"chrome","id":"` + extC + `","name":"Risky","permissions":["<all_urls>","cookies"]}]`,
		},
		{
			name: "same extension in two profiles and two users",
			files: map[string]string{
				chrome + extA + "/1.0_0/manifest.json":                                               risky,
				"home/u/.config/google-chrome/Profile 2/Extensions/" + extA + "/1.0_0/manifest.json": risky,
				"home/v/.config/google-chrome/Default/Extensions/" + extA + "/1.0_0/manifest.json":   risky,
			},
			want: `[{"browser":"chrome","id":"` + extA + `","name":"Risky","permissions":["<all_urls>","cookies"]}]`,
		},
		{
			name: "firefox",
			files: map[string]string{
				"home/u/.mozilla/firefox/abc.default-release/extensions.json": `{"schemaVersion":36,"addons":[` +
					`{"id":"pdf@converter.example","type":"extension","active":true,"location":"app-profile","defaultLocale":{"name":"PDF Converter"},"userPermissions":{"permissions":["cookies","storage"],"origins":["<all_urls>"]}},` +
					`{"id":"off@example","type":"extension","active":false,"location":"app-profile","userPermissions":{"permissions":["cookies"],"origins":[]}},` +
					`{"id":"theme@example","type":"theme","active":true,"location":"app-profile"},` +
					`{"id":"pictureinpicture@mozilla.org","type":"extension","active":true,"location":"app-builtin","userPermissions":{"permissions":["webRequest"],"origins":["<all_urls>"]}},` +
					`{"id":"screenshots@mozilla.org","type":"extension","active":true,"location":"app-system-defaults","userPermissions":{"permissions":["webRequest"],"origins":["<all_urls>"]}},` +
					`{"id":"noname@example","type":"extension","active":true,"location":"app-profile","userPermissions":{"permissions":["proxy"]}},` +
					`{"type":"extension"}, 42]}`,
				"home/u/.mozilla/firefox/broken.default/extensions.json": `{"addons":[`,
			},
			want: `[{"browser":"firefox","id":"noname@example","name":"noname@example","permissions":["proxy"]},` +
				`{"browser":"firefox","id":"pdf@converter.example","name":"PDF Converter","permissions":["<all_urls>","cookies"]}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				put(t, root, name, content)
			}
			if got := collectBrowsers(t, root); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestBrowserExtensionsMac(t *testing.T) {
	want := `[{"browser":"edge","id":"fgmjlmbojbkmdpofahffgcpkhkngfpef","name":"Coupon Helper","permissions":["https://*/*","cookies"]}]`
	if got := collectBrowsers(t, darwinTree); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestBrowserExtensionsBounded(t *testing.T) {
	root := t.TempDir()
	const n = maxExtensions + 40
	for i := 0; i < n; i++ {
		id := []byte("pppppppppppppppppppppppppppppppp")
		for j, k := 0, i; j < 4; j, k = j+1, k/16 {
			id[31-j] = byte('a' + k%16)
		}
		put(t, root, fmt.Sprintf("home/u/.config/chromium/Default/Extensions/%s/1.0_0/manifest.json", id), `{"name":"X","permissions":["cookies"]}`)
	}
	var f evidence.Facts
	if err := (browserCollector{}).Collect(context.Background(), envAt(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Browsers.Extensions), maxExtensions; got != want {
		t.Errorf("%d extensions reported, want %d", got, want)
	}
	claims := evidence.Claims{Nonce: "0123456789abcdef", UEID: "d", IssuedAt: 1, SWName: "hg", Platform: "linux", Facts: f}
	if err := claims.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.10.0_0", "1.9.3_0", 1},
		{"1.0_0", "1.0_1", -1},
		{"2.0", "2.0", 0},
		{"1.0", "1.0.1", -1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
