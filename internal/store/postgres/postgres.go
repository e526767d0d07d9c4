// Package postgres is the PostgreSQL backend of store.Store, for fleets past
// one machine: several server nodes share one database. It uses pgx's
// connection pool directly (no database/sql), keeps times as Unix
// milliseconds like the SQLite backend, and passes the same conformance
// suite (storetest).
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthgate/healthgate/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a PostgreSQL-backed store.Store.
type DB struct {
	pool *pgxpool.Pool
	// node names this handle (one server node) in the decisions it
	// stores and announces, so that its watcher skips its own (watch.go).
	node string
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://…; pgx's parameters,
// search_path among them, are honoured) and applies the embedded
// migrations. Nodes opening one database at once apply them once: the
// migration runs under an advisory lock.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: the --db URL does not parse (want postgres://user@host/db?…)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	node := make([]byte, 8)
	if _, err := rand.Read(node); err != nil {
		pool.Close()
		return nil, err
	}
	db := &DB{pool: pool, node: hex.EncodeToString(node)}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrating: %w", err)
	}
	return db, nil
}

// migrationLock is the pg_advisory_xact_lock key under which migrations
// run ("healthgt" in ASCII).
const migrationLock = 0x6865616c74686774

func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	versions, err := store.MigrationVersions(names)
	if err != nil {
		return err
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	for i, name := range names {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, versions[i]).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, versions[i], time.Now().Unix()); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// ms and fromMS convert times to and from the stored Unix milliseconds;
// the zero time is stored as 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// isUnique reports a unique or primary-key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKey reports a foreign-key violation.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound, and so a key that
// no TEXT column can hold (see storable): PostgreSQL refuses it with
// SQLSTATE 22021 rather than find nothing, as SQLite does.
func notFound(err error) error {
	var pe *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pe) && pe.Code == "22021" {
		return store.ErrNotFound
	}
	return err
}

// storable reports whether every s can be stored in a TEXT column:
// PostgreSQL refuses NUL bytes and bytes that are not UTF-8. Nothing
// stored can equal such a key, so lookups by one find nothing without
// asking (a client may send any bytes in a URL or a header).
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// storableOnly returns the values of vs that can be stored (see storable).
func storableOnly(vs []string) []string {
	out := vs[:0:0]
	for _, v := range vs {
		if storable(v) {
			out = append(out, v)
		}
	}
	return out
}

// execOne runs q and returns store.ErrNotFound when it touched no row.
func (db *DB) execOne(ctx context.Context, q string, args ...any) error {
	tag, err := db.pool.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// nonNil returns s, or an empty slice for nil, so that it encodes as [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
