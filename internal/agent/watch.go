package agent

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// DefaultWatchEvery is how often the daemon polls the watched files.
const DefaultWatchEvery = 30 * time.Second

// maxHashedFile is the size up to which a watched file's content is hashed;
// larger files are fingerprinted by size and modification time only.
const maxHashedFile = 256 << 10

// WatchedPaths returns the device paths (slash-separated, relative to the
// device's "/") whose change makes the agent report at once: the files
// attackers edit to hijack payments — the hosts file, proxy settings, the
// DNS resolver and the trusted root certificates. goos is a GOOS value.
func WatchedPaths(goos string) []string {
	switch goos {
	case "windows":
		// Proxy and trust-store settings live in the registry: the
		// fingerprint adds them on a live device (watch_windows.go).
		return []string{"Windows/System32/drivers/etc/hosts"}
	case "darwin":
		return []string{
			"etc/hosts",
			"etc/resolv.conf",
			"Library/Preferences/SystemConfiguration/preferences.plist", // proxies, DNS
			"Library/Keychains/System.keychain",                         // admin-added roots
		}
	default:
		return []string{
			"etc/hosts",
			"etc/resolv.conf",
			"etc/environment", // http_proxy and friends
			"etc/profile.d",
			"usr/local/share/ca-certificates",
			"etc/pki/ca-trust/source/anchors",
			"etc/ca-certificates/trust-source/anchors",
		}
	}
}

// defaultWatchedPaths is WatchedPaths for this system.
func defaultWatchedPaths() []string { return WatchedPaths(runtime.GOOS) }

// Fingerprint returns a cheap digest of the watched paths under root: for
// each path its absence, or its size, modification time and mode, the
// content of small files, and one level of a directory's entries. Two equal
// fingerprints mean, as far as a poll can tell, that nothing changed.
// Root "/" is the running system: on Windows the drive Windows is on, not
// the current directory's.
func Fingerprint(root string, paths []string) [32]byte {
	live := root == "" || root == "/" || root == `\`
	if live {
		root = liveRoot()
	}
	h := sha256.New()
	var buf [8]byte
	num := func(n int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	stat := func(p string) os.FileInfo {
		io.WriteString(h, p)
		h.Write([]byte{0})
		fi, err := os.Stat(p)
		if err != nil {
			io.WriteString(h, "absent")
			return nil
		}
		num(fi.Size())
		num(fi.ModTime().UnixNano())
		num(int64(fi.Mode()))
		return fi
	}
	for _, rel := range paths {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi := stat(p)
		switch {
		case fi == nil:
		case fi.IsDir():
			des, err := os.ReadDir(p)
			if err != nil {
				continue
			}
			names := make([]string, 0, len(des))
			for _, de := range des {
				names = append(names, de.Name())
			}
			sort.Strings(names)
			for _, n := range names {
				stat(filepath.Join(p, n))
			}
		case fi.Mode().IsRegular() && fi.Size() <= maxHashedFile:
			if f, err := os.Open(p); err == nil {
				io.Copy(h, io.LimitReader(f, maxHashedFile))
				f.Close()
			}
		}
	}
	if live {
		writeSystemState(h) // the live device's registry on Windows
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// systemDrive returns the root of the drive in a Windows %SystemRoot%
// (`C:\Windows` gives `C:\`), `C:\` when systemRoot names no drive. On
// Windows a path like `\Windows\System32` is on the current directory's
// drive: an agent started from D: would watch `D:\Windows\…`, which is
// not there.
func systemDrive(systemRoot string) string {
	s := strings.TrimSpace(systemRoot)
	if len(s) >= 2 && s[1] == ':' && ('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return strings.ToUpper(s[:1]) + `:\`
	}
	return `C:\`
}
