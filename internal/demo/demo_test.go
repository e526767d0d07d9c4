package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestStartFleetIntoDataDirOnAnotherFilesystem: a simulated fleet's
// database reaches a --data directory on another filesystem than the
// temporary directory (a rename across devices fails), and Close removes
// the demo's temporary files but keeps the data directory.
func TestStartFleetIntoDataDirOnAnotherFilesystem(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a fleet")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	shm, err := os.MkdirTemp("/dev/shm", "healthgate-demo-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(shm)
	d, err := Start(context.Background(), Options{DataDir: shm, FleetDevices: 20, FleetDays: 10})
	if err != nil {
		t.Fatalf("start with --data on another filesystem: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(shm, "healthgate.db")); err != nil {
		t.Errorf("the data directory lost its database: %v", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left after Close: %v", left)
	}
}
