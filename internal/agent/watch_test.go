package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestFingerprint(t *testing.T) {
	paths := []string{"etc/hosts", "etc/profile.d", "usr/local/share/ca-certificates"}
	tests := []struct {
		name    string
		change  func(t *testing.T, root string)
		changed bool
	}{
		{"nothing", func(*testing.T, string) {}, false},
		{"read only", func(t *testing.T, root string) { os.ReadFile(filepath.Join(root, "etc/hosts")) }, false},
		{"hosts edited, same size and time", func(t *testing.T, root string) {
			p := filepath.Join(root, "etc/hosts")
			fi, _ := os.Stat(p)
			write(t, p, "127.0.0.2 localhost\n")
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, true},
		{"proxy script added", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "etc/profile.d/proxy.sh"), "export https_proxy=http://6.6.6.6:8080\n")
		}, true},
		{"root CA added", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "usr/local/share/ca-certificates/rogue.crt"), "-----BEGIN CERTIFICATE-----\n")
		}, true},
		{"hosts removed", func(t *testing.T, root string) { os.Remove(filepath.Join(root, "etc/hosts")) }, true},
		{"unwatched file changed", func(t *testing.T, root string) { write(t, filepath.Join(root, "etc/motd"), "hi\n") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n")
			write(t, filepath.Join(root, "etc/profile.d/lang.sh"), "export LANG=C\n")
			past := time.Now().Add(-time.Hour)
			os.Chtimes(filepath.Join(root, "etc/hosts"), past, past)
			before := Fingerprint(root, paths)
			tt.change(t, root)
			if got := Fingerprint(root, paths) != before; got != tt.changed {
				t.Errorf("fingerprint changed = %v, want %v", got, tt.changed)
			}
		})
	}
}

func TestWatchedPaths(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		paths := WatchedPaths(goos)
		if len(paths) == 0 {
			t.Errorf("%s: no watched paths", goos)
		}
		if !slices.ContainsFunc(paths, func(p string) bool { return filepath.Base(p) == "hosts" }) {
			t.Errorf("%s: the hosts file is not watched: %v", goos, paths)
		}
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSystemDrive: the Windows watcher looks for the hosts file on the
// drive of %SystemRoot%. Joined to "/", `\Windows\…` was on the current
// directory's drive, which Wine showed (the agent's directory is Z:\ there).
func TestSystemDrive(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Windows`:   `C:\`,
		`d:\WINDOWS`:   `D:\`,
		` E:\Windows `: `E:\`,
		`D:`:           `D:\`,
		``:             `C:\`,
		`\Windows`:     `C:\`,
		`1:\Windows`:   `C:\`,
	} {
		if got := systemDrive(in); got != want {
			t.Errorf("systemDrive(%q) = %q, want %q", in, got, want)
		}
	}
}
