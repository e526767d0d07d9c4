//go:build !windows

package devicekey

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

func TestFileKeyPersistsWithOwnerOnlyMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "device.key")
	k1, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("key file mode = %v, want %v", got, want)
	}
	if k1.Hardware() {
		t.Error("a file key says it is hardware-bound")
	}
	k2, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public().(ed25519.PublicKey).Equal(k2.Public()) {
		t.Error("reloading the key file gave another key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateFile(path); err == nil {
		t.Error("a world-readable key file was accepted")
	}
}

// TestCreateIgnoresLeftoverTempFile: a temporary file left by a crash (or
// made by an older build) with a wider mode must not become the key file:
// opening it with O_TRUNC keeps its mode, so the new key was world-readable
// from birth.
func TestCreateIgnoresLeftoverTempFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	if err := os.WriteFile(path+".tmp", []byte("half a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path+".tmp", 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("key file mode = %v, want %v", got, want)
	}
	if _, err := LoadOrCreateFile(path); err != nil {
		t.Errorf("reloading the new key: %v", err)
	}
}
