package posture

import (
	"cmp"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Parsers of macOS files and program outputs. They are OS-independent so
// they are tested and fuzzed on every system against the recorded outputs
// in testdata/darwin/.

// parseSystemVersion returns ProductVersion and ProductBuildVersion of
// /System/Library/CoreServices/SystemVersion.plist.
func parseSystemVersion(data []byte) (version, build string, ok bool) {
	v, err := parsePlist(data)
	if err != nil {
		return "", "", false
	}
	version, ok = plistString(v, "ProductVersion")
	build, _ = plistString(v, "ProductBuildVersion")
	return clean(version), clean(build), ok
}

// parseBundleVersion returns CFBundleShortVersionString of a bundle's
// Info.plist (XProtect's version).
func parseBundleVersion(data []byte) (string, bool) {
	v, err := parsePlist(data)
	if err != nil {
		return "", false
	}
	s, ok := plistString(v, "CFBundleShortVersionString")
	return clean(s), ok && s != ""
}

// parseALFState returns the globalstate of the application firewall's
// settings (/Library/Preferences/com.apple.alf.plist): 0 off, 1 on for
// specific services, 2 blocking all incoming connections.
func parseALFState(data []byte) (int64, bool) {
	v, err := parsePlist(data)
	if err != nil {
		return 0, false
	}
	return plistInt(v, "globalstate")
}

// parseSocketFilterFW reads `socketfilterfw --getglobalstate`:
// "Firewall is enabled. (State = 1)", "Firewall is disabled. (State = 0)",
// "Firewall is blocking all non-essential incoming connections. (State = 2)".
func parseSocketFilterFW(out []byte) (enabled, ok bool) {
	s := string(out)
	if i := strings.Index(s, "(State = "); i >= 0 {
		rest := s[i+len("(State = "):]
		if j := strings.IndexByte(rest, ')'); j > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(rest[:j])); err == nil {
				return n > 0, true
			}
		}
	}
	switch {
	case strings.Contains(s, "Firewall is disabled"):
		return false, true
	case strings.Contains(s, "Firewall is enabled"), strings.Contains(s, "Firewall is blocking"):
		return true, true
	}
	return false, false
}

// parseFdesetupStatus reads `fdesetup status`: "FileVault is On." or
// "FileVault is Off." (possibly followed by "Encryption in progress" or
// "will be enabled after the next restart", which are not on yet).
func parseFdesetupStatus(out []byte) (on, ok bool) {
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if rest, found := strings.CutPrefix(line, "FileVault is "); found {
			switch {
			case strings.HasPrefix(rest, "On"):
				return true, true
			case strings.HasPrefix(rest, "Off"):
				return false, true
			}
		}
	}
	return false, false
}

// parseCsrutilStatus reads `csrutil status`: "System Integrity Protection
// status: enabled." or "disabled.". A custom configuration ("unknown
// (Custom Configuration)", some protections off) counts as not enabled.
func parseCsrutilStatus(out []byte) (enabled, ok bool) {
	const prefix = "System Integrity Protection status:"
	for _, line := range strings.Split(string(out), "\n") {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), prefix)
		if !found {
			continue
		}
		rest = strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(rest, "enabled") && !strings.Contains(rest, "Custom"):
			return true, true
		case strings.HasPrefix(rest, "disabled"), strings.HasPrefix(rest, "unknown"), strings.Contains(rest, "Custom"):
			return false, true
		}
	}
	return false, false
}

// parseSpctlStatus reads `spctl --status`: "assessments enabled" or
// "assessments disabled".
func parseSpctlStatus(out []byte) (enabled, ok bool) {
	for _, line := range strings.Split(string(out), "\n") {
		switch strings.TrimSpace(line) {
		case "assessments enabled":
			return true, true
		case "assessments disabled":
			return false, true
		}
	}
	return false, false
}

// scutilEntries returns the top-level "key : value" lines of scutil's
// dictionary output (`scutil --proxy`), skipping nested arrays and
// dictionaries.
func scutilEntries(out []byte) map[string]string {
	m := map[string]string{}
	depth := 0
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "}" {
			depth--
			continue
		}
		k, v, found := strings.Cut(line, " : ")
		opens := strings.HasSuffix(line, "{")
		if found && depth == 1 && !opens {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		if opens {
			depth++
		}
	}
	return m
}

// parseScutilProxy reads `scutil --proxy` into proxy facts: the HTTP and
// HTTPS proxies when enabled, as "http://host:port", and the PAC URL when
// automatic configuration is enabled. An enabled SOCKS proxy serves the
// protocols without their own proxy (CFNetwork and Chromium send every
// connection through it), as "socks5://host:port".
func parseScutilProxy(out []byte) *evidence.ProxyFacts {
	m := scutilEntries(out)
	p := &evidence.ProxyFacts{}
	proxy := func(prefix, scheme string) string {
		host := m[prefix+"Proxy"]
		if m[prefix+"Enable"] != "1" || host == "" {
			return ""
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			host = "[" + host + "]"
		}
		u := scheme + host
		if port := m[prefix+"Port"]; port != "" {
			u += ":" + port
		}
		return clean(u)
	}
	socks := proxy("SOCKS", "socks5://")
	p.HTTP = cmp.Or(proxy("HTTP", "http://"), socks)
	p.HTTPS = cmp.Or(proxy("HTTPS", "http://"), socks)
	if m["ProxyAutoConfigEnable"] == "1" {
		p.PACURL = clean(m["ProxyAutoConfigURLString"])
	}
	return p
}

// parseScutilDNS returns the nameserver addresses of `scutil --dns`
// ("nameserver[0] : 192.168.1.1") in order, without duplicates, at most
// maxDNSServers.
func parseScutilDNS(out []byte) []string {
	servers := []string{}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, found := strings.Cut(strings.TrimSpace(line), " : ")
		if !found || !strings.HasPrefix(k, "nameserver[") || len(v) > 64 {
			continue
		}
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		s := a.String()
		if s != clean(s) {
			continue // a zone that is not text
		}
		if !seen[s] && len(servers) < maxDNSServers {
			seen[s] = true
			servers = append(servers, s)
		}
	}
	return servers
}

// systemKeychainCert reports whether a certificate of the System keychain
// is one macOS makes itself (com.apple.systemdefault,
// com.apple.kerberos.kdc) rather than one an administrator added.
func systemKeychainCert(c evidence.Certificate) bool {
	return strings.HasPrefix(c.Subject, "CN=com.apple.")
}

// parsePSComm reads `ps -axww -o comm=`: one executable path (or, for a
// few system processes, a bare name) per line. It returns the paths in
// order, without duplicates.
func parsePSComm(out []byte) []string {
	var paths []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || seen[p] || len(p) > 4096 {
			continue
		}
		seen[p] = true
		paths = append(paths, p)
	}
	return paths
}

// processNameOf is the report name of a ps path: its last element.
func processNameOf(p string) string {
	return processName(path.Base(p))
}

// parseSysctl reads `sysctl NAME…` output ("kern.hv_vmm_present: 1").
func parseSysctl(out []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// macVM decides from sysctl whether the Mac is a virtual machine:
// kern.hv_vmm_present is 1 inside one, and the model names the
// hypervisor ("VirtualMac2,1" under Apple's Virtualization framework,
// "VMware7,1", "Parallels-ARM").
func macVM(m map[string]string) (vm bool, product string) {
	model := clean(m["hw.model"])
	for _, p := range []string{"VirtualMac", "VMware", "Parallels"} {
		if strings.HasPrefix(model, p) {
			return true, model
		}
	}
	if m["kern.hv_vmm_present"] == "1" {
		return true, model
	}
	return false, ""
}

// parseInstallHistory returns the time of the newest macOS software
// update in /Library/Receipts/InstallHistory.plist: entries installed by
// softwareupdated, leaving out the background data updates (XProtect, MRT,
// Gatekeeper configuration), which arrive every few days whether or not
// the system is patched. Entries later than the day after now are ignored.
func parseInstallHistory(data []byte, now time.Time) (time.Time, bool) {
	v, err := parsePlist(data)
	if err != nil {
		return time.Time{}, false
	}
	items, _ := v.([]any)
	var latest time.Time
	found := false
	for _, it := range items {
		proc, _ := plistString(it, "processName")
		name, _ := plistString(it, "displayName")
		if proc != "softwareupdated" || strings.Contains(name, "ConfigData") ||
			strings.Contains(name, "XProtect") || strings.Contains(name, "MRT") || strings.Contains(name, "Gatekeeper") {
			continue
		}
		d, _ := it.(map[string]any)
		t, ok := d["date"].(time.Time)
		if ok && notFuture(t, now) && (!found || t.After(latest)) {
			latest, found = t, true
		}
	}
	return latest, found
}

// dropBroadcastHost removes macOS's standard "255.255.255.255
// broadcasthost" hosts line.
func dropBroadcastHost(entries []evidence.HostEntry) []evidence.HostEntry {
	out := entries[:0]
	for _, e := range entries {
		if !(e.Host == "broadcasthost" && e.IP == "255.255.255.255") {
			out = append(out, e)
		}
	}
	return out
}
