// Package sqlite is the embedded SQLite backend of store.Store, the default
// for a single node. It uses modernc.org/sqlite (pure Go) in WAL mode with
// one writer connection and a pool of readers, and commits reports in
// groups: concurrent RecordReport calls share one transaction.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/healthgate/healthgate/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many reports share one transaction, and batchWindow
// how long the writer waits for more reports once one has arrived.
const (
	maxBatch    = 256
	batchWindow = 500 * time.Microsecond
)

// DB is a SQLite-backed store.Store.
type DB struct {
	write *sql.DB // one connection, BEGIN IMMEDIATE
	read  *sql.DB

	// Statements of the report writer, prepared once on the writer
	// connection.
	insertNonce, insertReport *sql.Stmt

	reports chan reportReq
	done    chan struct{}
	wg      sync.WaitGroup

	// closeMu guards closed: RecordReport queues under its read lock, so
	// once Close has set closed nothing more is queued and the writer's
	// final drain answers every request that was.
	closeMu   sync.RWMutex
	closed    bool
	closeOnce sync.Once
	closeErr  error

	secretMu sync.Mutex
}

var _ store.Store = (*DB)(nil)

type reportReq struct {
	ctx context.Context // a request whose context has ended is not written
	r   store.Report
	err chan error
}

// Open opens (creating if needed) the database file at path and applies the
// embedded migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// The database holds signing keys and service secrets: a new one is
	// readable by its owner only, and SQLite gives its WAL and shared-memory
	// files the same mode.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		if extra != "" {
			q.Set("_txlock", extra)
		}
		return "file:" + abs + "?" + q.Encode()
	}
	write, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)*2))
	db := &DB{write: write, read: read, reports: make(chan reportReq, maxBatch), done: make(chan struct{})}
	if err := db.migrate(ctx); err != nil {
		db.write.Close()
		db.read.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	if db.insertNonce, err = write.PrepareContext(ctx, `INSERT INTO used_nonces (nonce, device_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`); err != nil {
		db.write.Close()
		db.read.Close()
		return nil, err
	}
	if db.insertReport, err = write.PrepareContext(ctx, `INSERT INTO reports (id, device_id, received_at, platform, tier, score, findings, policy_id, cert_id, cert_exp, sw_version, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		db.write.Close()
		db.read.Close()
		return nil, err
	}
	db.wg.Add(1)
	go db.writer()
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	versions, err := store.MigrationVersions(names)
	if err != nil {
		return err
	}
	for i, name := range names {
		base, v := filepath.Base(name), versions[i]
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
			tx.Rollback()
			return err
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().Unix()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the group-commit writer, once every report queued is
// answered, and closes the database. Closing again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closeMu.Lock()
		db.closed = true
		db.closeMu.Unlock()
		close(db.done)
		db.wg.Wait()
		if v, ok := decisionStmts.LoadAndDelete(weak.Make(db)); ok {
			v.(*rpStmts).close()
		}
		db.closeErr = errors.Join(db.insertNonce.Close(), db.insertReport.Close(), db.write.Close(), db.read.Close())
	})
	return db.closeErr
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

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

// EnrollDevice implements store.Store.
func (db *DB) EnrollDevice(ctx context.Context, d store.Device) (store.Device, bool, error) {
	res, err := db.write.ExecContext(ctx,
		`INSERT INTO devices (id, public_key, jkt, hardware, enrolled_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		d.ID, d.PublicKey, d.JKT, d.Hardware, ms(d.EnrolledAt))
	if err != nil {
		return store.Device{}, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Device{}, false, err
	}
	stored, err := db.deviceFrom(ctx, db.write, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		// The id is free but the key thumbprint belongs to another device.
		return store.Device{}, false, store.ErrConflict
	}
	return stored, n == 1, err
}

// Device implements store.Store.
func (db *DB) Device(ctx context.Context, id string) (store.Device, error) {
	return db.deviceFrom(ctx, db.read, id)
}

func (db *DB) deviceFrom(ctx context.Context, q *sql.DB, id string) (store.Device, error) {
	var d store.Device
	var enrolled int64
	err := q.QueryRowContext(ctx, `SELECT id, public_key, jkt, hardware, enrolled_at FROM devices WHERE id = ?`, id).
		Scan(&d.ID, &d.PublicKey, &d.JKT, &d.Hardware, &enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Device{}, store.ErrNotFound
	}
	d.EnrolledAt = fromMS(enrolled)
	return d, err
}

// RecordReport implements store.Store. Calls are queued to a single writer
// that commits up to maxBatch of them in one transaction.
//
// The answer is exact: nil when the report is stored, an error when
// nothing of it is. A call whose context ends while it is queued is left
// out of its batch; once the batch holding it is being written, the call
// waits for that commit (a few milliseconds) rather than answer before
// knowing.
func (db *DB) RecordReport(ctx context.Context, r store.Report) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := reportReq{ctx: ctx, r: r, err: make(chan error, 1)}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return errors.New("store is closed")
	}
	select {
	case db.reports <- req:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	return <-req.err
}

func (db *DB) writer() {
	defer db.wg.Done()
	batch := make([]reportReq, 0, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-db.done:
			// Drain what is queued so nothing accepted is lost.
			for {
				select {
				case req := <-db.reports:
					batch = append(batch, req)
				default:
					if len(batch) > 0 {
						db.commit(batch)
					}
					return
				}
			}
		case req := <-db.reports:
			batch = append(batch[:0], req)
			// Wait a moment for more: a commit costs the same for one
			// report as for a hundred, so under load a short wait buys
			// far more than it costs in latency.
			timer.Reset(batchWindow)
		fill:
			for len(batch) < maxBatch {
				select {
				case req := <-db.reports:
					batch = append(batch, req)
				case <-timer.C:
					break fill
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			db.commit(batch)
			batch = batch[:0]
		}
	}
}

func (db *DB) commit(batch []reportReq) {
	errs := make([]error, len(batch))
	err := db.commitBatch(batch, errs)
	for i, req := range batch {
		if err != nil {
			req.err <- err
		} else {
			req.err <- errs[i]
		}
	}
}

func (db *DB) commitBatch(batch []reportReq, errs []error) error {
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	nonceStmt := tx.StmtContext(ctx, db.insertNonce)
	reportStmt := tx.StmtContext(ctx, db.insertReport)
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		r := req.r
		res, err := nonceStmt.ExecContext(ctx, r.Nonce, r.DeviceID, ms(r.NonceExp))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			errs[i] = store.ErrNonceReplayed
			continue
		}
		findings, err := json.Marshal(nonNil(r.Findings))
		if err != nil {
			return err
		}
		if _, err := reportStmt.ExecContext(ctx, r.ID, r.DeviceID, ms(r.Received), r.Platform, r.Tier, r.Score,
			string(findings), r.PolicyID, r.CertID, ms(r.CertExp), r.SWVersion, nullString(r.Session)); err != nil {
			if strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "UNIQUE") {
				// One bad report must not fail its neighbours: undo its nonce.
				if _, uerr := tx.ExecContext(ctx, `DELETE FROM used_nonces WHERE nonce = ?`, r.Nonce); uerr != nil {
					return uerr
				}
				errs[i] = fmt.Errorf("recording report: %w", err)
				if strings.Contains(err.Error(), "UNIQUE") {
					errs[i] = fmt.Errorf("%w: report for this session", store.ErrConflict)
				}
				continue
			}
			return err
		}
	}
	return tx.Commit()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LatestReport implements store.Store.
func (db *DB) LatestReport(ctx context.Context, deviceID string) (store.Report, error) {
	return db.report(ctx, `WHERE device_id = ? ORDER BY received_at DESC, rowid DESC LIMIT 1`, deviceID)
}

// SessionReport implements store.Store.
func (db *DB) SessionReport(ctx context.Context, session string) (store.Report, error) {
	return db.report(ctx, `WHERE session = ?`, session)
}

func (db *DB) report(ctx context.Context, where string, args ...any) (store.Report, error) {
	var r store.Report
	var received, certExp int64
	var findings string
	var session sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT id, device_id, received_at, platform, tier, score, findings, policy_id, cert_id, cert_exp, sw_version, session
		FROM reports `+where, args...).
		Scan(&r.ID, &r.DeviceID, &received, &r.Platform, &r.Tier, &r.Score, &findings, &r.PolicyID, &r.CertID, &certExp, &r.SWVersion, &session)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Report{}, store.ErrNotFound
	}
	if err != nil {
		return store.Report{}, err
	}
	r.Received, r.CertExp, r.Session = fromMS(received), fromMS(certExp), session.String
	if err := json.Unmarshal([]byte(findings), &r.Findings); err != nil {
		return store.Report{}, fmt.Errorf("report %s findings: %w", r.ID, err)
	}
	return r, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// PurgeNonces implements store.Store.
func (db *DB) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM used_nonces WHERE expires_at < ?`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SigningKeys implements store.Store.
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT kid, algorithm, private, created_at, retired_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, retired int64
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.Private, &created, &retired); err != nil {
			return nil, err
		}
		k.Created, k.Retired = fromMS(created), fromMS(retired)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// AddSigningKey implements store.Store.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, private, created_at, retired_at) VALUES (?, ?, ?, ?, ?)`,
		k.KID, k.Algorithm, k.Private, ms(k.Created), ms(k.Retired))
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return store.ErrConflict
	}
	return err
}

// RetireSigningKey implements store.Store.
func (db *DB) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	return db.execOne(ctx, `UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at = 0`, ms(at), kid)
}

// DeleteSigningKey implements store.Store.
func (db *DB) DeleteSigningKey(ctx context.Context, kid string) error {
	return db.execOne(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
}

func (db *DB) execOne(ctx context.Context, q string, args ...any) error {
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Secret implements store.Store.
func (db *DB) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	db.secretMu.Lock()
	defer db.secretMu.Unlock()
	var v []byte
	err := db.write.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	v, err = create()
	if err != nil {
		return nil, err
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING`, name, v); err != nil {
		return nil, err
	}
	if err := db.write.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, err
	}
	return v, nil
}
