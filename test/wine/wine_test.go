// Package wine runs the Windows build of healthgate under Wine: the
// collectors on real Windows APIs (registry, files, Toolhelp, crypt32,
// WMI), `healthgate scan` in English, Chinese and the display language,
// and `healthgate agent --once` against a Linux `healthgate server`.
// docs/WINDOWS.md says what this proves about real Windows and what not.
//
// The test plants a known device in a throwaway Wine prefix (a hijacked
// hosts file, a proxy, a user-added root CA, a risky Chrome extension, a
// process named TeamViewer.exe, firewall, Secure Boot, UAC and screen
// saver settings, a Windows version) and checks that the collectors Wine
// can serve report exactly that. The groups Wine cannot serve (WMI; see
// docs/WINDOWS.md) may stay unknown, but no collector may panic or time
// out.
//
// Setup: apt-get install --no-install-recommends wine wine64 locales
// (scripts/setup-test-deps.sh does). Set HEALTHGATE_SKIP_WINE=1 to skip
// instead of failing when Wine is missing. By hand:
//
//	go test -count=1 -v -run TestWine ./test/wine
package wine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

const setupHint = "run: apt-get install -y --no-install-recommends wine wine64 locales " +
	"(or set HEALTHGATE_SKIP_WINE=1 to skip)"

// What the test plants in the prefix.
const (
	extensionID   = "abcdefghijklmnopabcdefghijklmnop"
	hijackedHost  = "www.alipay.com"
	hijackedIP    = "203.0.113.7"
	httpProxy     = "10.6.6.6:8080"
	httpsProxy    = "10.6.6.6:8443"
	pacURL        = "http://wpad.example/proxy.pac"
	remoteControl = "TeamViewer.exe"
)

// wine is a throwaway Wine prefix.
type wine struct {
	t      *testing.T
	bin    string // wine, or wine64
	server string // wineserver
	dir    string // WINEPREFIX
	env    []string
	exe    string // the Windows build of healthgate
}

func TestWine(t *testing.T) {
	if testing.Short() {
		t.Skip("the Wine smoke test takes about 20 s")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("Wine on %s cannot run the amd64 Windows build", runtime.GOARCH)
	}
	if wineBinary() == "" || wineServer() == "" {
		missing(t, "wine is not installed")
	}
	start := time.Now()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}

	// The Windows binary, the Windows posture test and the Linux server
	// build while Wine boots.
	tmp := t.TempDir()
	exe := filepath.Join(tmp, "healthgate.exe")
	postureTest := filepath.Join(tmp, "posture.test.exe")
	linux := filepath.Join(tmp, "healthgate")
	builds := []func() error{
		goCmd(root, true, "build", "-o", exe, "./cmd/healthgate"),
		goCmd(root, true, "test", "-c", "-o", postureTest, "./internal/posture"),
		goCmd(root, false, "build", "-o", linux, "./cmd/healthgate"),
	}
	w := newPrefix(t)
	for _, wait := range builds {
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wineboot and builds in %v", time.Since(start).Round(time.Millisecond))

	w.exe = exe
	cert := w.plantDevice()
	t.Logf("device planted at %v", time.Since(start).Round(time.Millisecond))

	t.Run("collectors", func(t *testing.T) { checkFacts(t, w, postureTest, cert) })
	t.Run("scan", func(t *testing.T) { checkScan(t, w) })
	t.Run("display language", func(t *testing.T) { checkDisplayLanguage(t, w) })
	t.Run("agent", func(t *testing.T) { checkAgent(t, w, linux) })
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// missing fails the test for a missing prerequisite, or skips it with
// HEALTHGATE_SKIP_WINE=1.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("HEALTHGATE_SKIP_WINE") == "1" {
		t.Skipf(format+"; skipping (HEALTHGATE_SKIP_WINE=1)", args...)
	}
	t.Fatalf(format+"; "+setupHint, args...)
}

// lookPath returns the first of names found on PATH or as a path.
func lookPath(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// wineBinary is Debian's wine (package wine), or wine64 without it.
func wineBinary() string { return lookPath("wine", "wine64", "/usr/lib/wine/wine64") }

// wineServer is the wineserver of wineBinary.
func wineServer() string { return lookPath("wineserver", "/usr/lib/wine/wineserver") }

// newPrefix creates a Wine prefix under a temporary directory, and stops
// its wineserver (and every Windows process in it) when the test ends.
func newPrefix(t *testing.T) *wine {
	t.Helper()
	bin, server := wineBinary(), wineServer()
	dir := filepath.Join(t.TempDir(), "prefix")
	w := &wine{t: t, bin: bin, server: server, dir: dir}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "DISPLAY", "WAYLAND_DISPLAY",
			"LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LOCPATH", "NO_COLOR", "TERM":
			continue
		}
		w.env = append(w.env, kv)
	}
	// No debug output, no Mono or Gecko installer prompts, no display.
	w.env = append(w.env, "WINEPREFIX="+dir, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "LANG=C.UTF-8")
	t.Cleanup(func() {
		cmd := exec.Command(server, "-k")
		cmd.Env = w.env
		cmd.Run()
		cmd = exec.Command(server, "-w")
		cmd.Env = w.env
		cmd.Run()
	})
	if out, err := w.command(3*time.Minute, nil, "wineboot", "--init").CombinedOutput(); err != nil {
		t.Fatalf("wineboot --init: %v\n%s", err, out)
	}
	return w
}

// command is a wine command line in the prefix; extraEnv is added to the
// environment Wine starts with (and passes on to the Windows process).
func (w *wine) command(timeout time.Duration, extraEnv []string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	w.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(slices.Clip(w.env), extraEnv...)
	// The current directory is on Z:, not the system drive C:, as for a
	// user who starts healthgate from another drive.
	cmd.Dir = filepath.Dir(w.dir)
	return cmd
}

// run runs a wine command line and returns its standard output and error.
func (w *wine) run(extraEnv []string, args ...string) (stdout, stderr string, err error) {
	cmd := w.command(2*time.Minute, extraEnv, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// drive returns the host path of C:\<rel> (rel slash-separated).
func (w *wine) drive(rel string) string {
	return filepath.Join(w.dir, "drive_c", filepath.FromSlash(rel))
}

// winPath is the Windows name of a host path: Wine maps Z: to /.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// goCmd starts the go command in the repository, for Windows or this
// system, and returns a function that waits for it.
func goCmd(dir string, windows bool, args ...string) func() error {
	cmd := exec.Command("go", args...) // go test puts its own go first on PATH
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if windows {
		cmd.Env = append(cmd.Env, "GOOS=windows", "GOARCH=amd64")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return func() error { return err }
	}
	return func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
		}
		return nil
	}
}

// plantedCert is the root CA planted in the user's ROOT store.
type plantedCert struct {
	subject, sha256 string
}

// plantDevice makes the prefix the device the checks expect and starts a
// process named TeamViewer.exe (a copy of w.exe). It returns the planted
// root.
func (w *wine) plantDevice() plantedCert {
	t := w.t
	t.Helper()

	// Go 1.24 and later need bcryptprimitives.dll!ProcessPrng, which Wine
	// has since 8.13 (stable: 9.0); Debian 12 ships Wine 8.0.
	if _, err := os.Stat(w.drive("windows/system32/bcryptprimitives.dll")); err != nil {
		if err := os.WriteFile(w.drive("windows/system32/bcryptprimitives.dll"), bcryptPrimitivesShim(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("Wine has no bcryptprimitives.dll: installed a ProcessPrng -> advapi32.SystemFunction036 forwarder")
	}

	der, cert := newRootCA(t)
	thumb := sha1.Sum(der)
	// A serialized certificate property (wincrypt CERT_CERT_PROP_ID 32):
	// property id, encoding type 1, length, then the DER.
	blob := binary.LittleEndian.AppendUint32(nil, 32)
	blob = binary.LittleEndian.AppendUint32(blob, 1)
	blob = binary.LittleEndian.AppendUint32(blob, uint32(len(der)))
	blob = append(blob, der...)

	reg := `Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentMajorVersionNumber"=dword:0000000a
"CurrentMinorVersionNumber"=dword:00000000
"CurrentBuild"="19045"
"CurrentBuildNumber"="19045"
"UBR"=dword:00000fce

[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Internet Settings]
"ProxyEnable"=dword:00000001
"ProxyServer"="http=` + httpProxy + `;https=` + httpsProxy + `"
"AutoConfigURL"="` + pacURL + `"

[HKEY_CURRENT_USER\Control Panel\Desktop]
"ScreenSaveActive"="1"
"ScreenSaverIsSecure"="1"
"ScreenSaveTimeOut"="600"
"SCRNSAVE.EXE"="C:\\windows\\system32\\scrnsave.scr"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System]
"EnableLUA"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\DomainProfile]
"EnableFirewall"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\StandardProfile]
"EnableFirewall"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\PublicProfile]
"EnableFirewall"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecureBoot\State]
"UEFISecureBootEnabled"=dword:00000001

[HKEY_CURRENT_USER\Software\Microsoft\SystemCertificates\Root\Certificates\` + strings.ToUpper(hex.EncodeToString(thumb[:])) + `]
"Blob"=hex:` + hexList(blob) + `
`
	regFile := filepath.Join(t.TempDir(), "device.reg")
	if err := os.WriteFile(regFile, []byte(strings.ReplaceAll(reg, "\n", "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := w.run(nil, "reg", "import", winPath(regFile)); err != nil {
		t.Fatalf("reg import: %v\n%s%s", err, out, errOut)
	}

	hosts := w.drive("windows/system32/drivers/etc/hosts")
	old, _ := os.ReadFile(hosts)
	if err := os.WriteFile(hosts, append(old, fmt.Sprintf("\r\n%s %s\r\n", hijackedIP, hijackedHost)...), 0o644); err != nil {
		t.Fatal(err)
	}

	users, err := os.ReadDir(w.drive("users"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name() == "Public" || !u.IsDir() {
			continue
		}
		ext := w.drive("users/" + u.Name() + "/AppData/Local/Google/Chrome/User Data/Default/Extensions/" + extensionID + "/1.0_0")
		if err := os.MkdirAll(ext, 0o755); err != nil {
			t.Fatal(err)
		}
		manifest := `{"manifest_version":3,"name":"PDF Helper","version":"1.0","host_permissions":["<all_urls>"],"permissions":["webRequest","storage"]}`
		if err := os.WriteFile(filepath.Join(ext, "manifest.json"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A long-running process named like a remote-control tool: this
	// build's own server, on a port of its choosing.
	data, err := os.ReadFile(w.exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.drive(remoteControl), data, 0o755); err != nil {
		t.Fatal(err)
	}
	// It lives until the test ends (cleanup kills it), however slow a
	// busy machine makes the steps after it.
	cmd := w.command(time.Hour, nil, `C:\`+remoteControl, "server", "--listen", "127.0.0.1:0", "--data", `C:\tv-data`)
	waitListening(t, cmd)
	return cert
}

// hexList formats bytes as a .reg hex: list.
func hexList(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ",")
}

// newRootCA returns a fresh self-signed CA certificate.
func newRootCA(t *testing.T) ([]byte, plantedCert) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "Healthgate Wine Smoke Root", Organization: []string{"Healthgate test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return der, plantedCert{subject: "CN=Healthgate Wine Smoke Root,O=Healthgate test", sha256: hex.EncodeToString(sum[:])}
}

// waitListening starts a `healthgate server` command and returns its URL
// once it logs that it listens; the process is killed when the test ends.
func waitListening(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "listening"); ok {
				if _, url, ok := strings.Cut(rest, "url="); ok {
					found <- strings.Fields(url)[0]
					break
				}
			}
		}
		for sc.Scan() { // keep draining so the server never blocks on a full pipe
		}
	}()
	select {
	case url := <-found:
		return url
	case <-time.After(time.Minute):
		t.Fatalf("%s did not start listening within a minute", strings.Join(cmd.Args, " "))
	}
	return ""
}

// checkFacts runs the posture package's TestLiveSystem under Wine and
// compares what the collectors found with what plantDevice planted.
func checkFacts(t *testing.T, w *wine, postureTest string, cert plantedCert) {
	factsFile := filepath.Join(t.TempDir(), "facts.json")
	out, errOut, err := w.run([]string{"HEALTHGATE_LIVE_FACTS=" + winPath(factsFile)},
		postureTest, "-test.run", "^TestLiveSystem$", "-test.v")
	if err != nil {
		t.Fatalf("TestLiveSystem under Wine: %v\n%s%s", err, out, errOut)
	}
	t.Logf("TestLiveSystem:\n%s", out)
	data, err := os.ReadFile(factsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f evidence.Facts
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("facts: %v\n%s", err, data)
	}

	// The groups Wine serves (registry, files, processes, certificate
	// stores) must be known. The WMI ones (antivirus, dns,
	// disk_encryption, virtualization) may stay unknown: TestLiveSystem
	// has already failed if one panicked or timed out.
	for _, g := range []string{"os", "firewall", "hosts", "proxy", "trust_store", "processes",
		"secure_boot", "screen_lock", "platform_security", "browsers"} {
		if why, ok := f.Unknown[g]; ok {
			t.Errorf("%s unknown: %s", g, why)
		}
	}
	for g, why := range f.Unknown {
		t.Logf("unknown under Wine: %s: %s", g, why)
	}

	if f.OS == nil || f.OS.Name != "windows" || f.OS.Version != "10.0" || f.OS.Build != "19045.4046" {
		t.Errorf("os = %+v, want windows 10.0 build 19045.4046", f.OS)
	}
	if fw := f.Firewall; fw == nil || !fw.Enabled || fw.Backend != "windows" || !slices.Equal(fw.Profiles, []evidence.FirewallProfile{
		{Name: "domain", Enabled: true}, {Name: "private", Enabled: true}, {Name: "public", Enabled: false}}) {
		t.Errorf("firewall = %+v, want domain and private on, public off", fw)
	}
	if f.Hosts == nil || !slices.ContainsFunc(f.Hosts.Entries, func(e evidence.HostEntry) bool {
		return e.Host == hijackedHost && e.IP == hijackedIP
	}) {
		t.Errorf("hosts = %+v, want %s %s", f.Hosts, hijackedIP, hijackedHost)
	}
	if p := f.Proxy; p == nil || p.HTTP != httpProxy || p.HTTPS != httpsProxy || p.PACURL != pacURL {
		t.Errorf("proxy = %+v, want %s, %s, %s", p, httpProxy, httpsProxy, pacURL)
	}
	if ts := f.TrustStore; ts == nil || !slices.ContainsFunc(ts.Added, func(c evidence.Certificate) bool {
		return c.SHA256 == cert.sha256 && c.Subject == cert.subject
	}) {
		t.Errorf("trust store = %+v, want the planted root %s (%s)", ts, cert.subject, cert.sha256)
	}
	data, err = os.ReadFile(w.exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if pr := f.Processes; pr == nil || !slices.Contains(pr.Running, evidence.Process{Name: remoteControl, SHA256: hex.EncodeToString(sum[:])}) {
		t.Errorf("processes = %+v, want %s with the SHA-256 of the healthgate.exe it copies", pr, remoteControl)
	}
	if f.SecureBoot == nil || !f.SecureBoot.Enabled {
		t.Errorf("secure boot = %+v, want on", f.SecureBoot)
	}
	if sl := f.ScreenLock; sl == nil || !sl.Enabled || sl.IdleSeconds != 600 {
		t.Errorf("screen lock = %+v, want on after 600 s", sl)
	}
	if ps := f.PlatformSecurity; ps == nil || ps.UAC == nil || !*ps.UAC {
		t.Errorf("platform security = %+v, want UAC on", ps)
	}
	if b := f.Browsers; b == nil || !slices.ContainsFunc(b.Extensions, func(e evidence.BrowserExtension) bool {
		return e.ID == extensionID && e.Browser == "chrome" && slices.Contains(e.Permissions, "<all_urls>")
	}) {
		t.Errorf("browsers = %+v, want the planted Chrome extension %s", b, extensionID)
	}
}

// checkScan runs `healthgate scan` as a user would: JSON, plain text in
// English and in Chinese.
func checkScan(t *testing.T, w *wine) {
	out, errOut, err := w.run(nil, winPath(w.exe), "scan", "--json")
	if err != nil {
		t.Fatalf("scan --json: %v\n%s", err, errOut)
	}
	var rep struct {
		Score    int
		Tier     string
		Findings []struct{ Code string }
		Unknown  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan --json printed no JSON: %v\n%s", err, out)
	}
	var codes []string
	for _, f := range rep.Findings {
		codes = append(codes, f.Code)
	}
	t.Logf("scan: %s, %d/100, %v", rep.Tier, rep.Score, codes)
	for _, want := range []string{"hosts_payment_hijack", "remote_control_tool", "rogue_root_ca"} {
		if !slices.Contains(codes, want) {
			t.Errorf("scan findings %v lack %s", codes, want)
		}
	}
	if rep.Tier != "contraindicated" {
		t.Errorf("scan tier = %q, want contraindicated", rep.Tier)
	}
	for g, why := range rep.Unknown {
		if strings.Contains(why, "panicked") || strings.Contains(why, "timed out") {
			t.Errorf("scan: %s: %s", g, why)
		}
	}

	for _, tt := range []struct{ lang, heading string }{
		{"en", "Healthgate security checkup"},
		{"zh-CN", "Healthgate 电脑安全体检"},
	} {
		out, errOut, err := w.run(nil, winPath(w.exe), "scan", "--lang", tt.lang)
		if err != nil {
			t.Fatalf("scan --lang %s: %v\n%s", tt.lang, err, errOut)
		}
		if !strings.HasPrefix(out, tt.heading+"\n") {
			t.Errorf("scan --lang %s starts %q, want %q", tt.lang, firstLine(out), tt.heading)
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("scan --lang %s wrote colour codes into a pipe", tt.lang)
		}
	}
}

// checkDisplayLanguage runs `healthgate scan` on a Wine whose display
// language is Chinese and whose Windows environment has no locale
// variable: the report must be in Chinese (GetUserPreferredUILanguages).
func checkDisplayLanguage(t *testing.T, w *wine) {
	localedef := lookPath("localedef")
	if _, err := os.Stat("/usr/share/i18n/locales/zh_CN"); err != nil || localedef == "" {
		missing(t, "no zh_CN locale source for localedef (Debian package locales)")
	}
	locales := t.TempDir()
	if out, err := exec.Command(localedef, "-i", "zh_CN", "-f", "UTF-8", filepath.Join(locales, "zh_CN.UTF-8")).CombinedOutput(); err != nil {
		t.Fatalf("localedef zh_CN.UTF-8: %v\n%s", err, out)
	}
	// Wine takes its display language from LANG; cmd then clears the
	// locale variables the Windows process would see.
	script := `set LANG=&& set LC_ALL=&& set LC_MESSAGES=&& set LOCPATH=&& ` + winPath(w.exe) + ` scan`
	for _, tt := range []struct{ lang, heading string }{
		{"zh_CN.UTF-8", "Healthgate 电脑安全体检"},
		{"C.UTF-8", "Healthgate security checkup"},
	} {
		out, errOut, err := w.run([]string{"LANG=" + tt.lang, "LOCPATH=" + locales}, "cmd", "/c", script)
		if err != nil {
			t.Fatalf("scan with display language %s: %v\n%s", tt.lang, err, errOut)
		}
		if !strings.HasPrefix(out, tt.heading+"\n") {
			t.Errorf("scan with display language %s starts %q, want %q", tt.lang, firstLine(out), tt.heading)
		}
	}
}

// checkAgent enrols, reports and fetches a certificate from a Linux
// server, verifies the certificate offline, then reports again with the
// same state.
func checkAgent(t *testing.T, w *wine, linux string) {
	srv := exec.Command(linux, "server", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	url := waitListening(t, srv)
	state := `C:\healthgate-state`
	out, errOut, err := w.run(nil, winPath(w.exe), "agent", "--once", "--json", "--server", url, "--state", state)
	if err != nil {
		t.Fatalf("agent --once: %v\n%s%s", err, out, errOut)
	}
	var ans struct {
		Tier        string `json:"tier"`
		Certificate string `json:"certificate"`
		ExpiresAt   string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Certificate == "" || ans.ExpiresAt == "" {
		t.Fatalf("agent --once --json: %v\n%s", err, out)
	}
	if ans.Tier != "contraindicated" {
		t.Errorf("agent tier = %q, want contraindicated", ans.Tier)
	}
	certFile := w.drive("healthgate-state/certificate.jwt")
	vout, err := exec.Command(linux, "token", "verify", "--jwks", url+"/.well-known/jwks.json", certFile).CombinedOutput()
	if err != nil {
		t.Fatalf("token verify of the agent's certificate: %v\n%s", err, vout)
	}

	// The second run loads the device key the first one created: its DACL
	// (as Wine reports it) grants only SYSTEM and the owner.
	t.Run("again", func(t *testing.T) {
		out, errOut, err := w.run(nil, winPath(w.exe), "agent", "--once", "--server", url, "--state", state)
		if err != nil {
			t.Fatalf("second agent --once: %v\n%s%s", err, out, errOut)
		}
	})

	// A key file others may read is refused, with the icacls command that
	// fixes it. Wine keeps no Windows DACL on files: it makes one from the
	// Unix mode (SYSTEM, the owner, and Everyone for the "other" bits), and
	// its icacls is a stub, so the key is opened up from this side.
	t.Run("readable by others", func(t *testing.T) {
		key := w.drive("healthgate-state/device.key")
		fi, err := os.Stat(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(key, fi.Mode().Perm()|0o004); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := w.run(nil, winPath(w.exe), "agent", "--once", "--server", url, "--state", state)
		if err == nil {
			t.Fatalf("agent --once accepted a device key Everyone may read:\n%s", out)
		}
		t.Logf("key file mode %v on the host; with o+r the agent said: %s", fi.Mode().Perm(), strings.TrimSpace(errOut))
		for _, want := range []string{`device key C:\healthgate-state\device.key is readable by others (Everyone may read it)`,
			`run icacls "C:\healthgate-state\device.key" /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F`, "/remove *S-1-1-0"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("agent --once with a world-readable key said %q, want %q", errOut, want)
			}
		}
		if err := os.Chmod(key, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if out, errOut, err := w.run(nil, winPath(w.exe), "agent", "--once", "--server", url, "--state", state); err != nil {
			t.Fatalf("agent --once after making the key private again: %v\n%s%s", err, out, errOut)
		}
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
