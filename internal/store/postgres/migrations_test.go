package postgres

import (
	"io/fs"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
)

// TestMigrationNumbers: the shipped migrations have distinct numbers.
func TestMigrationNumbers(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.MigrationVersions(names); err != nil {
		t.Fatalf("shipped migrations: %v", err)
	}
}
