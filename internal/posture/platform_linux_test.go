package posture

import (
	"context"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// collectIn runs one collector on a tree of files and links, and returns
// its facts as JSON, or "error: …".
func collectIn(t *testing.T, c Collector, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		write(t, root, name, content)
	}
	for name, target := range links {
		symlink(t, root, name, target)
	}
	var f evidence.Facts
	if err := c.Collect(context.Background(), fixedEnv(root, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)), &f); err != nil {
		return "error: " + err.Error()
	}
	return jsonOf(t, group(f, c.Name()))
}

func TestDiskEncryption(t *testing.T) {
	luks := map[string]string{
		"sys/block/dm-0/dm/name": "nvme0n1p3_crypt\n",
		"sys/block/dm-0/dm/uuid": "CRYPT-LUKS2-9f1c2d7a4b3e4e8fa1d26c5b4a3f2e1d-nvme0n1p3_crypt\n",
		"sys/block/dm-1/dm/name": "vg-root\n",
		"sys/block/dm-1/dm/uuid": "LVM-abc\n",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  string
	}{
		{
			name:  "luks directly under root",
			files: with(luks, "proc/mounts", "/dev/mapper/nvme0n1p3_crypt / ext4 rw 0 0\n"),
			want:  `{"system_encrypted":true,"method":"luks"}`,
		},
		{
			name:  "lvm on luks",
			files: with(luks, "proc/mounts", "/dev/mapper/vg-root / ext4 rw 0 0\n"),
			links: map[string]string{"sys/block/dm-1/slaves/dm-0": "../../dm-0"},
			want:  `{"system_encrypted":true,"method":"luks"}`,
		},
		{
			name:  "lvm path /dev/VG/LV",
			files: with(luks, "proc/mounts", "/dev/vg/root / ext4 rw 0 0\n"),
			links: map[string]string{"sys/block/dm-1/slaves/dm-0": "../../dm-0"},
			want:  `{"system_encrypted":true,"method":"luks"}`,
		},
		{
			name:  "plain lvm",
			files: with(luks, "proc/mounts", "/dev/mapper/vg-root / ext4 rw 0 0\n"),
			links: map[string]string{"sys/block/dm-1/slaves/sda2": "../../sda/sda2"},
			want:  `{"system_encrypted":false}`,
		},
		{
			name:  "plain dm-crypt by dm-N",
			files: map[string]string{"proc/mounts": "/dev/dm-4 / btrfs rw 0 0\n", "sys/block/dm-4/dm/uuid": "CRYPT-PLAIN-root\n"},
			want:  `{"system_encrypted":true,"method":"dm-crypt"}`,
		},
		{
			name:  "plain partition",
			files: map[string]string{"proc/mounts": "/dev/sda2 / ext4 rw 0 0\n", "sys/block/sda/dev": "8:0\n"},
			want:  `{"system_encrypted":false}`,
		},
		{
			name:  "later root mount wins",
			files: with(luks, "proc/mounts", "/dev/sda2 / ext4 rw 0 0\n/dev/mapper/nvme0n1p3_crypt / ext4 rw 0 0\n"),
			want:  `{"system_encrypted":true,"method":"luks"}`,
		},
		{
			name:  "no sysfs: fstab and crypttab",
			files: map[string]string{"etc/fstab": "# comment\n/dev/mapper/root_crypt / ext4 defaults 0 1\n", "etc/crypttab": "root_crypt UUID=1 none luks\n"},
			want:  `{"system_encrypted":true,"method":"dm-crypt"}`,
		},
		{
			name:  "no sysfs: mapper not in crypttab",
			files: map[string]string{"etc/fstab": "/dev/mapper/vg-root / ext4 defaults 0 1\n", "etc/crypttab": "sda3_crypt UUID=1 none luks\n"},
			want:  `error: root on "/dev/mapper/vg-root", and no /sys/block to tell what is below it`,
		},
		{
			name:  "container overlay",
			files: map[string]string{"proc/mounts": "overlay / overlay rw,lowerdir=/a 0 0\n"},
			want:  `error: root file system "overlay" is not on a known block device`,
		},
		{
			name:  "fstab by UUID",
			files: map[string]string{"etc/fstab": "UUID=0c3e7d42 / ext4 defaults 0 1\n"},
			want:  `error: root file system "UUID=0c3e7d42" is not on a known block device`,
		},
		{
			name:  "mapper device missing from sysfs",
			files: map[string]string{"proc/mounts": "/dev/mapper/gone / ext4 rw 0 0\n", "sys/block/sda/dev": "8:0\n"},
			want:  `error: device-mapper device of "/dev/mapper/gone" not found in /sys/block`,
		},
		{
			name: "nothing",
			want: `error: root file system not found in /proc/mounts or /etc/fstab`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collectIn(t, diskEncryptionCollector{}, tt.files, tt.links); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDiskEncryptionSlaveLoop(t *testing.T) {
	files := map[string]string{
		"proc/mounts":            "/dev/mapper/a / ext4 rw 0 0\n",
		"sys/block/dm-0/dm/name": "a\n",
		"sys/block/dm-1/dm/name": "b\n",
	}
	links := map[string]string{
		"sys/block/dm-0/slaves/dm-1": "../../dm-1",
		"sys/block/dm-1/slaves/dm-0": "../../dm-0",
	}
	if got, want := collectIn(t, diskEncryptionCollector{}, files, links), `{"system_encrypted":false}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSecureBoot(t *testing.T) {
	const v = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"on", map[string]string{v: "\x06\x00\x00\x00\x01"}, `{"enabled":true}`},
		{"off", map[string]string{v: "\x06\x00\x00\x00\x00"}, `{"enabled":false}`},
		{"malformed", map[string]string{v: "\x06\x00\x00\x00\x02"}, `error: SecureBoot variable is malformed`},
		{"truncated", map[string]string{v: "\x06\x00"}, `error: SecureBoot variable is malformed`},
		{"legacy bios", map[string]string{"sys/firmware/acpi/tables/DSDT": "x"}, `{"enabled":false}`},
		{"uefi without the variable", map[string]string{"sys/firmware/efi/efivars/Boot0000-8be4df61-93ca-11d2-aa0d-00e098032b8c": "x"}, `{"enabled":false}`},
		{"efivarfs not mounted", map[string]string{"sys/firmware/efi/fw_platform_size": "64\n"}, `error: efivarfs is not mounted`},
		{"no sysfs", nil, `error: no /sys/firmware`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collectIn(t, secureBootCollector{}, tt.files, nil); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestScreenLock(t *testing.T) {
	gnome := "usr/bin/gnome-shell"
	kde := "usr/bin/plasmashell"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no desktop", map[string]string{"usr/sbin/sshd": "x"}, `error: no desktop session`},
		{"gnome defaults", map[string]string{gnome: "x"}, `{"enabled":true,"idle_seconds":300}`},
		{
			"gnome longer delay",
			map[string]string{gnome: "x", "etc/dconf/db/local.d/00-idle": "[org/gnome/desktop/session]\nidle-delay=uint32 900\n[org/gnome/desktop/screensaver]\nlock-delay=uint32 30\n"},
			`{"enabled":true,"idle_seconds":930}`,
		},
		{
			"gnome lock disabled",
			map[string]string{gnome: "x", "etc/dconf/db/local.d/00-lock": "[org/gnome/desktop/screensaver]\nlock-enabled=false\n"},
			`{"enabled":false}`,
		},
		{
			"gnome never idles",
			map[string]string{gnome: "x", "etc/dconf/db/site.d/10-idle": "[org/gnome/desktop/session]\nidle-delay=uint32 0\n"},
			`{"enabled":false}`,
		},
		{
			"gnome later file wins",
			map[string]string{gnome: "x", "etc/dconf/db/local.d/00-a": "[org/gnome/desktop/screensaver]\nlock-enabled=false\n", "etc/dconf/db/local.d/10-b": "[org/gnome/desktop/screensaver]\nlock-enabled=true\n"},
			`{"enabled":true,"idle_seconds":300}`,
		},
		{"kde defaults", map[string]string{kde: "x"}, `{"enabled":true,"idle_seconds":300}`},
		{
			"kde one user off",
			map[string]string{kde: "x", "home/a/.config/kscreenlockerrc": "[Daemon]\nTimeout=10\n", "home/b/.config/kscreenlockerrc": "[Daemon]\nAutolock=false\n"},
			`{"enabled":false}`,
		},
		{
			"kde timeout",
			map[string]string{kde: "x", "home/a/.config/kscreenlockerrc": "[Daemon]\nAutolock=true\nTimeout=10\n"},
			`{"enabled":true,"idle_seconds":600}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collectIn(t, screenLockCollector{}, tt.files, nil); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestVirtualization(t *testing.T) {
	dmi := func(vendor, product string) map[string]string {
		return map[string]string{"sys/class/dmi/id/sys_vendor": vendor + "\n", "sys/class/dmi/id/product_name": product + "\n"}
	}
	withCPU := func(m map[string]string, flags string) map[string]string {
		m["proc/cpuinfo"] = "processor\t: 0\nflags\t\t: fpu vme " + flags + "\n\nprocessor\t: 1\n"
		return m
	}
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"laptop", withCPU(dmi("Dell Inc.", "Latitude 7440"), "sse2"), `{"virtual_machine":false,"emulator":false}`},
		{"qemu", withCPU(dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"), "sse2 hypervisor"), `{"virtual_machine":true,"emulator":false,"product":"QEMU"}`},
		{"vmware", dmi("VMware, Inc.", "VMware Virtual Platform"), `{"virtual_machine":true,"emulator":false,"product":"VMware"}`},
		{"virtualbox", dmi("innotek GmbH", "VirtualBox"), `{"virtual_machine":true,"emulator":false,"product":"VirtualBox"}`},
		{"hyper-v", dmi("Microsoft Corporation", "Virtual Machine"), `{"virtual_machine":true,"emulator":false,"product":"Hyper-V"}`},
		{"surface is not a vm", dmi("Microsoft Corporation", "Surface Laptop 5"), `{"virtual_machine":false,"emulator":false}`},
		{"unknown hypervisor by cpu flag", withCPU(dmi("ACME", "Cloud Box"), "hypervisor"), `{"virtual_machine":true,"emulator":false,"product":"Cloud Box"}`},
		{"cpu flag only", withCPU(map[string]string{}, "hypervisor"), `{"virtual_machine":true,"emulator":false,"product":"hypervisor"}`},
		{"nothing", nil, `error: no DMI or CPU information`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collectIn(t, virtualizationCollector{}, tt.files, nil); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestKernelBuilt(t *testing.T) {
	tests := []struct {
		name, version, want string // want RFC 3339 or ""
	}{
		{"debian", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)\n", "2024-11-01T00:00:00Z"},
		{"future ignored", "#1 SMP PREEMPT_DYNAMIC Debian 9.9.9-1 (2031-01-01)\n", ""},
		{"fedora", "#1 SMP PREEMPT_DYNAMIC Fri Nov  1 14:01:32 UTC 2024\n", "2024-11-01T14:01:32Z"},
		{"ubuntu cut off", "#49~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Wed Nov  6 17:42:15 UTC 2\n", ""},
		{"missing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"etc/os-release": "ID=debian\n"}
			if tt.version != "" {
				files["proc/sys/kernel/version"] = tt.version
			}
			got := collectIn(t, osCollector{}, files, nil)
			want := `{"name":"debian"}`
			if tt.want != "" {
				want = `{"name":"debian","kernel_built":"` + tt.want + `"}`
			}
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestPlatformSecurityLinux(t *testing.T) {
	if got, want := collectIn(t, platformSecurityCollector{}, nil, nil), `{}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
