package evidence

import "time"

// Facts is the typed device posture a report carries. Every group is
// optional: a collector that could not run leaves its group nil and says why
// in Unknown, keyed by the group's JSON name (for example "firewall").
//
// The JSON names are stable: policies refer to them (facts.firewall.enabled)
// and docs/FACTS.md documents each one.
type Facts struct {
	OS         *OSFacts         `json:"os,omitempty"`
	Firewall   *FirewallFacts   `json:"firewall,omitempty"`
	Antivirus  *AntivirusFacts  `json:"antivirus,omitempty"`
	Hosts      *HostsFacts      `json:"hosts,omitempty"`
	DNS        *DNSFacts        `json:"dns,omitempty"`
	Proxy      *ProxyFacts      `json:"proxy,omitempty"`
	TrustStore *TrustStoreFacts `json:"trust_store,omitempty"`
	Processes  *ProcessFacts    `json:"processes,omitempty"`

	DiskEncryption   *DiskEncryptionFacts   `json:"disk_encryption,omitempty"`
	SecureBoot       *SecureBootFacts       `json:"secure_boot,omitempty"`
	ScreenLock       *ScreenLockFacts       `json:"screen_lock,omitempty"`
	PlatformSecurity *PlatformSecurityFacts `json:"platform_security,omitempty"`
	Browsers         *BrowserFacts          `json:"browsers,omitempty"`
	Virtualization   *VirtualizationFacts   `json:"virtualization,omitempty"`

	// Unknown maps a fact group that could not be collected to the reason.
	Unknown map[string]string `json:"unknown,omitempty"`
}

// OSFacts describes the operating system and how current its patches are.
type OSFacts struct {
	Name    string `json:"name"`              // os-release ID, "windows", "macos"
	Version string `json:"version,omitempty"` // os-release VERSION_ID or build number
	Kernel  string `json:"kernel,omitempty"`  // kernel release, when known
	Build   string `json:"build,omitempty"`   // Windows build (e.g. "22631.4460"), macOS build
	// KernelBuilt is when the running kernel was built; an old kernel means
	// the device has not rebooted into its updates.
	KernelBuilt *time.Time `json:"kernel_built,omitempty"`
	// LastUpdate is when packages or OS updates were last installed;
	// nil when it could not be determined.
	LastUpdate *time.Time `json:"last_update,omitempty"`
}

// FirewallFacts says whether a host firewall filters inbound traffic.
type FirewallFacts struct {
	Enabled bool   `json:"enabled"`
	Backend string `json:"backend,omitempty"` // "nftables", "iptables", "ufw", "windows", …
	// Profiles are the Windows Firewall profiles (domain, private, public).
	Profiles []FirewallProfile `json:"profiles,omitempty"`
	// Products are third-party firewalls registered with Windows Security
	// Center (FirewallProduct), with their decoded productState.
	Products []SecurityProduct `json:"products,omitempty"`
}

// FirewallProfile is one Windows Firewall profile.
type FirewallProfile struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// SecurityProduct is a product registered with Windows Security Center.
type SecurityProduct struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	State   string `json:"state,omitempty"` // "on", "off", "snoozed", "expired"
}

// AntivirusFacts lists the antivirus products found on the device; an empty
// list means none is installed.
type AntivirusFacts struct {
	Products []AntivirusProduct `json:"products"`
	// Antispyware lists Windows Security Center's AntiSpywareProduct entries.
	Antispyware []AntivirusProduct `json:"antispyware,omitempty"`
}

// AntivirusProduct is one installed antivirus engine.
type AntivirusProduct struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"` // real-time protection or daemon running
	// SignaturesUpdated is when the signature database was last updated;
	// nil when unknown.
	SignaturesUpdated *time.Time `json:"signatures_updated,omitempty"`
	// Windows Security Center's view, decoded from productState.
	State             string `json:"state,omitempty"`              // "on", "off", "snoozed", "expired"
	SignaturesCurrent *bool  `json:"signatures_current,omitempty"` // false: out of date
	Microsoft         *bool  `json:"microsoft,omitempty"`          // Microsoft's own (Defender) or third-party
}

// HostsFacts lists the hosts-file entries that are not the standard loopback
// lines. Only host names and addresses travel, never comments.
type HostsFacts struct {
	Entries []HostEntry `json:"entries"`
	// Truncated is true when the file had more entries than a report carries.
	Truncated bool `json:"truncated,omitempty"`
}

// HostEntry maps one host name to an address, as written in the hosts file.
type HostEntry struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
}

// DNSFacts lists the configured resolvers.
type DNSFacts struct {
	Servers []string `json:"servers"`
}

// ProxyFacts describes system-wide proxy settings; empty fields are unset.
type ProxyFacts struct {
	HTTP   string `json:"http,omitempty"`
	HTTPS  string `json:"https,omitempty"`
	PACURL string `json:"pac_url,omitempty"`
}

// TrustStoreFacts lists root certificates added to the system trust store
// beyond the platform's known-good baseline.
type TrustStoreFacts struct {
	Added []Certificate `json:"added"`
	// Unreadable counts files in the trust store that did not parse.
	Unreadable int `json:"unreadable,omitempty"`
}

// Certificate identifies a root certificate by subject and SHA-256
// fingerprint (hex, lower case) of its DER encoding.
type Certificate struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

// ProcessFacts lists running programs by name and executable hash.
type ProcessFacts struct {
	Running []Process `json:"running"`
}

// Process is one running program. Paths are not reported: they can hold a
// user's name.
type Process struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"` // hex, lower case; empty when unreadable
}

// RunsTool reports whether a program name names a tool given in lower
// case: the tool's name, ASCII letters in any case, at the start of the
// program name or right after a character that is not a letter or a digit
// ("ToDesk.exe", "/opt/todesk/todesk", "todesk_service"), not inside a
// longer word ("AutodeskDesktopApp.exe" does not run todesk). The policy
// and the agent's feed match remote-control tools this way.
func RunsTool(name, tool string) bool {
	if tool == "" {
		return false
	}
	for i := 0; i+len(tool) <= len(name); i++ {
		if (i == 0 || !isAlnum(name[i-1])) && equalLowerASCII(name[i:i+len(tool)], tool) {
			return true
		}
	}
	return false
}

// WordStart reports whether position i of s starts a word: it is the start
// of s or follows a character that is not an ASCII letter or digit.
func WordStart(s string, i int) bool { return i == 0 || !isAlnum(s[i-1]) }

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// equalLowerASCII reports whether s, with ASCII letters lower-cased, is lower.
func equalLowerASCII(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// DiskEncryptionFacts says whether the system volume is encrypted
// (BitLocker, FileVault, dm-crypt/LUKS).
type DiskEncryptionFacts struct {
	SystemEncrypted bool   `json:"system_encrypted"`
	Method          string `json:"method,omitempty"` // "bitlocker", "filevault", "luks", …
}

// SecureBootFacts says whether UEFI Secure Boot is on.
type SecureBootFacts struct {
	Enabled bool `json:"enabled"`
}

// ScreenLockFacts says whether the screen locks by itself.
type ScreenLockFacts struct {
	Enabled bool `json:"enabled"`
	// IdleSeconds before the lock, 0 when unknown.
	IdleSeconds int `json:"idle_seconds,omitempty"`
}

// PlatformSecurityFacts are OS protections that exist on one platform each;
// nil fields do not apply to or were not read on this platform.
type PlatformSecurityFacts struct {
	UAC             *bool  `json:"uac,omitempty"`        // Windows User Account Control
	SIP             *bool  `json:"sip,omitempty"`        // macOS System Integrity Protection
	Gatekeeper      *bool  `json:"gatekeeper,omitempty"` // macOS Gatekeeper
	XProtectVersion string `json:"xprotect_version,omitempty"`
}

// BrowserFacts lists browser extensions whose permissions reach payment
// pages (all URLs, cookies, webRequest, debugger …).
type BrowserFacts struct {
	Extensions []BrowserExtension `json:"extensions"`
}

// BrowserExtension is one installed extension.
type BrowserExtension struct {
	Browser     string   `json:"browser"` // "chrome", "edge", "firefox", "360se", …
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"` // the risky permissions it holds
}

// VirtualizationFacts says whether the device is a virtual machine or an
// emulator, a signal of device farms and fake accounts.
type VirtualizationFacts struct {
	VirtualMachine bool   `json:"virtual_machine"`
	Emulator       bool   `json:"emulator"`
	Product        string `json:"product,omitempty"` // e.g. "VMware Virtual Platform", "QEMU"
}
