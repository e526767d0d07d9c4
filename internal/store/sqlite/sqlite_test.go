package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// TestCloseAnswersEveryReport: reports recorded while the store closes
// each get an answer, and the answer is true: every report acknowledged
// is stored, and none refused is.
func TestCloseAnswersEveryReport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hg.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.EnrollDevice(ctx, store.Device{ID: "d1", PublicKey: []byte("{}"), JKT: "j1"}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	type answer struct {
		i   int
		err error
	}
	answers := make(chan answer, n)
	var started sync.WaitGroup
	started.Add(n / 2)
	for i := range n {
		go func() {
			if i < n/2 {
				started.Done()
			}
			s := fmt.Sprint("s", i)
			answers <- answer{i, db.RecordReport(ctx, store.Report{ID: s, DeviceID: "d1", Nonce: s, Session: s, Findings: []string{}})}
		}()
	}
	started.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, n)
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case a := <-answers:
			errs[a.i] = a.err
		case <-timeout:
			t.Fatal("a report recorded while closing got no answer")
		}
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, rerr := range errs {
		_, err := db.SessionReport(ctx, fmt.Sprint("s", i))
		if (rerr == nil) != (err == nil) {
			t.Errorf("report %d: RecordReport said %v, stored: %v", i, rerr, err == nil)
		}
	}
}

// TestReportAnswersAreExact: under concurrent callers, some of whose
// contexts end mid-way, a report is stored exactly when RecordReport
// said so.
func TestReportAnswersAreExact(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.EnrollDevice(ctx, store.Device{ID: "d1", PublicKey: []byte("{}"), JKT: "j1"}); err != nil {
		t.Fatal(err)
	}
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, time.Duration(i%40)*50*time.Microsecond)
			defer cancel()
			s := fmt.Sprint("s", i)
			errs[i] = db.RecordReport(cctx, store.Report{ID: s, DeviceID: "d1", Nonce: s, Session: s, Findings: []string{}})
		})
	}
	wg.Wait()
	stored := 0
	for i, rerr := range errs {
		_, err := db.SessionReport(ctx, fmt.Sprint("s", i))
		switch {
		case rerr == nil && err != nil:
			t.Errorf("report %d acknowledged but not stored: %v", i, err)
		case rerr != nil && err == nil:
			t.Errorf("report %d refused (%v) but stored", i, rerr)
		case rerr == nil:
			stored++
		}
	}
	t.Logf("%d of %d stored", stored, n)
}
