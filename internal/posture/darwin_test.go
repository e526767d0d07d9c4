package posture

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

const (
	darwinTree    = "testdata/darwin/tree"
	darwinOutputs = "testdata/darwin/outputs"
)

// The rogue root CA of the recorded System keychain (the infected Linux
// tree's secure-payment-root-ca.crt).
const (
	darwinRogueSubject = "CN=Secure Payment Root CA,O=Secure Payment Services Ltd,C=CN"
	darwinRogueSHA256  = "7231fbbf95f63d71b1038cf0697df99ad236c6e49dcdd7391513a493170872f5"
)

// recorded is a runner that replays testdata/darwin/outputs: each command
// line maps to the file holding what it printed on a Mac. Commands not in
// the map fail as a missing program would.
func recorded(t *testing.T, outputs map[string]string) runner {
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		line := strings.Join(append([]string{name}, args...), " ")
		file, ok := outputs[line]
		if !ok {
			return nil, errors.New("exec: " + name + ": not recorded")
		}
		data, err := os.ReadFile(filepath.Join(darwinOutputs, file))
		if err != nil {
			t.Fatal(err)
		}
		return data, nil
	}
}

// healthyMac is the command lines of a healthy Mac and their outputs.
func healthyMac() map[string]string {
	return map[string]string{
		macSocketFilterFW + " --getglobalstate": "socketfilterfw--getglobalstate.txt",
		macFdesetup + " status":                 "fdesetup-status.txt",
		macCsrutil + " status":                  "csrutil-status.txt",
		macSpctl + " --status":                  "spctl--status.txt",
		macScutil + " --proxy":                  "scutil--proxy.txt",
		macScutil + " --dns":                    "scutil--dns.txt",
		macSecurity + " find-certificate -a -p " + macSystemKeychain: "security-find-certificate-stock.txt",
		macPS + " -axww -o comm=":                                    "ps.txt",
		macSysctl + " -n kern.osrelease":                             "sysctl-kern.osrelease.txt",
		macSysctl + " kern.hv_vmm_present hw.model":                  "sysctl-vm.txt",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

type macCollect func(context.Context, *Env, runner, *evidence.Facts) error

func TestDarwinCollectors(t *testing.T) {
	sum := func(name string) string { return sha256Of(t, filepath.Join(darwinTree, name)) }
	now := time.Date(2024, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		collect macCollect
		outputs map[string]string
		want    string
	}{
		{"os", macOS, healthyMac(), `{"os":{"name":"macos","version":"15.1.1","kernel":"24.1.0","build":"24B91","last_update":"2024-11-20T02:14:09Z"}}`},
		{"firewall", macFirewall, healthyMac(), `{"firewall":{"enabled":true,"backend":"alf"}}`},
		{"firewall off", macFirewall, with(healthyMac(), macSocketFilterFW+" --getglobalstate", "socketfilterfw--getglobalstate-off.txt"), `{"firewall":{"enabled":false}}`},
		{"firewall blocking all", macFirewall, with(healthyMac(), macSocketFilterFW+" --getglobalstate", "socketfilterfw--getglobalstate-blockall.txt"), `{"firewall":{"enabled":true,"backend":"alf"}}`},
		{"firewall from the binary alf.plist", macFirewall, nil, `{"firewall":{"enabled":true,"backend":"alf"}}`},
		{"antivirus", macAntivirus, healthyMac(), `{"antivirus":{"products":[{"name":"XProtect","enabled":true}]}}`},
		{"hosts", macHosts, healthyMac(), `{"hosts":{"entries":[{"host":"nas.local.lan","ip":"192.168.1.20"}]}}`},
		{"dns", macDNS, healthyMac(), `{"dns":{"servers":["192.168.1.1","fe80::1%en0"]}}`},
		{"dns from resolv.conf", macDNS, nil, `{"dns":{"servers":["192.168.1.1"]}}`},
		{"proxy none", macProxy, healthyMac(), `{"proxy":{}}`},
		{
			"proxy hijacked", macProxy, with(healthyMac(), macScutil+" --proxy", "scutil--proxy-hijacked.txt"),
			`{"proxy":{"http":"http://203.0.113.66:8080","https":"http://203.0.113.66:8080","pac_url":"http://203.0.113.66/proxy.pac"}}`,
		},
		{"proxy without scutil", macProxy, nil, `error: /usr/sbin/scutil: exec: /usr/sbin/scutil: not recorded`},
		{"trust store stock", macTrustStore, healthyMac(), `{"trust_store":{"added":[]}}`},
		{
			"trust store with a rogue root", macTrustStore,
			with(healthyMac(), macSecurity+" find-certificate -a -p "+macSystemKeychain, "security-find-certificate.txt"),
			`{"trust_store":{"added":[{"subject":"` + darwinRogueSubject + `","sha256":"` + darwinRogueSHA256 + `"}]}}`,
		},
		{
			"processes", macProcesses, healthyMac(),
			`{"processes":{"running":[` +
				`{"name":"Finder","sha256":"` + sum("System/Library/CoreServices/Finder.app/Contents/MacOS/Finder") + `"},` +
				`{"name":"Safari","sha256":"` + sum("Applications/Safari.app/Contents/MacOS/Safari") + `"},` +
				`{"name":"kernel_task"},{"name":"launchd"},{"name":"logd"},{"name":"socketfilterfw"},{"name":"syslogd"}]}}`,
		},
		{"filevault on", macDiskEncryption, healthyMac(), `{"disk_encryption":{"system_encrypted":true,"method":"filevault"}}`},
		{"filevault off", macDiskEncryption, with(healthyMac(), macFdesetup+" status", "fdesetup-status-off.txt"), `{"disk_encryption":{"system_encrypted":false}}`},
		{"filevault after restart", macDiskEncryption, with(healthyMac(), macFdesetup+" status", "fdesetup-status-pending.txt"), `{"disk_encryption":{"system_encrypted":false}}`},
		{"filevault encrypting", macDiskEncryption, with(healthyMac(), macFdesetup+" status", "fdesetup-status-encrypting.txt"), `{"disk_encryption":{"system_encrypted":true,"method":"filevault"}}`},
		{"platform security", macPlatformSecurity, healthyMac(), `{"platform_security":{"sip":true,"gatekeeper":true,"xprotect_version":"5284"}}`},
		{
			"sip off, gatekeeper off", macPlatformSecurity,
			with(healthyMac(), macCsrutil+" status", "csrutil-status-disabled.txt", macSpctl+" --status", "spctl--status-disabled.txt"),
			`{"platform_security":{"sip":false,"gatekeeper":false,"xprotect_version":"5284"}}`,
		},
		{"sip custom configuration", macPlatformSecurity, with(healthyMac(), macCsrutil+" status", "csrutil-status-custom.txt"), `{"platform_security":{"sip":false,"gatekeeper":true,"xprotect_version":"5284"}}`},
		{"platform security without programs", macPlatformSecurity, nil, `{"platform_security":{"xprotect_version":"5284"}}`},
		{"virtualization", macVirtualization, healthyMac(), `{"virtualization":{"virtual_machine":false,"emulator":false}}`},
		{
			"virtual mac", macVirtualization, with(healthyMac(), macSysctl+" kern.hv_vmm_present hw.model", "sysctl-vm-virtualmac.txt"),
			`{"virtualization":{"virtual_machine":true,"emulator":false,"product":"VirtualMac2,1"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f evidence.Facts
			env := envAt(darwinTree, now)
			got := ""
			if err := tt.collect(context.Background(), env, recorded(t, tt.outputs), &f); err != nil {
				got = "error: " + err.Error()
			} else {
				got = jsonOf(t, f)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDarwinFactsValidate checks that a whole healthy Mac's facts fit the
// evidence schema.
func TestDarwinFactsValidate(t *testing.T) {
	env := envAt(darwinTree, time.Date(2024, 11, 29, 12, 0, 0, 0, time.UTC))
	run := recorded(t, healthyMac())
	var f evidence.Facts
	for _, c := range []macCollect{macOS, macFirewall, macAntivirus, macHosts, macDNS, macProxy, macTrustStore, macProcesses, macDiskEncryption, macPlatformSecurity, macVirtualization} {
		if err := c(context.Background(), env, run, &f); err != nil {
			t.Fatal(err)
		}
	}
	if err := (browserCollector{}).Collect(context.Background(), env, &f); err != nil {
		t.Fatal(err)
	}
	claims := evidence.Claims{Nonce: "0123456789abcdef", UEID: "mac", IssuedAt: 1, SWName: "healthgate", Platform: "darwin", Facts: f}
	if err := claims.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestHostRunnerTree(t *testing.T) {
	run := hostRunner(&Env{Root: t.TempDir()})
	if _, err := run(context.Background(), "/bin/true"); !errors.Is(err, errNoCommands) {
		t.Errorf("runner for a tree ran a program: %v", err)
	}
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{max: 4}
	for _, s := range []string{"ab", "cdef", "gh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, want := b.String(), "abcd"; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}

func TestParseScutilProxy(t *testing.T) {
	tests := []struct {
		name, out string
		want      evidence.ProxyFacts
	}{
		{
			// CFNetwork and Chromium send every connection through the
			// SOCKS proxy when no HTTP(S) proxy is set.
			"socks only",
			"<dictionary> {\n  HTTPEnable : 0\n  SOCKSEnable : 1\n  SOCKSPort : 1080\n  SOCKSProxy : 203.0.113.66\n}\n",
			evidence.ProxyFacts{HTTP: "socks5://203.0.113.66:1080", HTTPS: "socks5://203.0.113.66:1080"},
		},
		{
			"socks for https only",
			"<dictionary> {\n  HTTPEnable : 1\n  HTTPPort : 3128\n  HTTPProxy : 127.0.0.1\n  SOCKSEnable : 1\n  SOCKSPort : 1080\n  SOCKSProxy : 203.0.113.66\n}\n",
			evidence.ProxyFacts{HTTP: "http://127.0.0.1:3128", HTTPS: "socks5://203.0.113.66:1080"},
		},
		{
			"socks disabled",
			"<dictionary> {\n  SOCKSEnable : 0\n  SOCKSPort : 1080\n  SOCKSProxy : 203.0.113.66\n}\n",
			evidence.ProxyFacts{},
		},
		{
			"ipv6 proxy in brackets",
			"<dictionary> {\n  HTTPEnable : 1\n  HTTPPort : 8080\n  HTTPProxy : 2001:db8::66\n}\n",
			evidence.ProxyFacts{HTTP: "http://[2001:db8::66]:8080"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseScutilProxy([]byte(tt.out)); *got != tt.want {
				t.Errorf("proxy = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
