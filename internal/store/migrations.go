package store

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MigrationVersions sorts a backend's migration file names
// ("0007_name.sql") and returns their numbers in that order. Two files with
// one number are an error: applied versions are recorded by number, so the
// second would be skipped silently wherever the first had run.
func MigrationVersions(names []string) ([]int, error) {
	sort.Strings(names)
	versions := make([]int, len(names))
	byVersion := map[int]string{}
	for i, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s has no number", base)
		}
		if other, dup := byVersion[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same number: renumber one", other, base)
		}
		byVersion[v], versions[i] = base, v
	}
	return versions, nil
}
