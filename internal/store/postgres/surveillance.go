package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/healthgate/healthgate/internal/store"
)

var _ store.SurveillanceStore = (*DB)(nil)

// PutSurveillanceDay implements store.SurveillanceStore.
//
// Across nodes the day's primary key decides: when two nodes store one day
// at once, the second INSERT … ON CONFLICT DO NOTHING waits for the first
// transaction, then inserts nothing (ErrConflict) if it committed, or
// inserts the day if it rolled back. The counts follow in the same
// transaction, so a day is either wholly stored or absent.
func (db *DB) PutSurveillanceDay(ctx context.Context, d store.SurveillanceDay) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO surveillance_days (day, closed_at, dropped_keys) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING`,
		d.Day, ms(d.Closed), d.DroppedKeys)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrConflict
	}
	if len(d.Reporting) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"surveillance_reporting"}, []string{"day", "region", "devices", "saturated"},
			pgx.CopyFromSlice(len(d.Reporting), func(i int) ([]any, error) {
				r := d.Reporting[i]
				return []any{d.Day, r.Region, r.Devices, r.Saturated}, nil
			}))
		if err != nil {
			return err
		}
	}
	if len(d.Sightings) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"surveillance_counts"}, []string{"day", "key", "region", "devices", "new_devices", "saturated"},
			pgx.CopyFromSlice(len(d.Sightings), func(i int) ([]any, error) {
				c := d.Sightings[i]
				return []any{d.Day, c.Key, c.Region, c.Devices, c.New, c.Saturated}, nil
			}))
		if err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// SurveillanceDay implements store.SurveillanceStore. A day is written in
// one transaction and never changed, so the three reads need no snapshot
// of their own: once the day's row is visible, so are its counts. They go
// in one round trip.
func (db *DB) SurveillanceDay(ctx context.Context, day int64) (store.SurveillanceDay, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT closed_at, dropped_keys FROM surveillance_days WHERE day = $1`, day)
	b.Queue(`SELECT region, devices, saturated FROM surveillance_reporting WHERE day = $1 ORDER BY region`, day)
	b.Queue(`SELECT key, region, devices, new_devices, saturated FROM surveillance_counts WHERE day = $1 ORDER BY key, region`, day)
	br := db.pool.SendBatch(ctx, b)
	d, err := readSurveillanceDay(br, day)
	if err := errors.Join(err, br.Close()); err != nil {
		return store.SurveillanceDay{}, err
	}
	return d, nil
}

func readSurveillanceDay(br pgx.BatchResults, day int64) (store.SurveillanceDay, error) {
	d := store.SurveillanceDay{Day: day}
	var closed int64
	if err := br.QueryRow().Scan(&closed, &d.DroppedKeys); err != nil {
		return store.SurveillanceDay{}, notFound(err)
	}
	d.Closed = fromMS(closed)
	rows, err := br.Query()
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.SurveillanceDay{}, err
	}
	rows, err = br.Query()
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
	var day *int64
	if err := db.pool.QueryRow(ctx, `SELECT max(day) FROM surveillance_days`).Scan(&day); err != nil {
		return 0, err
	}
	if day == nil {
		return 0, store.ErrNotFound
	}
	return *day, nil
}

// SightingSeries implements store.SurveillanceStore.
func (db *DB) SightingSeries(ctx context.Context, key string, from, to int64) ([]store.DailySighting, error) {
	var k any = key
	if !storable(key) {
		k = nil // = NULL matches no count: every stored day, with 0 devices
	}
	rows, err := db.pool.Query(ctx, `
SELECT d.day, coalesce(c.devices, 0), coalesce(c.new_devices, 0), coalesce(r.devices, 0), coalesce(c.saturated, false)
FROM surveillance_days d
LEFT JOIN (
	SELECT day, sum(devices)::bigint AS devices, sum(new_devices)::bigint AS new_devices, bool_or(saturated) AS saturated
	FROM surveillance_counts WHERE key = $1 AND region = '' AND day BETWEEN $2 AND $3 GROUP BY day
) c ON c.day = d.day
LEFT JOIN (
	SELECT day, sum(devices)::bigint AS devices
	FROM surveillance_reporting WHERE region = '' AND day BETWEEN $2 AND $3 GROUP BY day
) r ON r.day = d.day
WHERE d.day BETWEEN $2 AND $3
ORDER BY d.day`, k, from, to)
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

// alertLock is the pg_advisory_xact_lock key under which alerts are put
// ("hgalerts" in ASCII).
const alertLock = 0x6867616c65727473

// PutSurveillanceAlerts implements store.SurveillanceStore.
//
// ON CONFLICT DO NOTHING (on the id and on (day, key, method)) makes the
// put idempotent across nodes: an insert that meets another node's
// uncommitted alert waits for it and then skips it. Two nodes putting the
// same alerts in different orders could then wait on each other, so puts
// take an advisory transaction lock first and run one at a time; alerts
// are few and rare.
func (db *DB) PutSurveillanceAlerts(ctx context.Context, as []store.SurveillanceAlert) ([]store.SurveillanceAlert, error) {
	if len(as) == 0 {
		return nil, nil
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(alertLock)); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	for _, a := range as {
		b.Queue(`INSERT INTO surveillance_alerts (id, day, key, method, observed, expected, statistic, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			a.ID, a.Day, a.Key, a.Method, a.Observed, a.Expected, a.Statistic, ms(a.Created))
	}
	br := tx.SendBatch(ctx, b)
	var added []store.SurveillanceAlert
	for _, a := range as {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return nil, err
		}
		if tag.RowsAffected() == 1 {
			added = append(added, a)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return added, nil
}

// SurveillanceAlerts implements store.SurveillanceStore.
func (db *DB) SurveillanceAlerts(ctx context.Context, since int64, limit int) ([]store.SurveillanceAlert, error) {
	var q strings.Builder
	q.WriteString(`SELECT id, day, key, method, observed, expected, statistic, created_at FROM surveillance_alerts WHERE day >= $1 ORDER BY day, key, method`)
	args := []any{since}
	if limit > 0 {
		q.WriteString(` LIMIT $2`)
		args = append(args, limit)
	}
	rows, err := db.pool.Query(ctx, q.String(), args...)
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
