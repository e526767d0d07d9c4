package simulate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Profile is what kind of device a simulated device is. The shares are
// what a consumer payments population looks like in the field studies the
// 2013 device health model was built on: most devices are protected, a
// large minority has let something lapse, a few are compromised.
type Profile string

const (
	Healthy       Profile = "healthy"        // 70%: everything on and current
	AtRisk        Profile = "at_risk"        // 20%: antivirus off, firewall off, stale updates or signatures
	RiskyAddon    Profile = "risky_addon"    // 6.5%: healthy but a browser extension reads every page
	RemoteControl Profile = "remote_control" // 3%: a remote-control tool is running
	Malware       Profile = "malware"        // 0.5%: runs a long-known malware the feed lists
)

var profileShares = []struct {
	p     Profile
	share float64
}{{Healthy, 0.70}, {AtRisk, 0.20}, {RiskyAddon, 0.065}, {RemoteControl, 0.03}, {Malware, 0.005}}

// Lapses an at-risk device can have.
const (
	lapseAVOff     = 1 << iota // antivirus installed but disabled
	lapseFirewall              // firewall off
	lapseUpdates               // no system updates for 40-200 days
	lapseSignature             // antivirus signatures 10-60 days old
)

// device is one simulated device: its fixed traits, drawn once from the
// seed. Its facts on a day are a function of the traits and the day.
type device struct {
	index   int
	profile Profile
	lapses  int
	// reliability is the chance the device reports on a given day
	// (switched off, offline, travelling: some miss days).
	reliability float64
	os          osImage
	updateEvery int // days between system updates
	updateShift int
	staleSince  time.Duration // how long before the start updates or signatures stopped
	kernelShift int
	sigHours    int
	// heuristic is whether the device's antivirus would flag the outbreak
	// executable generically, before any feed lists it.
	heuristic  bool
	knownHash  string // Malware profile: the listed hash it runs
	knownName  string
	remoteAddr string
	dns        string
}

type osImage struct{ name, version, kernel string }

var osImages = []osImage{
	{"ubuntu", "24.04", "6.8.0-51-generic"},
	{"ubuntu", "22.04", "5.15.0-130-generic"},
	{"debian", "12", "6.1.0-28-amd64"},
	{"fedora", "41", "6.12.7-200.fc41.x86_64"},
	{"linuxmint", "22", "6.8.0-50-generic"},
}

// Known malware the feed has listed for a long time: the baseline of
// finding:known_malware and of their sha256 keys.
var knownMalware = []string{"kworkerd", "dbus-helper", "xmrig"}

// heuristicRate is the share of devices with protecting antivirus that flag
// the outbreak executable generically before it is listed.
const heuristicRate = 0.5

func newFleet(c Config) []*device {
	fleet := make([]*device, c.Devices)
	for i := range fleet {
		r := rand.New(rand.NewPCG(c.Seed, uint64(i)+1))
		d := &device{index: i, reliability: 0.6 + 0.4*r.Float64(), os: osImages[r.IntN(len(osImages))],
			updateEvery: 1 + r.IntN(7), updateShift: r.IntN(7), kernelShift: r.IntN(60), sigHours: 1 + r.IntN(20),
			staleSince: time.Duration(40+r.IntN(160)) * 24 * time.Hour,
			remoteAddr: fmt.Sprintf("10.%d.%d.%d:%d", r.IntN(256), r.IntN(256), 1+r.IntN(254), 1024+r.IntN(60000)),
			dns:        []string{"192.168.1.1", "192.168.0.1", "1.1.1.1", "8.8.8.8", "223.5.5.5"}[r.IntN(5)]}
		u, acc := r.Float64(), 0.0
		d.profile = Healthy
		for _, s := range profileShares {
			acc += s.share
			if u < acc {
				d.profile = s.p
				break
			}
		}
		if d.profile == AtRisk {
			lapses := []int{lapseAVOff, lapseFirewall, lapseUpdates, lapseSignature}
			weights := []float64{0.30, 0.30, 0.25, 0.15}
			d.lapses = pick(r, lapses, weights)
			if r.Float64() < 0.25 {
				d.lapses |= pick(r, lapses, weights)
			}
			if d.lapses&lapseUpdates != 0 {
				d.staleSince = time.Duration(40+r.IntN(160)) * 24 * time.Hour
			}
			if d.lapses&lapseSignature != 0 {
				d.staleSince = time.Duration(10+r.IntN(50)) * 24 * time.Hour
			}
		}
		if d.profile == Malware {
			k := r.IntN(len(knownMalware))
			d.knownName, d.knownHash = knownMalware[k], hashOf("known-malware", knownMalware[k])
		}
		d.heuristic = d.avProtecting() && r.Float64() < heuristicRate
		fleet[i] = d
	}
	return fleet
}

func pick(r *rand.Rand, vals []int, weights []float64) int {
	u := r.Float64()
	for i, w := range weights {
		if u < w {
			return vals[i]
		}
		u -= w
	}
	return vals[len(vals)-1]
}

// avProtecting is whether the device's antivirus is enabled.
func (d *device) avProtecting() bool { return d.lapses&lapseAVOff == 0 && d.profile != Malware }

// hashOf is a stable stand-in for an executable's SHA-256.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// OutbreakHash is the SHA-256 of the outbreak executable of a seed.
func OutbreakHash(seed uint64) string { return hashOf("outbreak", fmt.Sprint(seed)) }

// outbreakProcess is the name the outbreak executable runs under: it
// passes for a system service, so only its hash gives it away.
const outbreakProcess = "systemd-updated"

// report is what a device says on one day.
type report struct {
	facts    evidence.Facts
	findings []evidence.Finding
	infected bool
	names    bool // a finding names the outbreak hash
}

// facts builds the device's facts at now, in the shapes the Linux
// collectors produce (docs/FACTS.md), and the findings its agent matched.
func (d *device) report(now, start time.Time, day int, infected, listed bool, outbreakHash string) report {
	ptr := func(t time.Time) *time.Time { t = t.UTC(); return &t }
	dayStart := now.Truncate(24 * time.Hour)
	lastUpdate := dayStart.Add(-time.Duration((day+d.updateShift)%d.updateEvery)*24*time.Hour - 3*time.Hour)
	if d.lapses&lapseUpdates != 0 {
		lastUpdate = start.Add(-d.staleSince)
	}
	kernelBuilt := dayStart.Add(-time.Duration(20+(day+d.kernelShift)%60) * 24 * time.Hour)
	sigs := now.Add(-time.Duration(d.sigHours) * time.Hour)
	if d.lapses&lapseSignature != 0 {
		sigs = start.Add(-d.staleSince)
	}
	f := evidence.Facts{
		OS:         &evidence.OSFacts{Name: d.os.name, Version: d.os.version, Kernel: d.os.kernel, KernelBuilt: ptr(kernelBuilt), LastUpdate: ptr(lastUpdate)},
		Firewall:   &evidence.FirewallFacts{Enabled: d.lapses&lapseFirewall == 0 && d.profile != Malware, Backend: "nftables"},
		Hosts:      &evidence.HostsFacts{Entries: []evidence.HostEntry{}},
		DNS:        &evidence.DNSFacts{Servers: []string{d.dns}},
		Proxy:      &evidence.ProxyFacts{},
		TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{}},

		DiskEncryption: &evidence.DiskEncryptionFacts{SystemEncrypted: true, Method: "luks"},
		SecureBoot:     &evidence.SecureBootFacts{Enabled: true},
		ScreenLock:     &evidence.ScreenLockFacts{Enabled: true, IdleSeconds: 300},
		Browsers:       &evidence.BrowserFacts{Extensions: []evidence.BrowserExtension{}},
		Virtualization: &evidence.VirtualizationFacts{},
	}
	av := evidence.AntivirusProduct{Name: "ClamAV", Enabled: d.avProtecting(), SignaturesUpdated: ptr(sigs)}
	f.Antivirus = &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{av}}
	if d.profile == Malware {
		f.Antivirus.Products = []evidence.AntivirusProduct{} // removed by the malware
	}
	running := []evidence.Process{proc("systemd", "255"), proc("NetworkManager", "1.46"), proc("firefox", "134.0")}
	if av.Enabled {
		running = append(running, proc("clamd", "1.4.1"))
	}
	var findings []evidence.Finding
	switch d.profile {
	case RiskyAddon:
		f.Browsers.Extensions = append(f.Browsers.Extensions, evidence.BrowserExtension{Browser: "firefox",
			ID: "coupon-finder@deals.example", Name: "Coupon Finder", Permissions: []string{"<all_urls>", "cookies"}})
	case RemoteControl:
		running = append(running, proc("teamviewerd", "15.61"))
	case Malware:
		running = append(running, evidence.Process{Name: d.knownName, SHA256: d.knownHash})
		findings = append(findings, evidence.Finding{Code: "malware", Subject: d.knownHash}) // on the feed for long
	}
	rep := report{infected: infected}
	if infected {
		running = append(running, evidence.Process{Name: outbreakProcess, SHA256: outbreakHash})
		if listed || d.heuristic {
			findings = append(findings, evidence.Finding{Code: "malware", Subject: outbreakHash})
			rep.names = true
		}
	}
	f.Processes = &evidence.ProcessFacts{Running: running}
	rep.facts, rep.findings = f, findings
	return rep
}

func proc(name, version string) evidence.Process {
	return evidence.Process{Name: name, SHA256: hashOf("program", name, version)}
}
