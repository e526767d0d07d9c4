package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// benchNow is the appraisal time of the benchmark report.
var benchNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// benchInput is a healthy Windows desktop as an agent reports it: 64
// running programs, a few hosts entries, two resolvers and two antivirus
// products. No rule fires, so every rule reads all of its facts.
func benchInput() Input {
	updated := benchNow.Add(-72 * time.Hour)
	sigs := benchNow.Add(-6 * time.Hour)
	names := []string{
		"system", "registry", "smss.exe", "csrss.exe", "wininit.exe", "services.exe",
		"lsass.exe", "svchost.exe", "fontdrvhost.exe", "dwm.exe", "winlogon.exe",
		"spoolsv.exe", "msmpeng.exe", "nissrv.exe", "searchindexer.exe", "explorer.exe",
		"sihost.exe", "taskhostw.exe", "ctfmon.exe", "runtimebroker.exe", "startmenuexperiencehost.exe",
		"searchhost.exe", "shellexperiencehost.exe", "textinputhost.exe", "securityhealthservice.exe",
		"securityhealthsystray.exe", "msedge.exe", "wechat.exe", "onedrive.exe", "audiodg.exe",
	}
	var procs []evidence.Process
	for i := 0; len(procs) < 64; i++ {
		name := names[i%len(names)]
		sum := sha256.Sum256(fmt.Appendf(nil, "%s-%d", name, i))
		procs = append(procs, evidence.Process{Name: name, SHA256: hex.EncodeToString(sum[:])})
	}
	return Input{
		Platform: "windows",
		Now:      benchNow,
		Facts: evidence.Facts{
			OS:       &evidence.OSFacts{Name: "windows", Version: "10.0.26100", LastUpdate: &updated},
			Firewall: &evidence.FirewallFacts{Enabled: true, Backend: "windows"},
			Antivirus: &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{
				{Name: "Microsoft Defender Antivirus", Enabled: true, SignaturesUpdated: &sigs},
				{Name: "Huorong Internet Security", Enabled: false},
			}},
			Hosts: &evidence.HostsFacts{Entries: []evidence.HostEntry{
				{Host: "printer.home.arpa", IP: "192.168.1.20"},
				{Host: "nas.home.arpa", IP: "192.168.1.30"},
				{Host: "dev.example.test", IP: "127.0.0.1"},
				{Host: "ads.example.net", IP: "0.0.0.0"},
			}},
			DNS:        &evidence.DNSFacts{Servers: []string{"192.168.1.1", "223.5.5.5"}},
			Proxy:      &evidence.ProxyFacts{},
			TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{}},
			Processes:  &evidence.ProcessFacts{Running: procs},
		},
	}
}

func BenchmarkEvaluateDefault(b *testing.B) {
	p := Default()
	in := benchInput()
	if got := p.Evaluate(in); len(got.Findings) != 0 {
		b.Fatalf("benchmark input is not healthy: %+v", got.Findings)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(in)
	}
}

func BenchmarkEvaluateDefaultParallel(b *testing.B) {
	p := Default()
	in := benchInput()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Evaluate(in)
		}
	})
}

// benchInputAllGroups is benchInput with every fact group a current
// Windows agent reports: BitLocker, Secure Boot, UAC and eight browser
// extensions (two trusted ones with wide permissions).
func benchInputAllGroups() Input {
	in := benchInput()
	uac := true
	exts := []evidence.BrowserExtension{
		{Browser: "chrome", ID: "cjpalhdlnbpafiamejdnhcphjbkeiagm", Name: "uBlock Origin", Permissions: []string{"<all_urls>", "webRequest"}},
		{Browser: "edge", ID: "nngceckbapebfimnlniiiahkandclblb", Name: "Bitwarden", Permissions: []string{"<all_urls>", "clipboardRead"}},
	}
	in.Facts.DiskEncryption = &evidence.DiskEncryptionFacts{SystemEncrypted: true, Method: "bitlocker"}
	in.Facts.SecureBoot = &evidence.SecureBootFacts{Enabled: true}
	in.Facts.ScreenLock = &evidence.ScreenLockFacts{Enabled: true, IdleSeconds: 600}
	in.Facts.PlatformSecurity = &evidence.PlatformSecurityFacts{UAC: &uac}
	in.Facts.Browsers = &evidence.BrowserFacts{Extensions: exts}
	in.Facts.Virtualization = &evidence.VirtualizationFacts{}
	in.Facts.Firewall.Profiles = []evidence.FirewallProfile{{Name: "domain", Enabled: true}, {Name: "private", Enabled: true}, {Name: "public", Enabled: true}}
	return in
}

func BenchmarkEvaluateDefaultAllGroups(b *testing.B) {
	p := Default()
	in := benchInputAllGroups()
	if got := p.Evaluate(in); len(got.Findings) != 0 {
		b.Fatalf("benchmark input is not healthy: %+v", got.Findings)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(in)
	}
}
