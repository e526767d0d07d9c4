package store

import (
	"slices"
	"strings"
	"testing"
)

// TestMigrationVersions: files sort by number, and a clash (two engineers
// adding the same number) is refused, not skipped.
func TestMigrationVersions(t *testing.T) {
	got, err := MigrationVersions([]string{"migrations/0010_b.sql", "migrations/0002_a.sql"})
	if err != nil || !slices.Equal(got, []int{2, 10}) {
		t.Errorf("versions = %v, %v; want [2 10]", got, err)
	}
	for _, bad := range [][]string{
		{"migrations/0009_taxii.sql", "migrations/0009_other.sql"},
		{"migrations/0009_a.sql", "migrations/9_b.sql"},
		{"migrations/init.sql"},
	} {
		if _, err := MigrationVersions(bad); err == nil {
			t.Errorf("%v: want an error", bad)
		} else if !strings.Contains(err.Error(), "number") {
			t.Errorf("%v: error %q does not say what is wrong", bad, err)
		}
	}
}
