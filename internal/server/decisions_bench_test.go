package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

const benchRP = "rp-bench"

// populate fills a fresh database with n devices, n (device, account) pairs
// of the bench relying party and n decisions two days old (outside the
// velocity windows, so that start-up does not load them), with batched
// multi-row inserts in one transaction.
func populate(tb testing.TB, path string, n int) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path) // schema
	if err != nil {
		tb.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).UnixMilli()
	const batch = 200
	insert := func(table, cols string, row func(i int) []any) {
		nCols := strings.Count(cols, ",") + 1
		ph := "(" + strings.TrimSuffix(strings.Repeat("?,", nCols), ",") + ")"
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			var args []any
			var rows []string
			for i := start; i < end; i++ {
				args = append(args, row(i)...)
				rows = append(rows, ph)
			}
			if _, err := tx.Exec("INSERT INTO "+table+" ("+cols+") VALUES "+strings.Join(rows, ","), args...); err != nil {
				tb.Fatal(err)
			}
		}
	}
	insert("devices", "id, public_key, jkt, hardware, enrolled_at", func(i int) []any {
		return []any{fmt.Sprintf("bench-dev-%08d", i), []byte(`{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`), fmt.Sprintf("bench-jkt-%08d", i), 0, old}
	})
	insert("account_devices", "rp_id, device_id, account, first_seen", func(i int) []any {
		return []any{benchRP, fmt.Sprintf("bench-dev-%08d", i), fmt.Sprintf("bench-acct-%08d", i), old}
	})
	insert("decisions", "id, rp_id, created_at, event, account, device_id, amount, amount_value, currency, channel, payee, merchant_host, ip_net, outcome, reasons, signals",
		func(i int) []any {
			return []any{fmt.Sprintf("dec_bench_%08d", i), benchRP, old, "payment", fmt.Sprintf("bench-acct-%08d", i), fmt.Sprintf("bench-dev-%08d", i),
				"10", 10.0, "CNY", "web", "p", "shop.example", "n", "allow", "[]", []byte(`{}`)}
		})
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// benchDB returns a database populated with n known devices and accounts.
// It is built once under the temporary directory and reused by later runs
// (delete $TMPDIR/healthgate-bench-N.db to rebuild).
func benchDB(b *testing.B, n int) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("healthgate-bench-%d.db", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	start := time.Now()
	tmp := path + ".building"
	os.Remove(tmp)
	populate(b, tmp, n)
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	b.Logf("built %s with %d devices, pairs and decisions in %v", path, n, time.Since(start).Round(time.Millisecond))
	return path
}

// BenchmarkDecision measures one payment decision with a health
// certificate through the whole server path (HTTP handler, API-key check,
// cached certificate, store read, CEL policy, group-committed write) with
// a store that already knows 10 thousand or 1 million devices, accounts
// and decisions.
func BenchmarkDecision(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("known=%d", n), func(b *testing.B) {
			path := benchDB(b, n)
			ctx := context.Background()
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			clk := &clock{t: time.Now().Truncate(time.Second)}
			srv, err := server.New(ctx, server.Options{Store: st, Now: clk.Now})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			e := &env{t: b, srv: srv, http: hs, clock: clk}
			key, k, err := server.NewAPIKey(benchRP, []string{store.ScopeDecisions}, 0, clk.Now(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			err = st.CreateRelyingParty(ctx, store.RelyingParty{ID: benchRP, Name: "bench", Created: clk.Now()}, k)
			if errors.Is(err, store.ErrConflict) {
				// Reused database: the relying party is there; add a key.
				err = st.AddAPIKey(ctx, k, time.Time{})
			}
			if err != nil {
				b.Fatal(err)
			}
			certs := make([]string, 64)
			for i := range certs {
				certs[i] = e.enroll().certificate(nil)
			}
			bodies := make([][]byte, 4096)
			for i := range bodies {
				bodies[i], _ = json.Marshal(map[string]any{"event": "payment", "account": fmt.Sprintf("bench-acct-%08d", (i*7919)%n),
					"amount": "42.00", "currency": "CNY", "payee": "Acme", "merchant_url": "https://shop.example/pay",
					"channel": "web", "ip": "203.0.113.9", "certificate": certs[i%len(certs)]})
			}
			h := srv.Handler()
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					req := httptest.NewRequest(http.MethodPost, "/v1/decisions", bytes.NewReader(bodies[i%int64(len(bodies))]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+key)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("decision: %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
