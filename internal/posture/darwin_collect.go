package posture

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// The macOS collectors. They are OS-independent, taking the programs they
// ask through a runner, so that tests run them on any system against a
// macOS file tree and recorded outputs (testdata/darwin/);
// collectors_darwin.go wires them to the real programs.

// macOS programs, by absolute path.
const (
	macSocketFilterFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"
	macFdesetup       = "/usr/bin/fdesetup"
	macCsrutil        = "/usr/bin/csrutil"
	macSpctl          = "/usr/sbin/spctl"
	macScutil         = "/usr/sbin/scutil"
	macSecurity       = "/usr/bin/security"
	macPS             = "/bin/ps"
	macSysctl         = "/usr/sbin/sysctl"
)

// macOS files, relative to the device root.
const (
	macSystemVersion  = "System/Library/CoreServices/SystemVersion.plist"
	macInstallHistory = "Library/Receipts/InstallHistory.plist"
	macALF            = "Library/Preferences/com.apple.alf.plist"
	macSystemKeychain = "/Library/Keychains/System.keychain"
)

// XProtect's bundle: its current place (macOS 10.15 and later), then the
// old one.
var macXProtect = []string{
	"Library/Apple/System/Library/CoreServices/XProtect.bundle",
	"System/Library/CoreServices/XProtect.bundle",
}

// output runs a program and returns what it printed, or why there is
// nothing to read.
func output(ctx context.Context, run runner, name string, args ...string) ([]byte, error) {
	out, err := run(ctx, name, args...)
	if len(bytes.TrimSpace(out)) > 0 {
		return out, nil
	}
	if err == nil {
		err = errors.New("no output")
	}
	return nil, fmt.Errorf("%s: %w", name, err)
}

func macOS(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	data, _, err := env.readHead(macSystemVersion, macMaxFile)
	if err != nil {
		return fmt.Errorf("reading SystemVersion.plist: %w", err)
	}
	version, build, ok := parseSystemVersion(data)
	if !ok {
		return errors.New("SystemVersion.plist has no ProductVersion")
	}
	o := &evidence.OSFacts{Name: "macos", Version: version, Build: build}
	if out, err := output(ctx, run, macSysctl, "-n", "kern.osrelease"); err == nil {
		o.Kernel = clean(strings.TrimSpace(string(out)))
	}
	if data, cut, err := env.readHead(macInstallHistory, 16<<20); err == nil && !cut {
		if t, ok := parseInstallHistory(data, env.Now()); ok {
			o.LastUpdate = &t
		}
	}
	f.OS = o
	return nil
}

// macFirewall asks the application firewall, then reads its settings file
// (which macOS 15 no longer keeps).
func macFirewall(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	if out, err := output(ctx, run, macSocketFilterFW, "--getglobalstate"); err == nil {
		if on, ok := parseSocketFilterFW(out); ok {
			f.Firewall = firewallFacts(on)
			return nil
		}
	}
	data, _, err := env.readHead(macALF, macMaxFile)
	if err != nil {
		return fmt.Errorf("reading the application firewall settings: %w", err)
	}
	state, ok := parseALFState(data)
	if !ok {
		return errors.New("com.apple.alf.plist has no globalstate")
	}
	f.Firewall = firewallFacts(state > 0)
	return nil
}

func firewallFacts(on bool) *evidence.FirewallFacts {
	if !on {
		return &evidence.FirewallFacts{}
	}
	return &evidence.FirewallFacts{Enabled: true, Backend: "alf"}
}

// macAntivirus reports XProtect, the malware scanner built into macOS,
// when its bundle is present. It cannot be switched off; its signature
// date is not reported, since Apple updates it every couple of weeks and a
// seven-day limit would always fire (its version is in
// platform_security.xprotect_version).
func macAntivirus(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	av := &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{}}
	if slices.ContainsFunc(macXProtect, env.exists) {
		av.Products = append(av.Products, evidence.AntivirusProduct{Name: "XProtect", Enabled: true})
	}
	f.Antivirus = av
	return nil
}

func macHosts(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	hosts, err := env.readHosts("etc/hosts", "")
	if err != nil {
		return err
	}
	hosts.Entries = dropBroadcastHost(hosts.Entries)
	f.Hosts = hosts
	return nil
}

// macDNS asks scutil for the resolvers of every interface; resolv.conf,
// which lists only the primary one, is the fallback.
func macDNS(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	if out, err := output(ctx, run, macScutil, "--dns"); err == nil {
		f.DNS = &evidence.DNSFacts{Servers: parseScutilDNS(out)}
		return nil
	}
	data, _, err := env.readHead("etc/resolv.conf", macMaxFile)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("reading resolv.conf: %w", err)
	}
	f.DNS = &evidence.DNSFacts{Servers: parseResolvConf(data)}
	return nil
}

func macProxy(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	out, err := output(ctx, run, macScutil, "--proxy")
	if err != nil {
		return err
	}
	f.Proxy = parseScutilProxy(out)
	return nil
}

// macTrustStore lists the certificates of the System keychain, where an
// administrator's added roots go, leaving out the ones macOS makes itself.
func macTrustStore(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	out, err := run(ctx, macSecurity, "find-certificate", "-a", "-p", macSystemKeychain)
	if err != nil && len(out) == 0 {
		return fmt.Errorf("%s: %w", macSecurity, err)
	}
	ts := &evidence.TrustStoreFacts{Added: []evidence.Certificate{}}
	if len(bytes.TrimSpace(out)) > 0 {
		certs, broken := parseCertificates(out)
		if broken {
			ts.Unreadable = 1
		}
		seen := map[string]bool{}
		for _, c := range certs {
			if !systemKeychainCert(c) && !seen[c.SHA256] {
				seen[c.SHA256] = true
				ts.Added = append(ts.Added, c)
			}
		}
	}
	slices.SortFunc(ts.Added, func(a, b evidence.Certificate) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.SHA256, b.SHA256))
	})
	ts.Added = ts.Added[:min(len(ts.Added), macMaxRoots)]
	f.TrustStore = ts
	return nil
}

// macProcesses lists running programs from ps, hashing each executable
// (read under the device root) once.
func macProcesses(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	out, err := output(ctx, run, macPS, "-axww", "-o", "comm=")
	if err != nil {
		return err
	}
	hashes := map[string]string{}
	seen := map[evidence.Process]bool{}
	running := []evidence.Process{}
	for _, p := range parsePSComm(out) {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := processNameOf(p)
		if name == "" {
			continue
		}
		sum, ok := hashes[p]
		if !ok && strings.HasPrefix(p, "/") {
			sum = fileHash(ctx, env, p)
			hashes[p] = sum
		}
		pr := evidence.Process{Name: name, SHA256: sum}
		if !seen[pr] {
			seen[pr] = true
			running = append(running, pr)
		}
	}
	slices.SortFunc(running, func(a, b evidence.Process) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.SHA256, b.SHA256))
	})
	f.Processes = &evidence.ProcessFacts{Running: running[:min(len(running), macMaxProcesses)]}
	return nil
}

func macDiskEncryption(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	out, err := output(ctx, run, macFdesetup, "status")
	if err != nil {
		return err
	}
	on, ok := parseFdesetupStatus(out)
	if !ok {
		return errors.New("fdesetup status: unrecognised output")
	}
	f.DiskEncryption = &evidence.DiskEncryptionFacts{SystemEncrypted: on}
	if on {
		f.DiskEncryption.Method = "filevault"
	}
	return nil
}

// macPlatformSecurity reads SIP (csrutil), Gatekeeper (spctl) and
// XProtect's version; a part that cannot be read stays nil.
func macPlatformSecurity(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	ps := &evidence.PlatformSecurityFacts{}
	if out, err := output(ctx, run, macCsrutil, "status"); err == nil {
		if on, ok := parseCsrutilStatus(out); ok {
			ps.SIP = &on
		}
	}
	if out, err := output(ctx, run, macSpctl, "--status"); err == nil {
		if on, ok := parseSpctlStatus(out); ok {
			ps.Gatekeeper = &on
		}
	}
	for _, b := range macXProtect {
		if data, _, err := env.readHead(b+"/Contents/Info.plist", macMaxFile); err == nil {
			if v, ok := parseBundleVersion(data); ok {
				ps.XProtectVersion = v
				break
			}
		}
	}
	if ps.SIP == nil && ps.Gatekeeper == nil && ps.XProtectVersion == "" {
		return errors.New("neither SIP, Gatekeeper nor XProtect could be read")
	}
	f.PlatformSecurity = ps
	return nil
}

func macVirtualization(ctx context.Context, env *Env, run runner, f *evidence.Facts) error {
	out, err := output(ctx, run, macSysctl, "kern.hv_vmm_present", "hw.model")
	if err != nil {
		return err
	}
	vm, product := macVM(parseSysctl(out))
	f.Virtualization = &evidence.VirtualizationFacts{VirtualMachine: vm, Product: product}
	return nil
}

// Limits of the macOS collectors, as on Linux: a settings file read, the
// added roots and processes a report carries, an executable hashed.
const (
	macMaxFile      = 1 << 20
	macMaxRoots     = 256
	macMaxProcesses = 4096
	maxHashedSize   = 256 << 20
)

// fileHash returns the hex SHA-256 of the device file at the absolute path
// p, or "" when it cannot be read or is larger than maxHashedSize. It
// stops once ctx is done.
func fileHash(ctx context.Context, env *Env, p string) string {
	file, fi, err := env.open(strings.TrimPrefix(p, "/"))
	if err != nil {
		return ""
	}
	defer file.Close()
	if fi.Size() > maxHashedSize {
		return ""
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		if ctx.Err() != nil {
			return ""
		}
		n, err := file.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return ""
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
