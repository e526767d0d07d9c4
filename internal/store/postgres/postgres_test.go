package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/postgres"
	"github.com/healthgate/healthgate/internal/store/postgres/pgtest"
	"github.com/healthgate/healthgate/internal/store/storetest"
)

// freshSchema returns the URL of an empty schema of the test database.
func freshSchema(t testing.TB) string { return pgtest.Schema(t) }

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

// openNodes opens the same fresh schema n times, as n server nodes
// sharing one database would.
func openNodes(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	u := freshSchema(t)
	nodes := make([]*postgres.DB, n)
	for i := range nodes {
		db, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	return nodes
}
