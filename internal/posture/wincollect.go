package posture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// The Windows collectors. They are OS-independent: each asks a winSystem
// and hands the answer to a decoder, so tests run them on any system
// against recorded answers (testdata/windows/). collectors_windows.go
// wires them to the real system.

// winOS reads the version and build from the registry and the date of the
// newest installed update from Win32_QuickFixEngineering. Updates that
// cannot be listed, or whose dates do not parse, leave LastUpdate nil.
func winOS(ctx context.Context, env *Env, sys winSystem, f *evidence.Facts) error {
	cv, err := sys.registry(ctx, regCurrentVersion)
	if err != nil {
		return fmt.Errorf("reading windows version: %w", err)
	}
	osf, err := decodeWindowsVersion(cv)
	if err != nil {
		return err
	}
	var qfe []winQFE
	if err := sys.wmi(ctx, wmiCIMV2, "Win32_QuickFixEngineering", "", &qfe); err == nil {
		if t, ok := newestQFE(qfe, env.Now()); ok {
			osf.LastUpdate = &t
		}
	}
	f.OS = osf
	return nil
}

// winFirewall reads the Windows Firewall profiles (local settings and
// group policy) and Security Center's third-party firewalls. Security
// Center is optional: servers do not have it.
func winFirewall(ctx context.Context, env *Env, sys winSystem, f *evidence.Facts) error {
	local := map[string]regValues{}
	policy := map[string]regValues{}
	var lastErr error
	for _, p := range firewallProfiles {
		if v, err := sys.registry(ctx, regFirewallPolicy+`\`+p.key); err == nil {
			local[p.key] = v
		} else if !errors.Is(err, errRegistryNotFound) {
			lastErr = err
		}
		if v, err := sys.registry(ctx, regFirewallGPO+`\`+p.policyKey); err == nil {
			policy[p.policyKey] = v
		}
	}
	var products []wscProduct
	_ = sys.wmi(ctx, wmiSecurityCenter, "FirewallProduct", "", &products)
	fw, err := decodeFirewall(local, policy, products)
	if err != nil {
		if lastErr != nil {
			return fmt.Errorf("reading windows firewall settings: %w", lastErr)
		}
		return err
	}
	f.Firewall = fw
	return nil
}

// winAntivirus asks Security Center for the antivirus and antispyware
// products. Security Center exists on client editions only; on a server
// the group is unknown and the reason says so.
func winAntivirus(ctx context.Context, env *Env, sys winSystem, f *evidence.Facts) error {
	var av, spy []wscProduct
	if err := sys.wmi(ctx, wmiSecurityCenter, "AntiVirusProduct", "", &av); err != nil {
		return wscUnavailable(installationType(ctx, sys), err)
	}
	if err := sys.wmi(ctx, wmiSecurityCenter, "AntiSpywareProduct", "", &spy); err != nil && !errors.Is(err, errWMIClass) {
		return wscUnavailable(installationType(ctx, sys), err)
	}
	facts, err := decodeAntivirus(av, spy, env.Now())
	if err != nil {
		return err
	}
	f.Antivirus = facts
	return nil
}

// installationType is the edition family of the CurrentVersion key
// ("Client", "Server", "Server Core"), "" when unreadable.
func installationType(ctx context.Context, sys winSystem) string {
	cv, err := sys.registry(ctx, regCurrentVersion)
	if err != nil {
		return ""
	}
	t, _ := cv.string("InstallationType")
	return t
}

// winDiskEncryption asks BitLocker whether the system drive is protected.
// systemDrive is %SystemDrive% ("C:").
func winDiskEncryption(ctx context.Context, sys winSystem, systemDrive string, f *evidence.Facts) error {
	var vols []winVolume
	if err := sys.wmi(ctx, wmiVolumeEncrypt, "Win32_EncryptableVolume", "", &vols); err != nil {
		return bitlockerUnavailable(err)
	}
	de, err := decodeBitLocker(vols, systemDrive)
	if err != nil {
		return err
	}
	f.DiskEncryption = de
	return nil
}

// winSecureBoot reads the SecureBoot\State key; a device booted by a
// legacy BIOS has no such key and Secure Boot off.
func winSecureBoot(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	state, err := sys.registry(ctx, regSecureBootState)
	if err != nil && !errors.Is(err, errRegistryNotFound) {
		return fmt.Errorf("reading secure boot state: %w", err)
	}
	f.SecureBoot = decodeSecureBoot(state)
	return nil
}

// winPlatformSecurity reads whether User Account Control is on.
func winPlatformSecurity(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	system, err := sys.registry(ctx, regSystemPolicies)
	if err != nil {
		return fmt.Errorf("reading user account control setting: %w", err)
	}
	f.PlatformSecurity = decodeUAC(system)
	return nil
}

// winScreenLock reads the user's screen saver settings and the machine's
// inactivity limit. It describes the user whose registry hive HKCU is:
// for an agent running as a service, that is the service's account.
func winScreenLock(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	desktop, err := sys.registry(ctx, regDesktop)
	if err != nil && !errors.Is(err, errRegistryNotFound) {
		return fmt.Errorf("reading desktop settings: %w", err)
	}
	policy, _ := sys.registry(ctx, regDesktopPolicy)
	system, _ := sys.registry(ctx, regSystemPolicies)
	f.ScreenLock = decodeScreenLock(desktop, policy, system)
	return nil
}

// winProxy reads WinINET's proxy settings: the user's Internet Settings,
// or the machine's when group policy makes them per machine
// (ProxySettingsPerUser 0). Like the screen lock, the user is HKCU's.
func winProxy(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	key := regUserInternet
	if pol, err := sys.registry(ctx, regInternetPolicy); err == nil {
		if perUser, ok := pol.uint("ProxySettingsPerUser"); ok && perUser == 0 {
			key = regMachineInternet
		}
	}
	v, err := sys.registry(ctx, key)
	if err != nil && !errors.Is(err, errRegistryNotFound) {
		return fmt.Errorf("reading internet settings: %w", err)
	}
	f.Proxy = decodeWinINET(v)
	return nil
}

// winDNS lists the resolvers of the network adapters that have IP on.
func winDNS(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	var rows []winAdapter
	if err := sys.wmi(ctx, wmiCIMV2, "Win32_NetworkAdapterConfiguration", "IPEnabled = TRUE", &rows); err != nil {
		return fmt.Errorf("listing network adapters: %w", err)
	}
	f.DNS = decodeDNS(rows)
	return nil
}

// winVirtualization reads the firmware's manufacturer and model.
func winVirtualization(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	var rows []winComputerSystem
	if err := sys.wmi(ctx, wmiCIMV2, "Win32_ComputerSystem", "", &rows); err != nil {
		return fmt.Errorf("reading computer system: %w", err)
	}
	v, err := decodeVirtualization(rows)
	if err != nil {
		return err
	}
	f.Virtualization = v
	return nil
}

// winTrustStore lists the roots of the LocalMachine and CurrentUser ROOT
// stores that known does not vouch for.
func winTrustStore(ctx context.Context, sys winSystem, known func(string) bool, f *evidence.Facts) error {
	stores, err := sys.rootCertificates(ctx)
	if err != nil {
		return fmt.Errorf("reading root certificate stores: %w", err)
	}
	var all [][]byte
	for _, name := range []string{"LocalMachine", "CurrentUser"} {
		all = append(all, stores[name]...)
	}
	added, unreadable := addedRoots(all, known)
	f.TrustStore = &evidence.TrustStoreFacts{Added: added, Unreadable: unreadable}
	return nil
}

// winProcesses lists the running programs with the SHA-256 of their
// executables, each file hashed once.
func winProcesses(ctx context.Context, sys winSystem, f *evidence.Facts) error {
	procs, err := sys.processes(ctx)
	if err != nil {
		return fmt.Errorf("listing processes: %w", err)
	}
	cache := map[winExeKey]string{}
	pf, err := decodeProcesses(ctx, procs, func(p string) string { return hashExecutable(ctx, p, cache) })
	if err != nil {
		return err
	}
	f.Processes = pf
	return nil
}

// winHosts reads the hosts file in hostsDir (slash-separated, under the
// device root; Windows\System32\drivers\etc unless DataBasePath moved it)
// with the parser Linux uses. hostname is the device's own name, whose
// loopback line counts as standard; it may be empty.
func winHosts(ctx context.Context, env *Env, hostsDir, hostname string, f *evidence.Facts) error {
	hosts, err := env.readHosts(hostsDir+"/hosts", hostname)
	if err != nil {
		return err
	}
	f.Hosts = hosts
	return nil
}

// winHostsDir returns the drive root and the slash-separated folder under
// it that Windows reads the hosts file from: the DataBasePath value of
// Tcpip's parameters in the registry (as read, %SystemRoot% and %windir%
// not yet expanded), else the default under %SystemRoot%. Malware that
// wants a hijack no one sees points DataBasePath at a hosts file of its
// own; the collector reads the file Windows reads.
func winHostsDir(dataBasePath, systemRoot string) (root, dir string) {
	root, windowsDir := windowsRoot("", systemRoot)
	def := windowsDir + "/System32/drivers/etc"
	p := strings.TrimSpace(dataBasePath)
	if p == "" {
		return root, def
	}
	sysRoot := strings.TrimRight(strings.TrimSpace(systemRoot), `\`)
	if sysRoot == "" {
		sysRoot = root + windowsDir
	}
	for _, v := range []string{"%SystemRoot%", "%windir%"} {
		if i := strings.Index(strings.ToLower(p), strings.ToLower(v)); i >= 0 {
			p = p[:i] + sysRoot + p[i+len(v):]
		}
	}
	if len(p) < 3 || p[1] != ':' || !isLetter(p[0]) || p[2] != '\\' && p[2] != '/' || strings.Contains(p, "%") {
		return root, def // not an absolute path Windows could use
	}
	dir = strings.Trim(strings.ReplaceAll(p[3:], `\`, "/"), "/")
	if dir == "" || strings.Contains("/"+dir+"/", "/../") {
		return root, def
	}
	return strings.ToUpper(p[:2]) + `\`, dir
}

// windowsRoot returns the device root and the Windows folder below it
// (slash-separated) for a collection run. On the running system (root
// "/", `\` or "") the root is the drive of systemRoot (%SystemRoot%,
// "C:\Windows" when empty) and the folder its path on that drive, so a
// Windows installed on D:\WINNT is found. Under a device tree (--root
// DIR) the tree stands for C:\ and the folder is "Windows".
func windowsRoot(root, systemRoot string) (deviceRoot, windowsDir string) {
	if root != "" && root != "/" && root != `\` {
		return root, "Windows"
	}
	systemRoot = strings.TrimSpace(systemRoot)
	drive, dir := "C:", "Windows"
	if len(systemRoot) >= 2 && systemRoot[1] == ':' && isLetter(systemRoot[0]) {
		drive = strings.ToUpper(systemRoot[:2])
		if d := strings.Trim(strings.ReplaceAll(systemRoot[2:], `\`, "/"), "/"); d != "" {
			dir = d
		}
	}
	return drive + `\`, dir
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// localHostname is the running system's name, "" under a device tree.
func localHostname(env *Env) string {
	if env.Root != "" && env.Root != "/" && env.Root != `\` {
		return ""
	}
	name, _ := os.Hostname()
	return name
}
