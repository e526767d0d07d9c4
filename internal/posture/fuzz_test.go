package posture

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/healthgate/healthgate/evidence"
)

// seedFile adds a file of the device trees to a fuzz corpus.
func seedFile(f *testing.F, name string) {
	data, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
}

func FuzzParseHosts(f *testing.F) {
	seedFile(f, "testdata/healthy/etc/hosts")
	seedFile(f, "testdata/infected/etc/hosts")
	f.Add([]byte("10.0.0.1 A.example. a.example\n::1 localhost ip6-x\nfe80::1%eth0 link.example\n127.0.1.1 pc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, truncated := parseHosts(data, "pc")
		if len(entries) > maxHostsEntries {
			t.Fatalf("%d entries, more than %d", len(entries), maxHostsEntries)
		}
		if truncated && len(entries) != maxHostsEntries {
			t.Fatalf("truncated with %d entries", len(entries))
		}
		seen := make(map[evidence.HostEntry]bool)
		for _, e := range entries {
			if seen[e] {
				t.Fatalf("duplicate entry %+v", e)
			}
			seen[e] = true
			if e.Host == "" || e.Host != strings.ToLower(e.Host) || strings.HasSuffix(e.Host, ".") || normalizeHost(e.Host) != e.Host {
				t.Fatalf("host %q is not a normalised host name", e.Host)
			}
			if len(e.IP) > maxString {
				t.Fatalf("address %q too long", e.IP)
			}
			if _, err := netip.ParseAddr(e.IP); err != nil {
				t.Fatalf("address %q: %v", e.IP, err)
			}
		}
	})
}

func FuzzParseResolvConf(f *testing.F) {
	seedFile(f, "testdata/healthy/etc/resolv.conf")
	f.Add([]byte("nameserver 127.0.0.53\noptions edns0\nnameserver fe80::1%enp3s0\nnameserver 1.1.1.1\nnameserver 1.1.1.1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		servers := parseResolvConf(data)
		if len(servers) > maxDNSServers {
			t.Fatalf("%d servers, more than %d", len(servers), maxDNSServers)
		}
		seen := make(map[string]bool)
		for _, s := range servers {
			if seen[s] {
				t.Fatalf("duplicate server %q", s)
			}
			seen[s] = true
			if len(s) > maxString {
				t.Fatalf("server %q too long", s)
			}
			if _, err := netip.ParseAddr(s); err != nil {
				t.Fatalf("server %q: %v", s, err)
			}
		}
		if got := replaceStub(servers, resolvedStub.String(), servers); len(got) > maxDNSServers {
			t.Fatalf("replaceStub: %d servers", len(got))
		}
	})
}

func FuzzParseProxyEnv(f *testing.F) {
	seedFile(f, "testdata/infected/etc/environment")
	seedFile(f, "testdata/infected/etc/profile.d/proxy.sh")
	seedFile(f, "testdata/healthy/etc/profile.d/bash_completion.sh")
	f.Add([]byte(`export http_proxy="a\"b" HTTPS_PROXY='c' auto_proxy=d\ e; x=1` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var env proxyEnv
		env.parse(data)
		p := env.facts()
		for _, v := range []string{p.HTTP, p.HTTPS, p.PACURL} {
			if len(v) > maxString || !utf8.ValidString(v) || strings.ContainsAny(v, "\n\x00") {
				t.Fatalf("value %q does not fit a report", v)
			}
		}
	})
}

func FuzzParseOSRelease(f *testing.F) {
	seedFile(f, "testdata/healthy/etc/os-release")
	f.Fuzz(func(t *testing.T, data []byte) {
		id, version := parseOSRelease(data)
		if id == "" || len(id) > maxString || len(version) > maxString || !utf8.ValidString(id) || !utf8.ValidString(version) {
			t.Fatalf("id %q, version %q do not fit a report", id, version)
		}
	})
}

func FuzzParsePackageLog(f *testing.F) {
	seedFile(f, "testdata/healthy/var/log/apt/history.log")
	seedFile(f, "testdata/healthy/var/log/dpkg.log")
	f.Add([]byte("[2026-11-20T10:11:12+0100] [ALPM] upgraded a (1 -> 2)\n"))
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		if latest, ok := parsePackageLog(data, time.UTC, now); ok && latest.After(now.Add(24*time.Hour)) {
			t.Fatalf("latest %v is in the future", latest)
		}
	})
}

func FuzzFirewallRules(f *testing.F) {
	f.Add([]byte(debianNftablesConf))
	f.Add([]byte("*filter\n:INPUT DROP [0:0]\n-A INPUT -j REJECT\nCOMMIT\n"))
	f.Add([]byte("add chain inet f input { type filter hook input priority 0; }\nadd rule inet f input drop\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nftablesFilters(data)
		iptablesFilters(data)
	})
}

func FuzzParseCertificates(f *testing.F) {
	seedFile(f, "testdata/infected/usr/local/share/ca-certificates/secure-payment-root-ca.crt")
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, broken := parseCertificates(data)
		if len(certs) == 0 && !broken {
			t.Fatal("no certificate and not broken")
		}
		for _, c := range certs {
			if !utf8.ValidString(c.Subject) || len(c.Subject) > maxString || len(c.SHA256) != 64 {
				t.Fatalf("certificate %+v does not fit a report", c)
			}
		}
	})
}

func FuzzProcStat(f *testing.F) {
	f.Add("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0")
	f.Fuzz(func(t *testing.T, stat string) {
		isKernelThread(stat)
		if name := processName(stat); len(name) > maxString || !utf8.ValidString(name) {
			t.Fatalf("name %q does not fit a report", name)
		}
	})
}
