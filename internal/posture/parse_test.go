package posture

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		hostname  string
		want      string // entries as JSON
		truncated bool
	}{
		{
			name:     "debian defaults",
			data:     "127.0.0.1\tlocalhost\n127.0.1.1\tpc.example.org\tpc\n\n::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
			hostname: "pc",
			want:     `[]`,
		},
		{
			name: "debian defaults without hostname",
			data: "127.0.0.1 localhost\n127.0.1.1 pc\n",
			want: `[]`,
		},
		{
			name:     "fedora defaults",
			data:     "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n",
			hostname: "fedora",
			want:     `[]`,
		},
		{
			name: "hijacked payment domain",
			data: "# speed up\n203.0.113.66 www.alipay.com alipay.com # keep\n",
			want: `[{"host":"www.alipay.com","ip":"203.0.113.66"},{"host":"alipay.com","ip":"203.0.113.66"}]`,
		},
		{
			name:     "payment domain on loopback stays",
			data:     "127.0.0.1 localhost alipay.com\n",
			hostname: "pc",
			want:     `[{"host":"alipay.com","ip":"127.0.0.1"}]`,
		},
		{
			name: "normalised and deduplicated",
			data: "10.0.0.1 WWW.Example.COM. www.example.com\r\n10.0.0.1\twww.example.com\n::ffff:10.0.0.2 v4mapped.example\n2001:DB8::1 six.example\n",
			want: `[{"host":"www.example.com","ip":"10.0.0.1"},{"host":"v4mapped.example","ip":"::ffff:10.0.0.2"},{"host":"six.example","ip":"2001:db8::1"}]`,
		},
		{
			name: "invalid lines skipped",
			data: "not-an-ip host.example\n10.0.0.1\n10.0.0.1 bad..name under_score.ok caf\xc3\xa9.example \xff\xfe.example a*b\n300.1.1.1 x.example\n",
			want: `[{"host":"under_score.ok","ip":"10.0.0.1"}]`,
		},
		{
			name: "label too long",
			data: "10.0.0.1 " + strings.Repeat("a", 64) + ".example " + strings.Repeat("b", 63) + ".example\n",
			want: `[{"host":"` + strings.Repeat("b", 63) + `.example","ip":"10.0.0.1"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, truncated := parseHosts([]byte(tt.data), tt.hostname)
			if got, want := jsonOf(t, entries), tt.want; got != want {
				t.Errorf("entries = %s, want %s", got, want)
			}
			if got, want := truncated, tt.truncated; got != want {
				t.Errorf("truncated = %v, want %v", got, want)
			}
		})
	}
}

// TestParseHostsBlocklistHidesNoHijack: an ad-blocking hosts file holds
// thousands of 0.0.0.0 (or 127.0.0.1) lines; malware appends its own line
// after them. The entries kept under the limit must still show the
// hijack, and keep file order.
func TestParseHostsBlocklistHidesNoHijack(t *testing.T) {
	var b strings.Builder
	b.WriteString("10.0.0.5 nas.lan\n")
	for i := range 2 * maxHostsEntries {
		fmt.Fprintf(&b, "0.0.0.0 ad%d.example\n127.0.0.1 track%d.example\n", i, i)
	}
	b.WriteString("203.0.113.66 alipay.com\n::ffff:0.0.0.0 ad0.example\n")
	entries, truncated := parseHosts([]byte(b.String()), "pc")
	if !truncated {
		t.Errorf("truncated = false, want true")
	}
	if got, want := len(entries), maxHostsEntries; got != want {
		t.Fatalf("len(entries) = %d, want %d", got, want)
	}
	if got, want := entries[0], (evidence.HostEntry{Host: "nas.lan", IP: "10.0.0.5"}); got != want {
		t.Errorf("entries[0] = %+v, want %+v", got, want)
	}
	// Loopback lines come before blocking ones, each in file order.
	if got, want := entries[1], (evidence.HostEntry{Host: "track0.example", IP: "127.0.0.1"}); got != want {
		t.Errorf("entries[1] = %+v, want %+v", got, want)
	}
	if got, want := entries[2], (evidence.HostEntry{Host: "track1.example", IP: "127.0.0.1"}); got != want {
		t.Errorf("entries[2] = %+v, want %+v", got, want)
	}
	if got, want := entries[len(entries)-1], (evidence.HostEntry{Host: "alipay.com", IP: "203.0.113.66"}); got != want {
		t.Errorf("last entry = %+v, want %+v", got, want)
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"plain", "nameserver 1.1.1.1\n", `["1.1.1.1"]`},
		{"comments options and duplicates", "# x\n; y\nsearch example.org\noptions edns0\nnameserver 9.9.9.9\nnameserver 9.9.9.9\nnameserver 2620:FE::FE\n#nameserver 6.6.6.6\n", `["9.9.9.9","2620:fe::fe"]`},
		{"invalid", "nameserver\nnameserver dns.example\nnameserver 1.2.3.4.5\n", `[]`},
		// glibc reads nameserver addresses with inet_aton: hex, octal and
		// shortened forms name the same DNSChanger server 85.255.112.1.
		{"inet_aton forms", "nameserver 0x55.0xff.0x70.1\nnameserver 0125.0377.0160.01 # x\nnameserver 1442803713\nnameserver 85.16740353\nnameserver 85.255.28673\nnameserver 10.0.0.010\n",
			`["85.255.112.1","10.0.0.8"]`},
		{"not inet_aton", "nameserver 08.1.1.1\nnameserver 0x\nnameserver 1.2.3.256\nnameserver 1.16777216\nnameserver 4294967296\nnameserver 1..2\nnameserver +1.2.3.4\nnameserver 1.2.3.4.\n", `[]`},
		{"cap", func() string {
			var b strings.Builder
			for i := range 40 {
				fmt.Fprintf(&b, "nameserver 10.1.0.%d\n", i)
			}
			return b.String()
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseResolvConf([]byte(tt.data))
			if tt.want == "" {
				if got, want := len(got), maxDNSServers; got != want {
					t.Errorf("len = %d, want %d", got, want)
				}
				return
			}
			if got, want := jsonOf(t, got), tt.want; got != want {
				t.Errorf("servers = %s, want %s", got, want)
			}
		})
	}
}

func TestReplaceStub(t *testing.T) {
	got := replaceStub([]string{"10.0.0.1", "127.0.0.53", "10.0.0.2"}, "127.0.0.53", []string{"10.0.0.2", "192.168.1.1"})
	if got, want := jsonOf(t, got), `["10.0.0.1","10.0.0.2","192.168.1.1"]`; got != want {
		t.Errorf("replaceStub = %s, want %s", got, want)
	}
}

func TestParseProxyEnv(t *testing.T) {
	tests := []struct {
		name string
		data string
		want evidence.ProxyFacts
	}{
		{"none", "PATH=\"/usr/local/bin:/usr/bin\"\nLANG=zh_CN.UTF-8\n", evidence.ProxyFacts{}},
		{"pam_env quoted", "http_proxy=\"http://203.0.113.66:8080\"\nhttps_proxy=\"http://203.0.113.66:8080/\"\n",
			evidence.ProxyFacts{HTTP: "http://203.0.113.66:8080", HTTPS: "http://203.0.113.66:8080/"}},
		{"export upper case single quotes", "export HTTP_PROXY='http://p:3128'\n  export HTTPS_PROXY=http://p:3129 # corp\n",
			evidence.ProxyFacts{HTTP: "http://p:3128", HTTPS: "http://p:3129"}},
		{"several on one line", "export http_proxy=http://a:1 https_proxy=http://b:2; export auto_proxy=http://wpad/wpad.dat\n",
			evidence.ProxyFacts{HTTP: "http://a:1", HTTPS: "http://b:2", PACURL: "http://wpad/wpad.dat"}},
		{"later wins", "http_proxy=http://a:1\nHTTP_PROXY=http://b:2\n", evidence.ProxyFacts{HTTP: "http://b:2"}},
		{"empty unsets", "http_proxy=http://a:1\nhttp_proxy=\n", evidence.ProxyFacts{}},
		{"commands and comments ignored", "# http_proxy=http://c:1\nif true; then echo http_proxy=http://d:1; fi\nunset https_proxy\n", evidence.ProxyFacts{}},
		{"escapes", `http_proxy="http://u:p\"w@h:1"` + "\n", evidence.ProxyFacts{HTTP: `http://u:p"w@h:1`}},
		{"unterminated quote", "http_proxy=\"http://a:1\n", evidence.ProxyFacts{}},
		{"invalid utf-8", "http_proxy=http://\xff:1\n", evidence.ProxyFacts{HTTP: "http://\uFFFD:1"}},
		// all_proxy serves every protocol (curl, wget, Chromium without a
		// desktop's settings): a hijack through it alone is a proxy too.
		{"all_proxy alone", "all_proxy=socks5://203.0.113.66:1080\n",
			evidence.ProxyFacts{HTTP: "socks5://203.0.113.66:1080", HTTPS: "socks5://203.0.113.66:1080"}},
		{"ALL_PROXY for the protocols not named", "export ALL_PROXY=http://a:1\nhttp_proxy=http://b:2\n",
			evidence.ProxyFacts{HTTP: "http://b:2", HTTPS: "http://a:1"}},
		{"all_proxy unset", "all_proxy=http://a:1\nall_proxy=\n", evidence.ProxyFacts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env proxyEnv
			env.parse([]byte(tt.data))
			if got := env.facts(); *got != tt.want {
				t.Errorf("proxy = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name, data, id, version string
	}{
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n", "debian", "12"},
		{"fedora", "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=41\n", "fedora", "41"},
		{"arch rolling", "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n", "arch", ""},
		{"empty", "", "linux", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, version := parseOSRelease([]byte(tt.data))
			if got, want := id, tt.id; got != want {
				t.Errorf("id = %q, want %q", got, want)
			}
			if got, want := version, tt.version; got != want {
				t.Errorf("version = %q, want %q", got, want)
			}
		})
	}
}

func TestParsePackageLog(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, data, want string
	}{
		{"apt history", "Start-Date: 2026-11-20  10:10:58\nEnd-Date: 2026-11-20  10:11:12\n\nStart-Date: 2026-11-21  09:00:00\nEnd-Date: 2026-11-21  09:00:30\n", "2026-11-21T09:00:30Z"},
		{"dpkg", "2026-11-20 10:11:02 status half-configured a:amd64 1\n2026-11-20 10:11:11 status installed a:amd64 1\n2026-11-22 08:00:00 status unpacked b:amd64 1\n", "2026-11-20T10:11:11Z"},
		{"pacman", "[2026-11-20T10:11:12+0100] [ALPM] upgraded linux (6.11 -> 6.12)\n[2026-11-21T10:00:00+0100] [ALPM] removed foo (1)\n", "2026-11-20T09:11:12Z"},
		{"pacman old format", "[2019-03-01 10:11] [ALPM] installed foo (1)\n", "2019-03-01T10:11:00Z"},
		{"future ignored", "End-Date: 2030-01-01  00:00:00\nEnd-Date: 2026-11-28  00:00:00\n", "2026-11-28T00:00:00Z"},
		{"nothing", "Start-Date: 2026-11-20  10:10:58\nEnd-Date: garbage\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if t, ok := parsePackageLog([]byte(tt.data), time.UTC, now); ok {
				got = t.Format(time.RFC3339)
			}
			if got != tt.want {
				t.Errorf("latest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNftablesFilters(t *testing.T) {
	tests := []struct {
		name string
		data string
		want bool
	}{
		{"debian default accepts", debianNftablesConf, false},
		{"policy drop", "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state { established,\n related } accept\n }\n}\n", true},
		{"reject rule", "table inet f {\n chain in {\n  type filter hook input priority filter\n  tcp dport { 22, 80 } accept\n  reject with icmpx type admin-prohibited\n }\n}\n", true},
		{"drop only in output", "table inet f {\n chain input { type filter hook input priority 0; }\n chain output { type filter hook output priority 0; policy drop; }\n}\n", false},
		{"only invalid dropped", "table inet f {\n chain input {\n  type filter hook input priority 0\n  ct state invalid drop\n }\n}\n", false},
		{"flat syntax", "add table inet f\nadd chain inet f input { type filter hook input priority 0; }\nadd rule inet f input tcp dport 23 drop\n", true},
		{"commented out", "table inet f {\n chain input {\n  type filter hook input priority 0; # policy drop;\n }\n}\n", false},
		{"unbalanced", "}}} chain input { hook input policy drop", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := nftablesFilters([]byte(tt.data)), tt.want; got != want {
				t.Errorf("nftablesFilters = %v, want %v", got, want)
			}
		})
	}
}

func TestIptablesFilters(t *testing.T) {
	tests := []struct {
		name string
		data string
		want bool
	}{
		{"policy drop", "*filter\n:INPUT DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n", true},
		{"reject rule", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n", true},
		{"accept all", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\nCOMMIT\n", false},
		{"drop in nat table", "*nat\n:INPUT DROP [0:0]\n-A INPUT -j DROP\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", false},
		{"invalid only", "*filter\n-A INPUT -m state --state INVALID -j DROP\nCOMMIT\n", false},
		{"script", "iptables -P INPUT DROP\n", true},
		{"script other table", "iptables -t mangle -A INPUT -j DROP\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := iptablesFilters([]byte(tt.data)), tt.want; got != want {
				t.Errorf("iptablesFilters = %v, want %v", got, want)
			}
		})
	}
}

func TestParseCertificates(t *testing.T) {
	pemData, err := os.ReadFile("testdata/infected/usr/local/share/ca-certificates/secure-payment-root-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	certs, broken := parseCertificates(pemData)
	if broken || len(certs) != 1 {
		t.Fatalf("parseCertificates(rogue CA) = %v, broken %v", certs, broken)
	}
	rogue := certs[0]
	der := pemToDER(t, pemData)
	tests := []struct {
		name       string
		data       []byte
		want       string
		wantBroken bool
	}{
		{"pem", pemData, jsonOf(t, []evidence.Certificate{rogue}), false},
		{"der", der, jsonOf(t, []evidence.Certificate{rogue}), false},
		{"trusted certificate", []byte("-----BEGIN TRUSTED CERTIFICATE-----\n" + base64Lines(append(der, 0x30, 0x03, 0x0c, 0x01, 'x')) + "-----END TRUSTED CERTIFICATE-----\n"), jsonOf(t, []evidence.Certificate{rogue}), false},
		{"bundle with a bad block", append(append([]byte{}, pemData...), "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"...), jsonOf(t, []evidence.Certificate{rogue}), true},
		{"private key only", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "null", true},
		{"text", []byte("README\n"), "null", true},
		{"empty", nil, "null", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, broken := parseCertificates(tt.data)
			if got, want := jsonOf(t, certs), tt.want; got != want {
				t.Errorf("certificates = %s, want %s", got, want)
			}
			if got, want := broken, tt.wantBroken; got != want {
				t.Errorf("broken = %v, want %v", got, want)
			}
		})
	}
}

func TestIsKernelThread(t *testing.T) {
	tests := []struct {
		name, stat string
		want       bool
	}{
		{"kthreadd", "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0", true},
		{"systemd", "1 (systemd) S 0 1 1 0 -1 4194560 38113", false},
		{"name with spaces and parens", "77 (a) b) c) S 1 77 77 0 -1 2129984 0", true},
		{"short", "3 (x) S", false},
		{"garbage", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := isKernelThread(tt.stat), tt.want; got != want {
				t.Errorf("isKernelThread = %v, want %v", got, want)
			}
		})
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "firefox-esr", "firefox-esr"},
		{"invalid utf-8", "caf\xe9", "caf\uFFFD"},
		{"control characters", "a\tb\x00c\x7f", "abc"},
		{"long", strings.Repeat("é", 200), strings.Repeat("é", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := clean(tt.in), tt.want; got != want {
				t.Errorf("clean = %q, want %q", got, want)
			}
		})
	}
}

const debianNftablesConf = `#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter;
	}
	chain forward {
		type filter hook forward priority filter;
	}
	chain output {
		type filter hook output priority filter;
	}
}
`
