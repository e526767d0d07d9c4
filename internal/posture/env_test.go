//go:build unix

package posture

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestEnvPath(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/lib", "etc", "run/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib":        "usr/lib",       // relative
		"etc/abs":    "/usr/lib",      // absolute: under root
		"etc/up":     "../../../../x", // ".." stops at root
		"etc/loop":   "loop",
		"etc/chain":  "abs/../../run", // through another link
		"etc/escape": "/../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	env := &Env{Root: root, Now: time.Now}
	tests := []struct {
		name    string
		want    string // relative to root
		wantErr error
	}{
		{name: "lib/x", want: "usr/lib/x", wantErr: fs.ErrNotExist},
		{name: "lib", want: "usr/lib"},
		{name: "/etc/abs", want: "usr/lib"},
		{name: "etc/up", wantErr: fs.ErrNotExist},
		{name: "etc/chain/x", want: "run/x"},
		{name: "etc/escape", want: "."},
		{name: "../../etc", want: "etc"},
		{name: "etc/loop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.path(tt.name)
			switch {
			case tt.want == "" && tt.wantErr == nil:
				if err == nil {
					t.Errorf("path(%q) = %q, want an error", tt.name, got)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("path(%q) error = %v, want %v", tt.name, err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("path(%q): %v", tt.name, err)
			default:
				if want := filepath.Join(root, tt.want); got != want {
					t.Errorf("path(%q) = %q, want %q", tt.name, got, want)
				}
			}
		})
	}
}

func TestEnvOpenRefusesFIFO(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "hosts"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	env := &Env{Root: root, Now: time.Now}
	if _, _, err := env.readHead("etc/hosts", 100); err == nil {
		t.Error("readHead of a FIFO: no error")
	}
}

func TestReadTail(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "log"), []byte("first line\nsecond\nthird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := &Env{Root: root, Now: time.Now}
	tests := []struct {
		max  int64
		want string
	}{
		{100, "first line\nsecond\nthird\n"},
		{10, "third\n"},
		{3, ""},
	}
	for _, tt := range tests {
		got, err := env.readTail("log", tt.max)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("readTail(%d) = %q, want %q", tt.max, got, tt.want)
		}
	}
}
