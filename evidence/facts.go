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

	// Unknown maps a fact group that could not be collected to the reason.
	Unknown map[string]string `json:"unknown,omitempty"`
}

// OSFacts describes the operating system and how current its patches are.
type OSFacts struct {
	Name    string `json:"name"`              // os-release ID, "windows", "macos"
	Version string `json:"version,omitempty"` // os-release VERSION_ID or build number
	Kernel  string `json:"kernel,omitempty"`  // kernel release, when known
	// LastUpdate is when packages or OS updates were last installed;
	// nil when it could not be determined.
	LastUpdate *time.Time `json:"last_update,omitempty"`
}

// FirewallFacts says whether a host firewall filters inbound traffic.
type FirewallFacts struct {
	Enabled bool   `json:"enabled"`
	Backend string `json:"backend,omitempty"` // "nftables", "iptables", "ufw", "windows", …
}

// AntivirusFacts lists the antivirus products found on the device; an empty
// list means none is installed.
type AntivirusFacts struct {
	Products []AntivirusProduct `json:"products"`
}

// AntivirusProduct is one installed antivirus engine.
type AntivirusProduct struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"` // real-time protection or daemon running
	// SignaturesUpdated is when the signature database was last updated;
	// nil when unknown.
	SignaturesUpdated *time.Time `json:"signatures_updated,omitempty"`
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
