package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthgate/healthgate/internal/store"
)

// EnrollDevice implements store.Store.
//
// The insert and the read back are two statements on purpose. When two
// nodes enrol one id at once, the loser's INSERT … ON CONFLICT waits for
// the winner's row and then does nothing; only a new statement (a new
// snapshot under READ COMMITTED) sees that row. Read in the same
// statement, the row would be invisible and the loser would wrongly get
// ErrConflict.
func (db *DB) EnrollDevice(ctx context.Context, d store.Device) (store.Device, bool, error) {
	tag, err := db.pool.Exec(ctx,
		`INSERT INTO devices (id, public_key, jkt, hardware, enrolled_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		d.ID, d.PublicKey, d.JKT, d.Hardware, ms(d.EnrolledAt))
	if err != nil {
		return store.Device{}, false, err
	}
	stored, err := db.Device(ctx, d.ID)
	if errors.Is(err, store.ErrNotFound) {
		// The id is free but the key thumbprint belongs to another device.
		return store.Device{}, false, store.ErrConflict
	}
	return stored, tag.RowsAffected() == 1, err
}

// Device implements store.Store.
func (db *DB) Device(ctx context.Context, id string) (store.Device, error) {
	var d store.Device
	var enrolled int64
	err := db.pool.QueryRow(ctx, `SELECT id, public_key, jkt, hardware, enrolled_at FROM devices WHERE id = $1`, id).
		Scan(&d.ID, &d.PublicKey, &d.JKT, &d.Hardware, &enrolled)
	if err != nil {
		return store.Device{}, notFound(err)
	}
	d.EnrolledAt = fromMS(enrolled)
	return d, nil
}

// RecordReport implements store.Store.
//
// Consuming the nonce and storing the report is one statement, hence one
// transaction and one round trip: the report is inserted only from the
// row the nonce insert returns. Single use holds across nodes through the
// nonce primary key: a concurrent insert of the same nonce waits for the
// first and then does nothing (ErrNonceReplayed), or inserts if the first
// rolled back. A report that fails (unknown device, session already
// reported) fails the whole statement, so its nonce stays unconsumed.
func (db *DB) RecordReport(ctx context.Context, r store.Report) error {
	var session *string
	if r.Session != "" {
		session = &r.Session
	}
	tag, err := db.pool.Exec(ctx, `
		WITH nonce AS (
			INSERT INTO used_nonces (nonce, device_id, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING
			RETURNING device_id
		)
		INSERT INTO reports (id, device_id, received_at, platform, tier, score, findings, policy_id, cert_id, cert_exp, sw_version, session)
		SELECT $4, device_id, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM nonce`,
		r.Nonce, r.DeviceID, ms(r.NonceExp),
		r.ID, ms(r.Received), r.Platform, r.Tier, r.Score, nonNil(r.Findings), r.PolicyID, r.CertID, ms(r.CertExp), r.SWVersion, session)
	var pe *pgconn.PgError
	switch {
	case isUnique(err) && errors.As(err, &pe) && pe.ConstraintName == "reports_session":
		return fmt.Errorf("%w: report for this session", store.ErrConflict)
	case isUnique(err):
		return fmt.Errorf("%w: report %s", store.ErrConflict, r.ID)
	case err != nil:
		return fmt.Errorf("recording report: %w", err)
	case tag.RowsAffected() == 0:
		return store.ErrNonceReplayed
	}
	return nil
}

// LatestReport implements store.Store.
func (db *DB) LatestReport(ctx context.Context, deviceID string) (store.Report, error) {
	return db.report(ctx, `WHERE device_id = $1 ORDER BY received_at DESC, seq DESC LIMIT 1`, deviceID)
}

// SessionReport implements store.Store.
func (db *DB) SessionReport(ctx context.Context, session string) (store.Report, error) {
	return db.report(ctx, `WHERE session = $1`, session)
}

func (db *DB) report(ctx context.Context, where string, args ...any) (store.Report, error) {
	var r store.Report
	var received, certExp int64
	err := db.pool.QueryRow(ctx, `SELECT id, device_id, received_at, platform, tier, score, findings, policy_id, cert_id, cert_exp, sw_version, COALESCE(session, '')
		FROM reports `+where, args...).
		Scan(&r.ID, &r.DeviceID, &received, &r.Platform, &r.Tier, &r.Score, &r.Findings, &r.PolicyID, &r.CertID, &certExp, &r.SWVersion, &r.Session)
	if err != nil {
		return store.Report{}, notFound(err)
	}
	r.Received, r.CertExp = fromMS(received), fromMS(certExp)
	return r, nil
}

// PurgeNonces implements store.Store.
func (db *DB) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM used_nonces WHERE expires_at < $1`, ms(before))
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// SigningKeys implements store.Store.
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT kid, algorithm, private, created_at, retired_at FROM signing_keys ORDER BY created_at, kid COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SigningKey, error) {
		var k store.SigningKey
		var created, retired int64
		err := row.Scan(&k.KID, &k.Algorithm, &k.Private, &created, &retired)
		k.Created, k.Retired = fromMS(created), fromMS(retired)
		return k, err
	})
}

// AddSigningKey implements store.Store.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)`,
		k.KID, k.Algorithm, k.Private, ms(k.Created), ms(k.Retired))
	if isUnique(err) {
		return store.ErrConflict
	}
	return err
}

// RetireSigningKey implements store.Store.
func (db *DB) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	if !storable(kid) {
		return store.ErrNotFound
	}
	return db.execOne(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at = 0`, ms(at), kid)
}

// DeleteSigningKey implements store.Store.
func (db *DB) DeleteSigningKey(ctx context.Context, kid string) error {
	if !storable(kid) {
		return store.ErrNotFound
	}
	return db.execOne(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid)
}

// Secret implements store.Store.
//
// No in-process lock: callers on several nodes may each call create, but
// the name's primary key lets only the first insert win (the others' ON
// CONFLICT DO NOTHING waits for it), and everyone then reads the winner's
// value in a new statement that sees it.
func (db *DB) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	v, err := db.secret(ctx, name)
	if !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	if v, err = create(); err != nil {
		return nil, err
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, v); err != nil {
		return nil, err
	}
	return db.secret(ctx, name)
}

func (db *DB) secret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	if err := db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, notFound(err)
	}
	return v, nil
}
