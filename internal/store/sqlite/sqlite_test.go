package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hg.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hg.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.EnrollDevice(ctx, store.Device{ID: "d1", PublicKey: []byte("{}"), JKT: "j1"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, path) // migrations must not re-run
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Device(ctx, "d1"); err != nil {
		t.Errorf("device lost across reopen: %v", err)
	}
}

// TestNewDatabasePrivate: a new database, which holds signing keys and
// service secrets, and its WAL are readable by their owner only.
func TestNewDatabasePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hg.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Secret(context.Background(), "k", func() ([]byte, error) { return []byte("v"), nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
