package sqlite

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// TestMigrationNumbers: the shipped migrations have distinct numbers, and
// a clash (two engineers adding the same number) is refused, not skipped.
func TestMigrationNumbers(t *testing.T) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrationVersions(names); err != nil {
		t.Fatalf("shipped migrations: %v", err)
	}
	got, err := migrationVersions([]string{"migrations/0010_b.sql", "migrations/0002_a.sql"})
	if err != nil || !slices.Equal(got, []int{2, 10}) {
		t.Errorf("versions = %v, %v; want [2 10]", got, err)
	}
	for _, bad := range [][]string{
		{"migrations/0009_taxii.sql", "migrations/0009_other.sql"},
		{"migrations/0009_a.sql", "migrations/9_b.sql"},
		{"migrations/init.sql"},
	} {
		if _, err := migrationVersions(bad); err == nil {
			t.Errorf("%v: want an error", bad)
		} else if !strings.Contains(err.Error(), "number") {
			t.Errorf("%v: error %q does not say what is wrong", bad, err)
		}
	}
}
