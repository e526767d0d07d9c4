package posture

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// Decoders of the registry values and WMI rows behind the Windows firewall,
// BitLocker, Secure Boot, UAC, screen lock, DNS and virtualization facts.
// OS-independent, tested against testdata/windows/.

// firewallProfile names a Windows Firewall profile: its report name, its
// key under regFirewallPolicy, and its key under the group policy
// (regFirewallGPO), which uses "PrivateProfile" where the local settings
// say "StandardProfile".
type firewallProfile struct {
	name, key, policyKey string
}

var firewallProfiles = []firewallProfile{
	{"domain", "DomainProfile", "DomainProfile"},
	{"private", "StandardProfile", "PrivateProfile"},
	{"public", "PublicProfile", "PublicProfile"},
}

// decodeFirewall decides whether the device filters inbound traffic from
// the Windows Firewall profiles and Security Center's third-party
// firewalls. local and policy hold the EnableFirewall settings of each
// profile (keyed by firewallProfile.key and .policyKey; nil when the key
// is missing): a group policy value overrides the local one. A profile
// with neither is left out. The firewall is enabled when at least one
// profile is on (backend "windows"; a profile that is off shows in
// Profiles, which policy reports as firewall_profile_off), or else when a
// third-party firewall is on (backend = the first such product).
func decodeFirewall(local, policy map[string]regValues, products []wscProduct) (*evidence.FirewallFacts, error) {
	fw := &evidence.FirewallFacts{Backend: "windows"}
	anyOn := false
	for _, p := range firewallProfiles {
		v, ok := policy[p.policyKey].uint("EnableFirewall")
		if !ok {
			v, ok = local[p.key].uint("EnableFirewall")
		}
		if !ok {
			continue
		}
		fw.Profiles = append(fw.Profiles, evidence.FirewallProfile{Name: p.name, Enabled: v != 0})
		anyOn = anyOn || v != 0
	}
	fw.Products = decodeFirewallProducts(products)
	if len(fw.Profiles) == 0 && len(fw.Products) == 0 {
		return nil, errors.New("no windows firewall profile settings and no firewall product")
	}
	fw.Enabled = anyOn
	if !anyOn {
		for _, p := range fw.Products {
			if p.Enabled {
				fw.Enabled, fw.Backend = true, p.Name
				break
			}
		}
	}
	return fw, nil
}

// winVolume is one row of Win32_EncryptableVolume (BitLocker).
type winVolume struct {
	DriveLetter      *string
	ProtectionStatus *uint32
}

// BitLocker ProtectionStatus values (Win32_EncryptableVolume).
const (
	bitlockerOff     = 0
	bitlockerOn      = 1
	bitlockerUnknown = 2 // the volume is locked
)

// decodeBitLocker reports whether BitLocker protects the system drive
// ("C:"). A system drive that WMI does not list, or whose protection
// status is missing or unknown, gives an error.
func decodeBitLocker(rows []winVolume, systemDrive string) (*evidence.DiskEncryptionFacts, error) {
	drive := strings.ToUpper(strings.TrimRight(strings.TrimSpace(systemDrive), `\/`))
	if drive == "" {
		drive = "C:"
	}
	for _, r := range rows {
		if r.DriveLetter == nil || !strings.EqualFold(strings.TrimSpace(*r.DriveLetter), drive) {
			continue
		}
		if r.ProtectionStatus == nil {
			return nil, fmt.Errorf("bitlocker protection status of %s is missing", drive)
		}
		switch *r.ProtectionStatus {
		case bitlockerOn:
			return &evidence.DiskEncryptionFacts{SystemEncrypted: true, Method: "bitlocker"}, nil
		case bitlockerOff:
			return &evidence.DiskEncryptionFacts{}, nil
		default:
			return nil, fmt.Errorf("bitlocker protection status of %s is unknown (%d)", drive, *r.ProtectionStatus)
		}
	}
	return nil, fmt.Errorf("bitlocker does not list the system drive %s", drive)
}

// bitlockerUnavailable explains why Win32_EncryptableVolume could not be
// read: the class needs administrator rights, and does not exist where
// BitLocker is not installed.
func bitlockerUnavailable(err error) error {
	switch {
	case errors.Is(err, errWMIAccessDenied):
		return errors.New("reading bitlocker status needs administrator rights")
	case errors.Is(err, errWMINamespace), errors.Is(err, errWMIClass):
		return errors.New("bitlocker is not available on this windows edition")
	}
	return fmt.Errorf("asking bitlocker: %w", err)
}

// decodeSecureBoot reads UEFISecureBootEnabled of the SecureBoot\State
// key. A missing value counts as off: Windows writes the key only when it
// booted through UEFI.
func decodeSecureBoot(state regValues) *evidence.SecureBootFacts {
	v, _ := state.uint("UEFISecureBootEnabled")
	return &evidence.SecureBootFacts{Enabled: v != 0}
}

// decodeUAC reads EnableLUA of the System policies key: 0 turns User
// Account Control off. Without the value UAC is on, Windows' default.
func decodeUAC(system regValues) *evidence.PlatformSecurityFacts {
	on := true
	if v, ok := system.uint("EnableLUA"); ok {
		on = v != 0
	}
	return &evidence.PlatformSecurityFacts{UAC: &on}
}

// decodeScreenLock decides whether the screen locks by itself: a secure
// screen saver (ScreenSaveActive and ScreenSaverIsSecure "1", a
// SCRNSAVE.EXE set and ScreenSaveTimeOut seconds) in the user's desktop
// settings, with the user's group policy overriding each value, or a
// machine inactivity limit (InactivityTimeoutSecs of the System policies
// key), which locks the session on its own. IdleSeconds is the shorter of
// the two delays in force.
func decodeScreenLock(desktop, policy, system regValues) *evidence.ScreenLockFacts {
	num := func(name string) (uint64, bool) {
		if v, ok := policy.uint(name); ok {
			return v, true
		}
		return desktop.uint(name)
	}
	str := func(name string) string {
		if v, ok := policy.string(name); ok {
			return v
		}
		v, _ := desktop.string(name)
		return v
	}
	sl := &evidence.ScreenLockFacts{}
	active, _ := num("ScreenSaveActive")
	secure, _ := num("ScreenSaverIsSecure")
	timeout, _ := num("ScreenSaveTimeOut")
	if active != 0 && secure != 0 && timeout > 0 && str("SCRNSAVE.EXE") != "" {
		sl.Enabled, sl.IdleSeconds = true, int(min(timeout, 1<<31-1))
	}
	if limit, ok := system.uint("InactivityTimeoutSecs"); ok && limit > 0 {
		limit = min(limit, 1<<31-1)
		if !sl.Enabled || int(limit) < sl.IdleSeconds {
			sl.IdleSeconds = int(limit)
		}
		sl.Enabled = true
	}
	return sl
}

// winAdapter is one row of Win32_NetworkAdapterConfiguration.
type winAdapter struct {
	DNSServerSearchOrder []string
}

// decodeDNS returns the resolvers of the adapters in order, without
// duplicates, at most maxDNSServers; entries that are not IP addresses
// are skipped.
func decodeDNS(rows []winAdapter) *evidence.DNSFacts {
	servers := []string{}
	seen := map[string]bool{}
	for _, r := range rows {
		for _, s := range r.DNSServerSearchOrder {
			addr, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil || len(servers) == maxDNSServers {
				continue
			}
			if a := addr.String(); !seen[a] {
				seen[a] = true
				servers = append(servers, a)
			}
		}
	}
	return &evidence.DNSFacts{Servers: servers}
}

// winComputerSystem is the row of Win32_ComputerSystem.
type winComputerSystem struct {
	Manufacturer *string
	Model        *string
}

// decodeVirtualization decides from the firmware's manufacturer and model
// whether Windows runs in a virtual machine: VMware ("VMware, Inc.",
// "VMware7,1"), VirtualBox ("innotek GmbH", "VirtualBox"), QEMU/KVM,
// Hyper-V (model "Virtual Machine"), Parallels, Xen and the clouds known
// to detectVM. HypervisorPresent is not used: it is true on physical
// machines running virtualization-based security.
func decodeVirtualization(rows []winComputerSystem) (*evidence.VirtualizationFacts, error) {
	if len(rows) == 0 || rows[0].Manufacturer == nil && rows[0].Model == nil {
		return nil, errors.New("win32_computersystem has no manufacturer or model")
	}
	var vendor, model string
	if rows[0].Manufacturer != nil {
		vendor = *rows[0].Manufacturer
	}
	if rows[0].Model != nil {
		model = *rows[0].Model
	}
	vm, product := detectVM(vendor, model, false)
	return &evidence.VirtualizationFacts{VirtualMachine: vm, Product: product}, nil
}
