package posture

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Parsers of the Linux files the disk encryption, Secure Boot, screen lock,
// kernel age and virtualization collectors read. They are OS-independent so
// they are tested and fuzzed everywhere.

// mountEntry is one line of /proc/mounts or /etc/fstab.
type mountEntry struct {
	source, target, fstype string
}

// parseMounts returns the entries of a mounts or fstab file, with the
// octal escapes of /proc/mounts (\040 for a space) undone. Comments and
// lines with fewer than three fields are skipped.
func parseMounts(data []byte) []mountEntry {
	var out []mountEntry
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		f := strings.Fields(string(line))
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		out = append(out, mountEntry{unescapeMount(f[0]), unescapeMount(f[1]), f[2]})
	}
	return out
}

// rootSource returns the device mounted on "/", the last such entry
// winning as in /proc/mounts (a later mount hides an earlier one).
func rootSource(entries []mountEntry) (source, fstype string, ok bool) {
	for _, e := range entries {
		if e.target == "/" {
			source, fstype, ok = e.source, e.fstype, true
		}
	}
	return source, fstype, ok
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseCrypttab returns the mapping names of /etc/crypttab (the first
// field of each entry).
func parseCrypttab(data []byte) []string {
	var names []string
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		f := strings.Fields(string(line))
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			names = append(names, f[0])
		}
	}
	return names
}

// dmCryptMethod returns the encryption method a device-mapper UUID
// (/sys/block/dm-N/dm/uuid) names: "luks" for CRYPT-LUKS1 and CRYPT-LUKS2,
// "dm-crypt" for other dm-crypt targets (plain, TrueCrypt/VeraCrypt,
// BitLocker), "" for anything that is not dm-crypt.
func dmCryptMethod(uuid string) string {
	uuid = strings.TrimSpace(uuid)
	switch {
	case strings.HasPrefix(uuid, "CRYPT-LUKS"):
		return "luks"
	case strings.HasPrefix(uuid, "CRYPT-"):
		return "dm-crypt"
	}
	return ""
}

// efiGlobalVariable is the vendor GUID of the UEFI global variables
// (SecureBoot, SetupMode, …).
const efiGlobalVariable = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// parseEFIBool reads a one-byte boolean UEFI variable as efivarfs shows
// it: four bytes of attributes, then the data byte. ok is false when the
// file is not of that form.
func parseEFIBool(data []byte) (value, ok bool) {
	if len(data) != 5 {
		return false, false
	}
	switch data[4] {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}

// kernelVersionDate matches the build date in /proc/sys/kernel/version
// (`uname -v`): Debian's "(2024-11-01)", the kernel's own
// "Fri Nov  1 14:01:32 UTC 2024" and Arch's "Thu, 14 Nov 2024 22:38:02 +0000".
var (
	kernelDebianDate = regexp.MustCompile(`\((\d{4}-\d{2}-\d{2})\)\s*$`)
	kernelUnixDate   = regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2})(?: ([A-Z]{2,5}|[+-]\d{4}))? (\d{4})\s*$`)
	kernelRFCDate    = regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2}) ([+-]\d{4})\s*$`)
)

// parseKernelBuilt returns the build time in a kernel version string, in
// UTC. Zone names other than UTC/GMT count as UTC: the kernel prints what
// the build machine's zone was called, and a few hours do not matter for a
// kernel's age. ok is false when no date is found, as with Ubuntu's string,
// which the 64-byte utsname field cuts off before the year.
func parseKernelBuilt(version string) (time.Time, bool) {
	if len(version) > 1024 {
		return time.Time{}, false
	}
	if m := kernelDebianDate.FindStringSubmatch(version); m != nil {
		t, err := time.Parse(time.DateOnly, m[1])
		return t, err == nil
	}
	if m := kernelUnixDate.FindStringSubmatch(version); m != nil {
		s := strings.Join(strings.Fields(m[1]), " ") + " " + m[3]
		t, err := time.Parse("Jan 2 15:04:05 2006", s)
		if err != nil {
			return time.Time{}, false
		}
		if off, err := time.Parse("-0700", m[2]); err == nil {
			_, secs := off.Zone()
			t = t.Add(-time.Duration(secs) * time.Second)
		}
		return t.UTC(), true
	}
	if m := kernelRFCDate.FindStringSubmatch(version); m != nil {
		t, err := time.Parse("2 Jan 2006 15:04:05 -0700", m[1]+" "+m[2])
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}

// keyfile is a GLib key file (dconf's keyfile databases, KDE's rc files):
// group -> key -> raw value.
type keyfile map[string]map[string]string

// parseKeyfile reads a key file. Comments, blank lines and lines outside a
// group are skipped; a later value for the same key wins.
func parseKeyfile(data []byte) keyfile {
	kf := keyfile{}
	group := ""
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		s := strings.TrimSpace(string(line))
		switch {
		case s == "" || s[0] == '#' || s[0] == ';':
		case s[0] == '[' && s[len(s)-1] == ']':
			group = s[1 : len(s)-1]
		case group != "":
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				continue
			}
			if kf[group] == nil {
				kf[group] = map[string]string{}
			}
			kf[group][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kf
}

// gvariantBool reads a GVariant text boolean ("true", "false").
func gvariantBool(s string) (value, ok bool) {
	switch strings.TrimSpace(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// gvariantUint reads a GVariant text integer, with or without a type
// annotation ("uint32 300", "300").
func gvariantUint(s string) (int, bool) {
	f := strings.Fields(s)
	if len(f) == 2 && strings.HasPrefix(f[0], "uint") || len(f) == 2 && strings.HasPrefix(f[0], "int") {
		f = f[1:]
	}
	if len(f) != 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 31)
	return int(n), err == nil
}

// Known hypervisors, by the DMI system vendor or product name the firmware
// of their virtual machines reports (lower case, prefix match).
var vmVendors = []struct{ prefix, product string }{
	{"qemu", "QEMU"},
	{"vmware", "VMware"},
	{"innotek", "VirtualBox"},
	{"virtualbox", "VirtualBox"},
	{"xen", "Xen"},
	{"parallels", "Parallels"},
	{"bochs", "Bochs"},
	{"kvm", "KVM"},
	{"amazon ec2", "Amazon EC2"},
	{"google compute engine", "Google Compute Engine"},
	{"openstack", "OpenStack"},
	{"digitalocean", "DigitalOcean"},
	{"alibaba cloud ecs", "Alibaba Cloud ECS"},
	{"virtual machine", "Hyper-V"}, // Microsoft's product_name
	{"bhyve", "bhyve"},
}

// detectVM decides from the DMI vendor and product names and the CPU's
// hypervisor flag whether the device is a virtual machine, and names the
// product: the hypervisor the DMI strings point at, else the DMI product
// name, else "hypervisor".
func detectVM(vendor, product string, hypervisorFlag bool) (vm bool, name string) {
	vendor, product = strings.TrimSpace(vendor), strings.TrimSpace(product)
	for _, s := range []string{product, vendor} {
		l := strings.ToLower(s)
		for _, v := range vmVendors {
			if strings.HasPrefix(l, v.prefix) {
				return true, v.product
			}
		}
	}
	if hypervisorFlag {
		if product != "" {
			return true, clean(product)
		}
		return true, "hypervisor"
	}
	return false, ""
}

// cpuinfoHypervisor reports whether /proc/cpuinfo's flags include
// "hypervisor", which x86 CPUs show inside a virtual machine.
func cpuinfoHypervisor(data []byte) bool {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || string(bytes.TrimSpace(k)) != "flags" {
			continue
		}
		for _, f := range strings.Fields(string(v)) {
			if f == "hypervisor" {
				return true
			}
		}
		return false // every CPU lists the same flags
	}
	return false
}

// kdeTimeoutMins is KDE's default Timeout in kscreenlockerrc.
const kdeTimeoutMins = 5

// kdeScreenLock reads kscreenlockerrc's [Daemon] group.
func kdeScreenLock(kf keyfile) (enabled bool, idle int) {
	d := kf["Daemon"]
	enabled = !slices.Contains([]string{"false", "0", "no"}, strings.ToLower(d["Autolock"]))
	mins := kdeTimeoutMins
	if v, err := strconv.Atoi(d["Timeout"]); err == nil && v >= 0 && v < 1<<20 {
		mins = v
	}
	if !enabled || mins == 0 {
		return false, 0
	}
	return true, mins * 60
}
