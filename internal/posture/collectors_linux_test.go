package posture

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// The infected tree's known-bad executable, /var/tmp/.dbus/dbus-helper run
// as process 3131: the EICAR anti-malware test file, which the default
// policy lists as malware.
const malwareSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

// The infected tree's rogue root CA, usr/local/share/ca-certificates/
// secure-payment-root-ca.crt.
const (
	rogueCASubject = "CN=Secure Payment Root CA,O=Secure Payment Services Ltd,C=CN"
	rogueCASHA256  = "7231fbbf95f63d71b1038cf0697df99ad236c6e49dcdd7391513a493170872f5"
)

const (
	healthy  = "testdata/healthy"
	infected = "testdata/infected"
)

// treeEnv returns an Env reading a device tree, with a clock an hour after
// the newest file time in it, so "how recent" facts stay the same however
// old the checkout is.
func treeEnv(t *testing.T, root string) *Env {
	t.Helper()
	var newest time.Time
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now := newest.Add(time.Hour)
	return &Env{Root: root, Now: func() time.Time { return now }}
}

func mtime(t *testing.T, name string) *time.Time {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	m := fi.ModTime().UTC()
	return &m
}

func fileSHA256(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func date(s string) *time.Time {
	t, err := time.Parse(time.DateTime, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func later(a, b *time.Time) *time.Time {
	if a.After(*b) {
		return a
	}
	return b
}

// wantTrees is what every collector should find in the two device trees.
func wantTrees(t *testing.T) map[string]evidence.Facts {
	t.Helper()
	exe := func(root, name string) string { return fileSHA256(t, filepath.Join(root, name)) }
	return map[string]evidence.Facts{
		healthy: {
			OS: &evidence.OSFacts{
				Name: "debian", Version: "12", Kernel: "6.1.0-27-amd64",
				// The apt log's last entry, or unattended-upgrades' stamp,
				// whose time is the checkout's.
				LastUpdate: later(date("2026-11-20 10:11:12"), mtime(t, healthy+"/var/lib/apt/periodic/upgrade-stamp")),
			},
			Firewall: &evidence.FirewallFacts{Enabled: true, Backend: "ufw"},
			Antivirus: &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{{
				Name: "ClamAV", Enabled: true,
				SignaturesUpdated: later(mtime(t, healthy+"/var/lib/clamav/daily.cld"),
					later(mtime(t, healthy+"/var/lib/clamav/main.cvd"), mtime(t, healthy+"/var/lib/clamav/bytecode.cvd"))),
			}}},
			Hosts: &evidence.HostsFacts{Entries: []evidence.HostEntry{
				{Host: "nas.home.arpa", IP: "192.168.1.20"},
				{Host: "nas", IP: "192.168.1.20"},
			}},
			DNS:        &evidence.DNSFacts{Servers: []string{"1.1.1.1"}},
			Proxy:      &evidence.ProxyFacts{},
			TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{}},
			Processes: &evidence.ProcessFacts{Running: []evidence.Process{
				{Name: "clamd", SHA256: exe(healthy, "usr/sbin/clamd")},
				{Name: "firefox-esr", SHA256: exe(healthy, "usr/lib/firefox-esr/firefox-esr")},
				{Name: "sshd", SHA256: exe(healthy, "usr/sbin/sshd")},
				{Name: "systemd", SHA256: exe(healthy, "usr/lib/systemd/systemd")},
			}},
			// Debian's "encrypted LVM": root on lin--pc--vg-root (dm-1)
			// over the LUKS2 mapping nvme0n1p3_crypt (dm-0).
			DiskEncryption:   &evidence.DiskEncryptionFacts{SystemEncrypted: true, Method: "luks"},
			SecureBoot:       &evidence.SecureBootFacts{Enabled: true},
			ScreenLock:       &evidence.ScreenLockFacts{Enabled: true, IdleSeconds: 300},
			PlatformSecurity: &evidence.PlatformSecurityFacts{},
			// uBlock Origin in Firefox ESR; the harmless Chrome extension
			// (storage, alarms, notifications) is not reported.
			Browsers: &evidence.BrowserFacts{Extensions: []evidence.BrowserExtension{{
				Browser: "firefox", ID: "uBlock0@raymondhill.net", Name: "uBlock Origin",
				Permissions: []string{"<all_urls>", "http://*/*", "https://*/*", "webRequest", "webRequestBlocking"},
			}}},
			Virtualization: &evidence.VirtualizationFacts{},
		},
		infected: {
			OS: &evidence.OSFacts{
				Name: "debian", Version: "12", Kernel: "6.1.0-13-amd64",
				KernelBuilt: date("2023-09-29 00:00:00"),
				LastUpdate:  date("2025-03-02 19:40:37"),
			},
			Firewall:  &evidence.FirewallFacts{},
			Antivirus: &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{}},
			Hosts: &evidence.HostsFacts{Entries: []evidence.HostEntry{
				{Host: "www.alipay.com", IP: "203.0.113.66"},
				{Host: "alipay.com", IP: "203.0.113.66"},
			}},
			DNS: &evidence.DNSFacts{Servers: []string{"192.168.1.1"}},
			Proxy: &evidence.ProxyFacts{
				HTTP:  "http://203.0.113.66:8080",
				HTTPS: "http://203.0.113.66:8080",
			},
			TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{
				{Subject: rogueCASubject, SHA256: rogueCASHA256},
			}},
			Processes: &evidence.ProcessFacts{Running: []evidence.Process{
				{Name: "dbus-helper", SHA256: malwareSHA256},
				{Name: "firefox-esr", SHA256: exe(infected, "usr/lib/firefox-esr/firefox-esr")},
				{Name: "sshd", SHA256: exe(infected, "usr/sbin/sshd")},
				{Name: "systemd", SHA256: exe(infected, "usr/lib/systemd/systemd")},
				{Name: "teamviewerd", SHA256: "a404ec4b8ddedbcfb7149eec8bc6998b90b15ef7760b5ec507d6b0326e7c394e"},
			}},
			DiskEncryption:   &evidence.DiskEncryptionFacts{},
			SecureBoot:       &evidence.SecureBootFacts{},
			ScreenLock:       &evidence.ScreenLockFacts{},
			PlatformSecurity: &evidence.PlatformSecurityFacts{},
			Browsers: &evidence.BrowserFacts{Extensions: []evidence.BrowserExtension{{
				Browser: "chrome", ID: "kdjgfbmlpnhcdkjbmfpgialkdjpnkhoe", Name: "PDF Converter Pro",
				Permissions: []string{"<all_urls>", "cookies", "webRequest"},
			}}},
			Virtualization: &evidence.VirtualizationFacts{},
		},
	}
}

// group returns the named group of f, for comparison as JSON.
func group(f evidence.Facts, name string) any {
	switch name {
	case groupOS:
		return f.OS
	case groupFirewall:
		return f.Firewall
	case groupAntivirus:
		return f.Antivirus
	case groupHosts:
		return f.Hosts
	case groupDNS:
		return f.DNS
	case groupProxy:
		return f.Proxy
	case groupTrustStore:
		return f.TrustStore
	case groupProcesses:
		return f.Processes
	case groupDiskEncryption:
		return f.DiskEncryption
	case groupSecureBoot:
		return f.SecureBoot
	case groupScreenLock:
		return f.ScreenLock
	case groupPlatformSecurity:
		return f.PlatformSecurity
	case groupBrowsers:
		return f.Browsers
	case groupVirtualization:
		return f.Virtualization
	}
	panic("unknown group " + name)
}

func TestCollectorsOnTrees(t *testing.T) {
	want := wantTrees(t)
	for _, root := range []string{healthy, infected} {
		for _, c := range collectors() {
			t.Run(filepath.Base(root)+"/"+c.Name(), func(t *testing.T) {
				var f evidence.Facts
				if err := c.Collect(context.Background(), treeEnv(t, root), &f); err != nil {
					t.Fatalf("Collect: %v", err)
				}
				if got, want := jsonOf(t, group(f, c.Name())), jsonOf(t, group(want[root], c.Name())); got != want {
					t.Errorf("facts.%s\n got %s\nwant %s", c.Name(), got, want)
				}
			})
		}
	}
}

func TestCollectTrees(t *testing.T) {
	want := wantTrees(t)
	for _, root := range []string{healthy, infected} {
		t.Run(filepath.Base(root), func(t *testing.T) {
			env := treeEnv(t, root)
			got := Collect(context.Background(), Options{Root: root, Now: env.Now})
			if got, want := jsonOf(t, got), jsonOf(t, want[root]); got != want {
				t.Errorf("Collect\n got %s\nwant %s", got, want)
			}
			// The facts fit the evidence schema.
			claims := evidence.Claims{
				Nonce: "0123456789abcdef", UEID: "device", IssuedAt: 1,
				SWName: "healthgate", Platform: "linux", Facts: got,
			}
			if err := claims.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// copyTree copies a device tree into a temporary directory, keeping
// symbolic links as they are.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case fi.IsDir():
			return os.MkdirAll(to, 0o755)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, data, fi.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, root, name, target string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func fixedEnv(root string, now time.Time) *Env {
	return &Env{Root: root, Now: func() time.Time { return now }}
}

func TestLastUpdate(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	stamp := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		files map[string]string
		mtime map[string]time.Time
		want  string // RFC 3339, "" for none
	}{
		{
			name:  "apt history and dpkg log",
			files: map[string]string{"var/log/apt/history.log": "End-Date: 2026-11-20  10:11:12\n", "var/log/dpkg.log": "2026-11-21 08:00:00 status installed a:amd64 1\n"},
			want:  "2026-11-21T08:00:00Z",
		},
		{
			name:  "upgrade stamp newer than logs",
			files: map[string]string{"var/log/apt/history.log": "End-Date: 2026-11-20  10:11:12\n", "var/lib/apt/periodic/upgrade-stamp": ""},
			mtime: map[string]time.Time{"var/lib/apt/periodic/upgrade-stamp": stamp},
			want:  "2026-11-28T06:00:00Z",
		},
		{
			name:  "update-success-stamp is not an install",
			files: map[string]string{"var/lib/apt/periodic/update-success-stamp": ""},
			mtime: map[string]time.Time{"var/lib/apt/periodic/update-success-stamp": stamp},
			want:  "",
		},
		{
			name:  "future log entry ignored",
			files: map[string]string{"var/log/dpkg.log": "2099-01-01 00:00:00 status installed a:amd64 1\n2026-11-01 00:00:00 status installed b:amd64 1\n"},
			want:  "2026-11-01T00:00:00Z",
		},
		{
			name:  "rpm database",
			files: map[string]string{"var/lib/rpm/rpmdb.sqlite": "x"},
			mtime: map[string]time.Time{"var/lib/rpm/rpmdb.sqlite": stamp, "var/lib/rpm": stamp.Add(-time.Hour)},
			want:  "2026-11-28T06:00:00Z",
		},
		{
			name:  "log in the device's time zone",
			files: map[string]string{"etc/timezone": "Asia/Shanghai\n", "var/log/apt/history.log": "End-Date: 2026-11-20  10:11:12\n"},
			want:  "2026-11-20T02:11:12Z",
		},
		{
			name: "nothing",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "etc/os-release", "ID=debian\n")
			for name, content := range tt.files {
				write(t, root, name, content)
			}
			for name, m := range tt.mtime {
				if err := os.Chtimes(filepath.Join(root, name), m, m); err != nil {
					t.Fatal(err)
				}
			}
			var f evidence.Facts
			if err := (osCollector{}).Collect(context.Background(), fixedEnv(root, now), &f); err != nil {
				t.Fatal(err)
			}
			got := ""
			if f.OS.LastUpdate != nil {
				got = f.OS.LastUpdate.Format(time.RFC3339)
			}
			if got != tt.want {
				t.Errorf("LastUpdate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAntivirusSignatureAge(t *testing.T) {
	root := copyTree(t, healthy)
	old := time.Date(2026, 9, 1, 3, 0, 0, 0, time.UTC)
	for _, name := range []string{"daily.cld", "main.cvd", "bytecode.cvd"} {
		if err := os.Chtimes(filepath.Join(root, "var/lib/clamav", name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(root, "proc/701/comm")); err != nil {
		t.Fatal(err)
	}
	var f evidence.Facts
	env := fixedEnv(root, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	if err := (antivirusCollector{}).Collect(context.Background(), env, &f); err != nil {
		t.Fatal(err)
	}
	want := evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{{Name: "ClamAV", Enabled: false, SignaturesUpdated: &old}}}
	if got, want := jsonOf(t, f.Antivirus), jsonOf(t, want); got != want {
		t.Errorf("antivirus\n got %s\nwant %s", got, want)
	}
}

func TestFirewallBackends(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  evidence.FirewallFacts
	}{
		{"none", nil, nil, evidence.FirewallFacts{}},
		{"ufw enabled", map[string]string{"etc/ufw/ufw.conf": "ENABLED=yes\n"}, nil, evidence.FirewallFacts{Enabled: true, Backend: "ufw"}},
		{"ufw enabled accepting everything", map[string]string{"etc/ufw/ufw.conf": "ENABLED=yes\n", "etc/default/ufw": "DEFAULT_INPUT_POLICY=\"ACCEPT\"\n"}, nil, evidence.FirewallFacts{}},
		{"ufw disabled", map[string]string{"etc/ufw/ufw.conf": "ENABLED=no\n"}, nil, evidence.FirewallFacts{}},
		{"firewalld", nil, map[string]string{"etc/systemd/system/multi-user.target.wants/firewalld.service": "/usr/lib/systemd/system/firewalld.service"}, evidence.FirewallFacts{Enabled: true, Backend: "firewalld"}},
		{"nftables debian default", map[string]string{"etc/nftables.conf": debianNftablesConf}, nil, evidence.FirewallFacts{}},
		{"nftables drop policy", map[string]string{"etc/nftables.conf": strictNftables}, nil, evidence.FirewallFacts{Enabled: true, Backend: "nftables"}},
		{"iptables persisted", map[string]string{"etc/iptables/rules.v4": "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"}, nil, evidence.FirewallFacts{Enabled: true, Backend: "iptables"}},
		{"iptables accept all", map[string]string{"etc/iptables/rules.v4": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"}, nil, evidence.FirewallFacts{}},
		{"ufw off, nftables on", map[string]string{"etc/ufw/ufw.conf": "ENABLED=no\n", "etc/nftables.conf": strictNftables}, nil, evidence.FirewallFacts{Enabled: true, Backend: "nftables"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				write(t, root, name, content)
			}
			for name, target := range tt.links {
				symlink(t, root, name, target)
			}
			var f evidence.Facts
			if err := (firewallCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
				t.Fatal(err)
			}
			if got, want := *f.Firewall, tt.want; !reflect.DeepEqual(got, want) {
				t.Errorf("firewall = %+v, want %+v", got, want)
			}
		})
	}
}

// TestHostsHuge: a hijack after 50 MB of padding is still found, and
// reading such a file costs bounded memory.
func TestHostsHuge(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "etc", "hosts")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var chunk bytes.Buffer
	for i := 0; chunk.Len() < 1<<20; i++ {
		chunk.WriteString("# " + strings.Repeat("x", 2000) + "\n10.0.0.1 host.example\n")
	}
	file, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := file.Write(chunk.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := file.WriteString("203.0.113.66 www.alipay.com\n"); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var f evidence.Facts
	if err := (hostsCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	want := []evidence.HostEntry{{Host: "host.example", IP: "10.0.0.1"}, {Host: "www.alipay.com", IP: "203.0.113.66"}}
	if !reflect.DeepEqual(f.Hosts.Entries, want) || f.Hosts.Truncated {
		t.Errorf("hosts = %+v (truncated %v), want %+v", f.Hosts.Entries, f.Hosts.Truncated, want)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16<<20); got > limit {
		t.Errorf("allocated %d bytes reading a 50 MB hosts file, want at most %d", got, limit)
	}
}

// TestHostsOverLimit: a file over the size limit is read up to it, says
// it was truncated, and the line the limit cuts is not read as a whole.
func TestHostsOverLimit(t *testing.T) {
	file := "10.0.0.1 a.example\n203.0.113.66 www.alipay.com\n"
	limit := int64(len("10.0.0.1 a.example\n203.0.113.66 www.ali"))
	entries, _, err := scanHosts(&limitedReader{r: strings.NewReader(file), left: limit}, "")
	if !errors.Is(err, errHostsTooLarge) {
		t.Errorf("err = %v, want errHostsTooLarge", err)
	}
	if want := []evidence.HostEntry{{Host: "a.example", IP: "10.0.0.1"}}; !reflect.DeepEqual(entries, want) {
		t.Errorf("entries = %+v, want %+v (not the cut www.ali)", entries, want)
	}
	// An overlong line is skipped, the lines around it are read.
	long := "10.0.0.2 " + strings.Repeat("b", maxHostsLine) + ".example\n"
	entries, truncated, err := scanHosts(strings.NewReader("10.0.0.1 a.example\n"+long+"10.0.0.3 c.example"), "")
	want := []evidence.HostEntry{{Host: "a.example", IP: "10.0.0.1"}, {Host: "c.example", IP: "10.0.0.3"}}
	if err != nil || truncated || !reflect.DeepEqual(entries, want) {
		t.Errorf("with an overlong line: %+v %v %v, want %+v", entries, truncated, err, want)
	}
}

func TestHostsManyEntries(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		b.WriteString("10.0.0.1 h" + strings.Repeat("a", i%50) + "-" + time.Duration(i).String() + ".example\n")
	}
	write(t, root, "etc/hosts", b.String())
	var f evidence.Facts
	if err := (hostsCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Hosts.Entries), maxHostsEntries; got != want {
		t.Errorf("len(Entries) = %d, want %d", got, want)
	}
	if got, want := f.Hosts.Truncated, true; got != want {
		t.Errorf("Truncated = %v, want %v", got, want)
	}
}

func TestTrustStoreBroken(t *testing.T) {
	root := t.TempDir()
	rogue, err := os.ReadFile(filepath.Join(infected, "usr/local/share/ca-certificates/secure-payment-root-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block := "-----BEGIN CERTIFICATE-----\nMIIBroken/notbase64!!\n-----END CERTIFICATE-----\n"
	garbled := strings.Replace(string(rogue), "MIIB3D", "MIIB3E", 1)
	write(t, root, "usr/local/share/ca-certificates/broken.crt", block)
	write(t, root, "usr/local/share/ca-certificates/garbled.crt", garbled)
	write(t, root, "usr/local/share/ca-certificates/empty.crt", "")
	write(t, root, "usr/local/share/ca-certificates/binary.crt", "\x30\x82\xff\xff\x00")
	write(t, root, "usr/local/share/ca-certificates/sub/rogue.crt", string(rogue))
	write(t, root, "etc/pki/ca-trust/source/anchors/bundle.pem", string(rogue)+block)
	symlink(t, root, "etc/ca-certificates/trust-source/anchors/loop.crt", "loop.crt")

	var f evidence.Facts
	if err := (trustStoreCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	want := evidence.TrustStoreFacts{
		Added:      []evidence.Certificate{{Subject: rogueCASubject, SHA256: rogueCASHA256}},
		Unreadable: 6, // broken, garbled, empty, binary, the bundle's bad block, the link loop
	}
	if got, want := jsonOf(t, f.TrustStore), jsonOf(t, want); got != want {
		t.Errorf("trust store\n got %s\nwant %s", got, want)
	}
}

func TestProcessNames(t *testing.T) {
	root := t.TempDir()
	write(t, root, "bin/prog", "program")
	sum := fileSHA256(t, filepath.Join(root, "bin/prog"))
	write(t, root, "proc/10/comm", "caf\xe9\xff\n")
	symlink(t, root, "proc/10/exe", "/bin/prog")
	write(t, root, "proc/11/comm", "gone\n")
	symlink(t, root, "proc/11/exe", "/bin/deleted")
	write(t, root, "proc/12/comm", "relative\n")
	symlink(t, root, "proc/12/exe", "../../bin/prog")
	write(t, root, "proc/13/comm", "\n") // no name: skipped
	write(t, root, "proc/14/comm", "escape\n")
	symlink(t, root, "proc/14/exe", "../../../../../../../../etc/passwd")
	write(t, root, "proc/self/comm", "not a pid\n")

	var f evidence.Facts
	if err := (processCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	want := []evidence.Process{
		{Name: "caf\uFFFD", SHA256: sum},
		{Name: "escape"}, // ".." stops at the root: /etc/passwd of the tree, which is missing
		{Name: "gone"},
		{Name: "relative", SHA256: sum},
	}
	if got, want := jsonOf(t, f.Processes.Running), jsonOf(t, want); got != want {
		t.Errorf("processes\n got %s\nwant %s", got, want)
	}
}

func TestProcessesWithoutProc(t *testing.T) {
	var f evidence.Facts
	err := (processCollector{}).Collect(context.Background(), fixedEnv(t.TempDir(), time.Now()), &f)
	if err == nil {
		t.Fatal("Collect without /proc: no error")
	}
}

func TestDNSResolvedStub(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  []string
	}{
		{
			name: "stub with upstreams",
			files: map[string]string{
				"run/systemd/resolve/stub-resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n",
				"run/systemd/resolve/resolv.conf":      "nameserver 192.168.1.1\nnameserver fe80::1%enp3s0\n",
			},
			links: map[string]string{"etc/resolv.conf": "/run/systemd/resolve/stub-resolv.conf"},
			want:  []string{"192.168.1.1", "fe80::1%enp3s0"},
		},
		{
			name:  "relative link, no upstream file",
			files: map[string]string{"run/systemd/resolve/stub-resolv.conf": "nameserver 127.0.0.53\n"},
			links: map[string]string{"etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf"},
			want:  []string{"127.0.0.53"},
		},
		{
			name: "no resolv.conf",
			want: []string{},
		},
		{
			name: "NetworkManager's dnsmasq with upstreams",
			files: map[string]string{
				"etc/resolv.conf":                        "# Generated by NetworkManager\nnameserver 127.0.1.1\n",
				"run/NetworkManager/no-stub-resolv.conf": "nameserver 85.255.112.1\nnameserver 127.0.1.1\nnameserver 192.168.1.1\n",
			},
			want: []string{"85.255.112.1", "192.168.1.1"},
		},
		{
			name:  "a loopback resolver, no NetworkManager",
			files: map[string]string{"etc/resolv.conf": "nameserver 127.0.0.1\nnameserver 9.9.9.9\n"},
			want:  []string{"127.0.0.1", "9.9.9.9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				write(t, root, name, content)
			}
			for name, target := range tt.links {
				symlink(t, root, name, target)
			}
			var f evidence.Facts
			if err := (dnsCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
				t.Fatal(err)
			}
			if got, want := jsonOf(t, f.DNS.Servers), jsonOf(t, tt.want); got != want {
				t.Errorf("servers = %s, want %s", got, want)
			}
		})
	}
}

func TestProxyOrder(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/environment", "http_proxy=http://first:1\nAUTO_PROXY=http://wpad/proxy.pac\n")
	write(t, root, "etc/profile.d/10-a.sh", "export http_proxy=http://second:2\n")
	write(t, root, "etc/profile.d/20-b.txt", "export http_proxy=http://ignored:3\n")
	var f evidence.Facts
	if err := (proxyCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	if got, want := *f.Proxy, (evidence.ProxyFacts{HTTP: "http://second:2", PACURL: "http://wpad/proxy.pac"}); got != want {
		t.Errorf("proxy = %+v, want %+v", got, want)
	}
}

// TestProxyAllProxy: all_proxy set in one file serves the protocols that
// no file names, whatever the order of the files.
func TestProxyAllProxy(t *testing.T) {
	root := t.TempDir()
	write(t, root, "etc/environment", "all_proxy=http://203.0.113.66:8080\n")
	write(t, root, "etc/profile.d/10-a.sh", "export https_proxy=http://127.0.0.1:3128\n")
	var f evidence.Facts
	if err := (proxyCollector{}).Collect(context.Background(), fixedEnv(root, time.Now()), &f); err != nil {
		t.Fatal(err)
	}
	if got, want := *f.Proxy, (evidence.ProxyFacts{HTTP: "http://203.0.113.66:8080", HTTPS: "http://127.0.0.1:3128"}); got != want {
		t.Errorf("proxy = %+v, want %+v", got, want)
	}
}

// TestLive runs every collector on the machine running the tests: it must
// not fail or panic, whatever the machine holds.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the live system")
	}
	f := Collect(context.Background(), Options{})
	t.Logf("live facts: %s", jsonOf(t, f))
	claims := evidence.Claims{Nonce: "0123456789abcdef", UEID: "d", IssuedAt: 1, SWName: "hg", Platform: Platform(), Facts: f}
	if err := claims.Validate(); err != nil {
		t.Errorf("live facts do not validate: %v", err)
	}
}

const strictNftables = `#!/usr/sbin/nft -f
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state { established, related } accept
		iif lo accept
		tcp dport 22 accept
	}
}
`
