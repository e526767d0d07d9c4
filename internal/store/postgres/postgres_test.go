package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/postgres"
	"github.com/healthgate/healthgate/internal/store/storetest"
)

// testURL is the database the tests use, from HEALTHGATE_TEST_POSTGRES
// (make test starts PostgreSQL 15 and sets it). Each test gets a schema of
// its own, dropped at the end.
func testURL(t testing.TB) string {
	u := os.Getenv("HEALTHGATE_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HEALTHGATE_TEST_POSTGRES is not set: run the tests with make test")
		}
		t.Skip("HEALTHGATE_TEST_POSTGRES is not set (make test starts PostgreSQL and sets it)")
	}
	return u
}

// freshSchema creates an empty schema and returns the URL that uses it.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hgtest_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), freshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	u := freshSchema(t)
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.EnrollDevice(ctx, store.Device{ID: "d1", PublicKey: []byte("{}"), JKT: "j1"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = postgres.Open(ctx, u) // migrations must not re-run
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Device(ctx, "d1"); err != nil {
		t.Errorf("device lost across reopen: %v", err)
	}
}

// TestOpenConcurrently: nodes starting together against a new database
// apply the migrations once between them.
func TestOpenConcurrently(t *testing.T) {
	u := freshSchema(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(context.Background(), u)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenRefusesBadURL(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:s3cret@[::1/db")
	if err == nil {
		t.Fatal("a URL that does not parse was accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}
