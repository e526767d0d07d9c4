package posture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// maxDMDepth bounds the device-mapper stack followed below the root
// volume (LVM on LUKS is two levels).
const maxDMDepth = 8

// Collect finds the block device of the root file system (/proc/mounts, or
// /etc/fstab when /proc is absent) and reports it encrypted when it, or a
// device-mapper device below it, is a dm-crypt target: its
// /sys/block/dm-N/dm/uuid starts with "CRYPT-" ("CRYPT-LUKS2-…" for LUKS).
// Without /sys/block, a root on /dev/mapper/NAME counts as encrypted when
// /etc/crypttab opens NAME. A root that is not on a block device (overlay
// in a container, ZFS) is not known.
func (diskEncryptionCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	var src string
	found := false
	for _, name := range []string{"proc/mounts", "etc/fstab"} {
		data, _, err := env.readHead(name, maxConfig)
		if err != nil {
			continue
		}
		if src, _, found = rootSource(parseMounts(data)); found {
			break
		}
	}
	if !found {
		return errors.New("root file system not found in /proc/mounts or /etc/fstab")
	}
	if !strings.HasPrefix(src, "/dev/") || src == "/dev/root" {
		return fmt.Errorf("root file system %q is not on a known block device", clean(src))
	}
	if env.exists("sys/block") {
		dm := dmDeviceOf(env, src)
		if dm == "" {
			if strings.HasPrefix(src, "/dev/mapper/") || strings.HasPrefix(src, "/dev/dm-") {
				return fmt.Errorf("device-mapper device of %q not found in /sys/block", clean(src))
			}
			// A plain partition or disk: nothing between it and the file system.
			f.DiskEncryption = &evidence.DiskEncryptionFacts{}
			return nil
		}
		method := dmCrypt(ctx, env, dm, 0)
		f.DiskEncryption = &evidence.DiskEncryptionFacts{SystemEncrypted: method != "", Method: method}
		return ctx.Err()
	}
	name, mapped := strings.CutPrefix(src, "/dev/mapper/")
	if !mapped {
		if strings.HasPrefix(src, "/dev/dm-") {
			return errors.New("root on a device-mapper device, and no /sys/block to tell what it is")
		}
		f.DiskEncryption = &evidence.DiskEncryptionFacts{}
		return nil
	}
	data, _, err := env.readHead("etc/crypttab", maxConfig)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("reading crypttab: %w", err)
	}
	if slices.Contains(parseCrypttab(data), name) {
		f.DiskEncryption = &evidence.DiskEncryptionFacts{SystemEncrypted: true, Method: "dm-crypt"}
		return nil
	}
	// LVM on LUKS names a logical volume, not the crypttab mapping; only
	// /sys/block can link the two.
	return fmt.Errorf("root on %q, and no /sys/block to tell what is below it", clean(src))
}

// dmDeviceOf returns the /sys/block name ("dm-3") of a device-mapper
// device path: /dev/dm-N, /dev/mapper/NAME or LVM's /dev/VG/LV; "" when src
// is not one.
func dmDeviceOf(env *Env, src string) string {
	rest := strings.TrimPrefix(src, "/dev/")
	if strings.HasPrefix(rest, "dm-") && !strings.Contains(rest, "/") {
		if env.exists("sys/block/" + rest + "/dm") {
			return rest
		}
		return ""
	}
	var name string
	if n, ok := strings.CutPrefix(rest, "mapper/"); ok {
		name = n
	} else if vg, lv, ok := strings.Cut(rest, "/"); ok && !strings.Contains(lv, "/") {
		// device-mapper names LVM volumes VG-LV with each "-" doubled.
		name = strings.ReplaceAll(vg, "-", "--") + "-" + strings.ReplaceAll(lv, "-", "--")
	} else {
		return ""
	}
	entries, err := env.readDir("sys/block")
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "dm-") {
			continue
		}
		data, _, err := env.readHead("sys/block/"+e.Name()+"/dm/name", maxString)
		if err == nil && strings.TrimSpace(string(data)) == name {
			return e.Name()
		}
	}
	return ""
}

// dmCrypt returns the dm-crypt method of device-mapper device dm or of the
// first dm-crypt device below it (its slaves), "" when there is none.
func dmCrypt(ctx context.Context, env *Env, dm string, depth int) string {
	if depth > maxDMDepth || ctx.Err() != nil {
		return ""
	}
	if uuid, _, err := env.readHead("sys/block/"+dm+"/dm/uuid", maxString); err == nil {
		if m := dmCryptMethod(string(uuid)); m != "" {
			return m
		}
	}
	slaves, _ := env.readDir("sys/block/" + dm + "/slaves")
	for _, s := range slaves {
		if strings.HasPrefix(s.Name(), "dm-") {
			if m := dmCrypt(ctx, env, s.Name(), depth+1); m != "" {
				return m
			}
		}
	}
	return ""
}
