package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/healthgate/healthgate/internal/store"
)

var _ store.SurveillanceStore = (*DB)(nil)

// PutSurveillanceDay implements store.SurveillanceStore.
func (db *DB) PutSurveillanceDay(ctx context.Context, d store.SurveillanceDay) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO surveillance_days (day, closed_at, dropped_keys) VALUES (?, ?, ?) ON CONFLICT (day) DO NOTHING`,
		d.Day, ms(d.Closed), d.DroppedKeys)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrConflict
	}
	rep, err := tx.PrepareContext(ctx, `INSERT INTO surveillance_reporting (day, region, devices, saturated) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer rep.Close()
	for _, r := range d.Reporting {
		if _, err := rep.ExecContext(ctx, d.Day, r.Region, r.Devices, r.Saturated); err != nil {
			return err
		}
	}
	cnt, err := tx.PrepareContext(ctx, `INSERT INTO surveillance_counts (day, key, region, devices, new_devices, saturated) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer cnt.Close()
	for _, c := range d.Sightings {
		if _, err := cnt.ExecContext(ctx, d.Day, c.Key, c.Region, c.Devices, c.New, c.Saturated); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// SurveillanceDay implements store.SurveillanceStore.
func (db *DB) SurveillanceDay(ctx context.Context, day int64) (store.SurveillanceDay, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.SurveillanceDay{}, err
	}
	defer tx.Rollback()
	d := store.SurveillanceDay{Day: day}
	var closed int64
	err = tx.QueryRowContext(ctx, `SELECT closed_at, dropped_keys FROM surveillance_days WHERE day = ?`, day).Scan(&closed, &d.DroppedKeys)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SurveillanceDay{}, store.ErrNotFound
	} else if err != nil {
		return store.SurveillanceDay{}, err
	}
	d.Closed = fromMS(closed)
	rows, err := tx.QueryContext(ctx, `SELECT region, devices, saturated FROM surveillance_reporting WHERE day = ? ORDER BY region`, day)
	if err != nil {
		return store.SurveillanceDay{}, err
	}
	for rows.Next() {
		var r store.RegionCount
		if err := rows.Scan(&r.Region, &r.Devices, &r.Saturated); err != nil {
			rows.Close()
			return store.SurveillanceDay{}, err
		}
		d.Reporting = append(d.Reporting, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return store.SurveillanceDay{}, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT key, region, devices, new_devices, saturated FROM surveillance_counts WHERE day = ? ORDER BY key, region`, day)
	if err != nil {
		return store.SurveillanceDay{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var c store.SightingCount
		if err := rows.Scan(&c.Key, &c.Region, &c.Devices, &c.New, &c.Saturated); err != nil {
			return store.SurveillanceDay{}, err
		}
		d.Sightings = append(d.Sightings, c)
	}
	return d, rows.Err()
}

// LatestSurveillanceDay implements store.SurveillanceStore.
func (db *DB) LatestSurveillanceDay(ctx context.Context) (int64, error) {
	var day sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT max(day) FROM surveillance_days`).Scan(&day); err != nil {
		return 0, err
	}
	if !day.Valid {
		return 0, store.ErrNotFound
	}
	return day.Int64, nil
}

// SightingSeries implements store.SurveillanceStore.
func (db *DB) SightingSeries(ctx context.Context, key string, from, to int64) ([]store.DailySighting, error) {
	rows, err := db.read.QueryContext(ctx, `
SELECT d.day,
       coalesce((SELECT sum(devices) FROM surveillance_counts c WHERE c.day = d.day AND c.key = ? AND c.region = ''), 0),
       coalesce((SELECT sum(new_devices) FROM surveillance_counts c WHERE c.day = d.day AND c.key = ? AND c.region = ''), 0),
       coalesce((SELECT sum(devices) FROM surveillance_reporting r WHERE r.day = d.day AND r.region = ''), 0),
       coalesce((SELECT max(saturated) FROM surveillance_counts c WHERE c.day = d.day AND c.key = ? AND c.region = ''), 0)
FROM surveillance_days d WHERE d.day BETWEEN ? AND ? ORDER BY d.day`, key, key, key, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DailySighting
	for rows.Next() {
		var p store.DailySighting
		if err := rows.Scan(&p.Day, &p.Devices, &p.New, &p.Reporting, &p.Saturated); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PutSurveillanceAlerts implements store.SurveillanceStore.
func (db *DB) PutSurveillanceAlerts(ctx context.Context, as []store.SurveillanceAlert) ([]store.SurveillanceAlert, error) {
	if len(as) == 0 {
		return nil, nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO surveillance_alerts (id, day, key, method, observed, expected, statistic, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	var added []store.SurveillanceAlert
	for _, a := range as {
		res, err := ins.ExecContext(ctx, a.ID, a.Day, a.Key, a.Method, a.Observed, a.Expected, a.Statistic, ms(a.Created))
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 1 {
			added = append(added, a)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return added, nil
}

// SurveillanceAlerts implements store.SurveillanceStore.
func (db *DB) SurveillanceAlerts(ctx context.Context, since int64, limit int) ([]store.SurveillanceAlert, error) {
	var q strings.Builder
	q.WriteString(`SELECT id, day, key, method, observed, expected, statistic, created_at FROM surveillance_alerts WHERE day >= ? ORDER BY day, key, method`)
	args := []any{since}
	if limit > 0 {
		q.WriteString(` LIMIT ?`)
		args = append(args, limit)
	}
	rows, err := db.read.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SurveillanceAlert
	for rows.Next() {
		var a store.SurveillanceAlert
		var created int64
		if err := rows.Scan(&a.ID, &a.Day, &a.Key, &a.Method, &a.Observed, &a.Expected, &a.Statistic, &created); err != nil {
			return nil, err
		}
		a.Created = fromMS(created)
		out = append(out, a)
	}
	return out, rows.Err()
}
