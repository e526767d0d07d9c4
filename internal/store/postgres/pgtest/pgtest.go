// Package pgtest gives tests an empty PostgreSQL schema of their own in the
// test database named by HEALTHGATE_TEST_POSTGRES, which make test sets
// after starting PostgreSQL 15 (scripts/setup-test-deps.sh). Without it a
// test is skipped, or fails when CI is set.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env is the variable that names the test database.
const Env = "HEALTHGATE_TEST_POSTGRES"

// Schema creates an empty schema, dropped when the test ends, and returns
// a database URL that uses it (search_path).
func Schema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(Env + " is not set: run the tests with make test")
		}
		t.Skip(Env + " is not set (make test starts PostgreSQL and sets it)")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	schema := "hgtest_" + strings.ToLower(rand.Text()[:12])
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating a test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(url, sql string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
