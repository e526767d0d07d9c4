package posture

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/healthgate/healthgate/evidence"
)

const windowsData = "testdata/windows"

// recording is a Windows device's recorded answers (testdata/windows/*.json):
// WMI rows by "namespace class", registry keys by path, the process list
// and the files holding the ROOT stores' certificates.
type recording struct {
	WMI       map[string]json.RawMessage `json:"wmi"`
	Registry  map[string]map[string]any  `json:"registry"`
	Processes []struct {
		PID     uint32
		ExeFile string
		Image   string
	} `json:"processes"`
	Roots map[string][]string `json:"roots"`
}

// recordedWindows is a winSystem that replays a recording.
type recordedWindows struct {
	t   *testing.T
	rec recording
}

var _ winSystem = recordedWindows{}

func loadRecording(t *testing.T, name string) recordedWindows {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(windowsData, name))
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recordedWindows{t, rec}
}

func (r recordedWindows) wmi(_ context.Context, namespace, class, where string, dst any) error {
	raw, ok := r.rec.WMI[namespace+" "+class]
	if !ok {
		return fmt.Errorf("wmi %s %s: not recorded", namespace, class)
	}
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		var e struct{ Error string }
		if err := json.Unmarshal(raw, &e); err != nil {
			r.t.Fatal(err)
		}
		switch e.Error {
		case "access_denied":
			return fmt.Errorf("wmi %s: %w", class, errWMIAccessDenied)
		case "invalid_namespace":
			return fmt.Errorf("wmi %s: %w", class, errWMINamespace)
		case "invalid_class":
			return fmt.Errorf("wmi %s: %w", class, errWMIClass)
		}
		return errors.New(e.Error)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		r.t.Fatalf("%s %s: %v", namespace, class, err)
	}
	return nil
}

func (r recordedWindows) registry(_ context.Context, key string) (regValues, error) {
	k, ok := r.rec.Registry[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, errRegistryNotFound)
	}
	v := regValues{}
	for name, val := range k {
		switch val := val.(type) {
		case float64:
			v[name] = uint64(val)
		case string:
			v[name] = val
		case []any:
			var ss []string
			for _, s := range val {
				ss = append(ss, fmt.Sprint(s))
			}
			v[name] = ss
		}
	}
	return v, nil
}

func (r recordedWindows) processes(context.Context) ([]winProcess, error) {
	if r.rec.Processes == nil {
		return nil, errors.New("process list not recorded")
	}
	var out []winProcess
	for _, p := range r.rec.Processes {
		exe := make([]uint16, 260) // PROCESSENTRY32W.szExeFile
		copy(exe, utf16.Encode([]rune(p.ExeFile)))
		out = append(out, winProcess{PID: p.PID, ExeFile: exe, Image: p.Image})
	}
	return out, nil
}

func (r recordedWindows) rootCertificates(context.Context) (map[string][][]byte, error) {
	if r.rec.Roots == nil {
		return nil, errors.New("certificate stores not recorded")
	}
	out := map[string][][]byte{}
	for store, files := range r.rec.Roots {
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(windowsData, "roots", f))
			if err != nil {
				data = []byte(f) // not a file: stored as is, a broken entry
			}
			if b, _ := pem.Decode(data); b != nil {
				data = b.Bytes
			}
			out[store] = append(out[store], data)
		}
	}
	return out, nil
}

// winNow is the clock of the recorded devices.
var winNow = time.Date(2024, 11, 29, 12, 0, 0, 0, time.UTC)

func TestWindowsCollectors(t *testing.T) {
	env := &Env{Root: windowsData + "/tree", Now: func() time.Time { return winNow }}
	known := baselineRoots()
	type collect func(context.Context, winSystem, *evidence.Facts) error
	var (
		osC   collect = func(ctx context.Context, s winSystem, f *evidence.Facts) error { return winOS(ctx, env, s, f) }
		fwC   collect = func(ctx context.Context, s winSystem, f *evidence.Facts) error { return winFirewall(ctx, env, s, f) }
		avC   collect = func(ctx context.Context, s winSystem, f *evidence.Facts) error { return winAntivirus(ctx, env, s, f) }
		diskC collect = func(ctx context.Context, s winSystem, f *evidence.Facts) error {
			return winDiskEncryption(ctx, s, "C:", f)
		}
		sbC    collect = winSecureBoot
		psC    collect = winPlatformSecurity
		lockC  collect = winScreenLock
		proxyC collect = winProxy
		dnsC   collect = winDNS
		vmC    collect = winVirtualization
		procC  collect = winProcesses
		trustC collect = func(ctx context.Context, s winSystem, f *evidence.Facts) error {
			return winTrustStore(ctx, s, known, f)
		}
	)
	eicar := fileSHA256Of(t, "testdata/infected/var/tmp/.dbus/dbus-helper")
	digicert := fileSHA256Of(t, windowsData+"/roots/DigiCert_Global_Root_G2.crt")
	tests := []struct {
		name    string
		file    string
		collect collect
		want    string // facts as JSON; "" when an error is expected
		wantErr string
	}{
		{"os", "win11-defender.json", osC, `{"os":{"name":"windows","version":"10.0","build":"22631.4460","last_update":"2024-11-20T00:00:00Z"}}`, ""},
		{"os day first and unparsable dates", "win10-defender-off.json", osC, `{"os":{"name":"windows","version":"10.0","build":"19045.5131","last_update":"2022-07-25T00:00:00Z"}}`, ""},
		{"os legacy version and future update", "win10-thirdparty.json", osC, `{"os":{"name":"windows","version":"6.3","build":"19045","last_update":"2024-10-08T00:00:00Z"}}`, ""},
		{"os server", "server2022.json", osC, `{"os":{"name":"windows","version":"10.0","build":"20348.2849","last_update":"2024-11-13T00:00:00Z"}}`, ""},
		{"os missing fields", "win-missing-fields.json", osC, "", "no windows version in the registry"},

		{"firewall on", "win11-defender.json", fwC, `{"firewall":{"enabled":true,"backend":"windows","profiles":[{"name":"domain","enabled":true},{"name":"private","enabled":true},{"name":"public","enabled":true}]}}`, ""},
		{"firewall public off", "win10-defender-off.json", fwC, `{"firewall":{"enabled":true,"backend":"windows","profiles":[{"name":"domain","enabled":true},{"name":"private","enabled":true},{"name":"public","enabled":false}]}}`, ""},
		{"firewall third party", "win10-thirdparty.json", fwC, `{"firewall":{"enabled":true,"backend":"Kaspersky Internet Security","profiles":[{"name":"domain","enabled":false},{"name":"private","enabled":false},{"name":"public","enabled":false}],"products":[{"name":"Kaspersky Internet Security","enabled":true,"state":"on"}]}}`, ""},
		{"firewall server without security center", "server2022.json", fwC, `{"firewall":{"enabled":true,"backend":"windows","profiles":[{"name":"domain","enabled":true},{"name":"private","enabled":true},{"name":"public","enabled":true}]}}`, ""},
		{"firewall missing settings", "win-missing-fields.json", fwC, "", "no windows firewall profile settings and no firewall product"},

		{"antivirus defender on", "win11-defender.json", avC, `{"antivirus":{"products":[{"name":"Windows Defender","enabled":true,"signatures_updated":"2024-11-28T06:02:41Z","state":"on","signatures_current":true,"microsoft":true}],"antispyware":[{"name":"Windows Defender","enabled":true,"signatures_updated":"2024-11-28T06:02:41Z","state":"on","signatures_current":true,"microsoft":true}]}}`, ""},
		{"antivirus defender off", "win10-defender-off.json", avC, `{"antivirus":{"products":[{"name":"Windows Defender","enabled":false,"signatures_updated":"2024-11-04T01:12:09Z","state":"off","signatures_current":false,"microsoft":true}],"antispyware":[{"name":"Windows Defender","enabled":false,"signatures_updated":"2024-11-04T01:12:09Z","state":"off","signatures_current":false,"microsoft":true}]}}`, ""},
		{"antivirus third party stale and expired", "win10-thirdparty.json", avC, `{"antivirus":{"products":[` +
			`{"name":"360 Total Security","enabled":true,"signatures_updated":"2024-11-01T09:30:00Z","state":"on","signatures_current":false,"microsoft":false},` +
			`{"name":"火绒安全软件","enabled":true,"signatures_updated":"2024-11-10T13:45:10Z","state":"on","signatures_current":false,"microsoft":false},` +
			`{"name":"Kaspersky Internet Security","enabled":false,"signatures_updated":"2024-10-15T08:00:00Z","state":"expired","signatures_current":false,"microsoft":false},` +
			`{"name":"Windows Defender","enabled":false,"state":"off","signatures_current":true,"microsoft":true}],` +
			`"antispyware":[{"name":"360 Total Security","enabled":true,"state":"on","signatures_current":false,"microsoft":false}]}}`, ""},
		{"antivirus snoozed", "win10-snoozed.json", avC, `{"antivirus":{"products":[` +
			`{"name":"AVG Antivirus","enabled":false,"signatures_updated":"2024-11-27T22:10:05Z","state":"snoozed","signatures_current":true,"microsoft":false},` +
			`{"name":"Norton Security","enabled":false,"signatures_updated":"2024-06-01T00:00:00Z","state":"expired","signatures_current":false,"microsoft":false},` +
			`{"name":"Windows Defender","enabled":false,"state":"off","signatures_current":true,"microsoft":true}]}}`, ""},
		{"antivirus server", "server2022.json", avC, "", "windows security center does not exist on windows server editions"},
		{"antivirus missing productState", "win-missing-fields.json", avC, "", "AntiVirusProduct: security center row without displayName or productState"},

		{"bitlocker on", "win11-defender.json", diskC, `{"disk_encryption":{"system_encrypted":true,"method":"bitlocker"}}`, ""},
		{"bitlocker off", "win10-defender-off.json", diskC, `{"disk_encryption":{"system_encrypted":false}}`, ""},
		{"bitlocker access denied", "win10-thirdparty.json", diskC, "", "reading bitlocker status needs administrator rights"},
		{"bitlocker not installed", "server2022.json", diskC, "", "bitlocker is not available on this windows edition"},
		{"bitlocker status missing", "win-missing-fields.json", diskC, "", "bitlocker protection status of C: is missing"},

		{"secure boot on", "win11-defender.json", sbC, `{"secure_boot":{"enabled":true}}`, ""},
		{"secure boot legacy bios", "win10-defender-off.json", sbC, `{"secure_boot":{"enabled":false}}`, ""},
		{"secure boot off", "win10-thirdparty.json", sbC, `{"secure_boot":{"enabled":false}}`, ""},

		{"uac on", "win11-defender.json", psC, `{"platform_security":{"uac":true}}`, ""},
		{"uac off", "win10-defender-off.json", psC, `{"platform_security":{"uac":false}}`, ""},
		{"uac unreadable", "win-missing-fields.json", psC, "", "reading user account control setting"},

		{"screen lock screen saver", "win11-defender.json", lockC, `{"screen_lock":{"enabled":true,"idle_seconds":600}}`, ""},
		{"screen lock insecure screen saver", "win10-defender-off.json", lockC, `{"screen_lock":{"enabled":false}}`, ""},
		{"screen lock inactivity limit", "win10-thirdparty.json", lockC, `{"screen_lock":{"enabled":true,"idle_seconds":300}}`, ""},

		{"proxy none", "win11-defender.json", proxyC, `{"proxy":{}}`, ""},
		{"proxy per protocol and pac", "win10-defender-off.json", proxyC, `{"proxy":{"http":"127.0.0.1:8888","https":"127.0.0.1:8888","pac_url":"http://wpad.pay-secure.example/proxy.pac"}}`, ""},
		{"proxy per machine", "win10-thirdparty.json", proxyC, `{"proxy":{"http":"proxy.corp.example:3128","https":"proxy.corp.example:3128"}}`, ""},

		{"dns", "win11-defender.json", dnsC, `{"dns":{"servers":["192.168.1.1","fe80::1","223.5.5.5"]}}`, ""},
		{"dns skips non addresses", "win10-defender-off.json", dnsC, `{"dns":{"servers":["45.77.180.10"]}}`, ""},
		{"dns missing fields", "win-missing-fields.json", dnsC, `{"dns":{"servers":[]}}`, ""},

		{"physical machine", "win11-defender.json", vmC, `{"virtualization":{"virtual_machine":false,"emulator":false}}`, ""},
		{"vmware", "win10-thirdparty.json", vmC, `{"virtualization":{"virtual_machine":true,"emulator":false,"product":"VMware"}}`, ""},
		{"hyper-v", "server2022.json", vmC, `{"virtualization":{"virtual_machine":true,"emulator":false,"product":"Hyper-V"}}`, ""},
		{"computer system missing fields", "win-missing-fields.json", vmC, "", "win32_computersystem has no manufacturer or model"},

		{"processes", "win11-defender.json", procC, `{"processes":{"running":[{"name":"System"},{"name":"explorer.exe"},{"name":"svchost.exe","sha256":"` + digicert + `"}]}}`, ""},
		{"remote control tools", "win10-defender-off.json", procC, `{"processes":{"running":[{"name":"SunloginClient.exe"},{"name":"TeamViewer.exe"},{"name":"svch0st.exe","sha256":"` + eicar + `"},{"name":"向日葵远程控制.exe"}]}}`, ""},
		{"process name from image", "win10-thirdparty.json", procC, `{"processes":{"running":[{"name":"AnyDesk.exe"},{"name":"rustdesk.exe"},{"name":"tvnserver.exe"}]}}`, ""},

		{"trust store stock", "win11-defender.json", trustC, `{"trust_store":{"added":[]}}`, ""},
		{"trust store rogue root", "win10-defender-off.json", trustC, `{"trust_store":{"added":[{"subject":"CN=Secure Payment Root CA,O=Secure Payment Services Ltd,C=CN","sha256":"7231fbbf95f63d71b1038cf0697df99ad236c6e49dcdd7391513a493170872f5"}],"unreadable":1}}`, ""},
		{"trust store not recorded", "win10-snoozed.json", trustC, "", "reading root certificate stores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := loadRecording(t, tt.file)
			var f evidence.Facts
			err := tt.collect(context.Background(), sys, &f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestWindowsHosts(t *testing.T) {
	root, dir := windowsRoot(windowsData+"/tree", `D:\ignored`)
	env := &Env{Root: root, Now: func() time.Time { return winNow }}
	var f evidence.Facts
	if err := winHosts(context.Background(), env, dir+"/System32/drivers/etc", "", &f); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(f.Hosts)
	if want := `{"entries":[{"host":"www.alipay.com","ip":"203.0.113.66"},{"host":"mapi.alipay.com","ip":"203.0.113.66"}]}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A tree without a hosts file has no entries.
	empty := &Env{Root: t.TempDir(), Now: env.Now}
	f = evidence.Facts{}
	if err := winHosts(context.Background(), empty, "Windows/System32/drivers/etc", "", &f); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Hosts.Entries), 0; got != want {
		t.Errorf("%d entries, want %d", got, want)
	}
}

func fileSHA256Of(t *testing.T, name string) string {
	t.Helper()
	sum := hashExecutable(context.Background(), name, map[winExeKey]string{})
	if sum == "" {
		t.Fatalf("cannot hash %s", name)
	}
	return sum
}

// storedRoots is a winSystem whose ROOT stores hold the given DER
// certificates, by store name; nothing else is recorded.
type storedRoots struct {
	recordedWindows
	stores map[string][][]byte
}

func (s storedRoots) rootCertificates(context.Context) (map[string][][]byte, error) {
	return s.stores, nil
}

// TestWindowsTrustStoreStockRoots: a Windows PC whose ROOT stores hold the
// roots Windows ships (roots/microsoft) and roots Mozilla also trusts
// reports no added root; the rogue root among them is still reported; and
// with Mozilla's baseline alone every Windows root would be a false alarm.
func TestWindowsTrustStoreStockRoots(t *testing.T) {
	der := func(file string) []byte {
		data, err := os.ReadFile(filepath.Join(windowsData, "roots", file))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if b == nil {
			t.Fatalf("%s: no PEM block", file)
		}
		return b.Bytes
	}
	windowsRoots := loadWindowsRoots(t)
	var stock [][]byte
	for _, r := range windowsRoots {
		stock = append(stock, r.cert.Raw)
	}
	stock = append(stock, der("Microsoft_RSA_Root_Certificate_Authority_2017.crt"), der("DigiCert_Global_Root_G2.crt"))
	rogue := der("secure-payment-root-ca.crt")

	var mozilla bytes.Buffer
	for line := range strings.Lines(string(baselineText)) {
		if fields := strings.Split(line, "\t"); len(fields) < 2 || fields[1] != "windows" {
			mozilla.WriteString(line)
		}
	}
	mozillaOnly := parseRootBaseline(mozilla.Bytes())

	tests := []struct {
		name   string
		stores map[string][][]byte
		known  func(string) bool
		want   string
	}{
		{"stock stores", map[string][][]byte{"LocalMachine": stock, "CurrentUser": stock}, baselineRoots(),
			`{"trust_store":{"added":[]}}`},
		{"stock stores and a rogue root", map[string][][]byte{"LocalMachine": stock, "CurrentUser": append(slices.Clone(stock), rogue)}, baselineRoots(),
			`{"trust_store":{"added":[{"subject":"CN=Secure Payment Root CA,O=Secure Payment Services Ltd,C=CN","sha256":"7231fbbf95f63d71b1038cf0697df99ad236c6e49dcdd7391513a493170872f5"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f evidence.Facts
			if err := winTrustStore(context.Background(), storedRoots{stores: tt.stores}, tt.known, &f); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}

	var f evidence.Facts
	stores := map[string][][]byte{"LocalMachine": stock}
	if err := winTrustStore(context.Background(), storedRoots{stores: stores}, func(fp string) bool { return mozillaOnly[fp] }, &f); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.TrustStore.Added), len(windowsRoots); got != want {
		t.Errorf("with Mozilla's baseline alone %d roots added, want every Windows root (%d)", got, want)
	}
}

// TestWinHostsDir: the hosts file is read where Tcpip's DataBasePath says,
// as Windows reads it, so a hosts file moved by malware is still checked.
func TestWinHostsDir(t *testing.T) {
	for _, tt := range []struct {
		value, systemRoot, root, dir string
	}{
		{"", `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`%SystemRoot%\System32\drivers\etc`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`%systemroot%\System32\drivers\etc`, `D:\WINNT`, `D:\`, "WINNT/System32/drivers/etc"},
		{`%windir%\Temp\etc`, `C:\Windows`, `C:\`, "Windows/Temp/etc"},
		{`C:\ProgramData\svc\etc\`, `C:\Windows`, `C:\`, "ProgramData/svc/etc"},
		{`e:\evil`, `C:\Windows`, `E:\`, "evil"},
		// What Windows could not use leaves the default.
		{`relative\etc`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`%ProgramData%\etc`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`C:\`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`C:\a\..\..\b`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
		{`\\server\share\etc`, `C:\Windows`, `C:\`, "Windows/System32/drivers/etc"},
	} {
		root, dir := winHostsDir(tt.value, tt.systemRoot)
		if root != tt.root || dir != tt.dir {
			t.Errorf("winHostsDir(%q, %q) = %q, %q; want %q, %q", tt.value, tt.systemRoot, root, dir, tt.root, tt.dir)
		}
	}
}
