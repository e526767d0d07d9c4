package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/healthgate/healthgate/internal/store"
)

const indicatorCols = `id, type, value, source, confidence, status, first_seen, last_seen, expires_at, feed_kind, feed_value, full_hash, feed_version`

type rowScanner interface{ Scan(...any) error }

func scanIndicator(r rowScanner) (store.Indicator, error) {
	var in store.Indicator
	var first, last, exp int64
	err := r.Scan(&in.ID, &in.Type, &in.Value, &in.Source, &in.Confidence, &in.Status, &first, &last, &exp,
		&in.FeedKind, &in.FeedValue, &in.FullHash, &in.FeedVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Indicator{}, store.ErrNotFound
	}
	in.FirstSeen, in.LastSeen, in.Expires = fromMS(first), fromMS(last), fromMS(exp)
	return in, err
}

// onFeed says whether an indicator in this status with this feed kind is
// on the feed.
func onFeed(status, kind string) bool { return status == "active" && kind != "" }

// intelTx is one write transaction over intelligence: it bumps the feed
// version at most once, on the first change of feed membership.
type intelTx struct {
	tx      *sql.Tx
	version int64 // the version this transaction writes
	bumped  bool
}

func (db *DB) beginIntel(ctx context.Context) (*intelTx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	t := &intelTx{tx: tx}
	if err := tx.QueryRowContext(ctx, `SELECT version FROM intel_feed WHERE id = 1`).Scan(&t.version); err != nil {
		tx.Rollback()
		return nil, err
	}
	t.version++
	return t, nil
}

func (t *intelTx) commit(ctx context.Context) error {
	if t.bumped {
		if _, err := t.tx.ExecContext(ctx, `UPDATE intel_feed SET version = ? WHERE id = 1`, t.version); err != nil {
			return err
		}
	}
	return t.tx.Commit()
}

// feedVersionFor returns the feed_version to store for a change from old to
// next status: the new version when feed membership changes.
func (t *intelTx) feedVersionFor(old store.Indicator, nextStatus string, existed bool) int64 {
	before := existed && onFeed(old.Status, old.FeedKind)
	after := onFeed(nextStatus, old.FeedKind)
	if before != after {
		t.bumped = true
		return t.version
	}
	return old.FeedVersion
}

func (t *intelTx) event(ctx context.Context, id, action, from, to string, ch store.Change) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO indicator_events (indicator_id, at, actor, action, from_status, to_status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, ms(ch.At), ch.Actor, action, from, to, ch.Reason)
	return err
}

// PutIndicators implements store.IntelStore.
func (db *DB) PutIndicators(ctx context.Context, ins []store.Indicator, ch store.Change) ([]store.Indicator, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return nil, err
	}
	defer t.tx.Rollback()
	out := make([]store.Indicator, 0, len(ins))
	for _, in := range ins {
		ch := ch
		if in.ChangeReason != "" {
			ch.Reason = in.ChangeReason
		}
		if in.ID == "" || in.Type == "" || in.Value == "" || in.Status == "" {
			return nil, fmt.Errorf("indicator %q/%q: id, type, value and status are required", in.Type, in.Value)
		}
		old, err := scanIndicator(t.tx.QueryRowContext(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE type = ? AND value = ?`, in.Type, in.Value))
		switch {
		case errors.Is(err, store.ErrNotFound):
			in.FeedVersion = 0
			if onFeed(in.Status, in.FeedKind) {
				in.FeedVersion, t.bumped = t.version, true
			}
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO indicators (`+indicatorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				in.ID, in.Type, in.Value, in.Source, in.Confidence, in.Status, ms(in.FirstSeen), ms(in.LastSeen), ms(in.Expires),
				in.FeedKind, in.FeedValue, in.FullHash, in.FeedVersion); err != nil {
				if isUnique(err) {
					return nil, store.ErrConflict
				}
				return nil, err
			}
			if err := t.event(ctx, in.ID, "created", "", in.Status, ch); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			next := old
			next.Source, next.Confidence, next.Status, next.Expires = in.Source, in.Confidence, in.Status, in.Expires
			if in.LastSeen.After(old.LastSeen) {
				next.LastSeen = in.LastSeen
			}
			if !in.FirstSeen.IsZero() && in.FirstSeen.Before(old.FirstSeen) {
				next.FirstSeen = in.FirstSeen
			}
			next.FeedVersion = t.feedVersionFor(old, in.Status, true)
			if _, err := t.tx.ExecContext(ctx, `UPDATE indicators SET source = ?, confidence = ?, status = ?, first_seen = ?, last_seen = ?, expires_at = ?, feed_version = ? WHERE id = ?`,
				next.Source, next.Confidence, next.Status, ms(next.FirstSeen), ms(next.LastSeen), ms(next.Expires), next.FeedVersion, old.ID); err != nil {
				return nil, err
			}
			if err := t.event(ctx, old.ID, "refreshed", old.Status, next.Status, ch); err != nil {
				return nil, err
			}
			in = next
		}
		in.ChangeReason = ""
		out = append(out, in)
	}
	return out, t.commit(ctx)
}

// SetIndicatorStatus implements store.IntelStore.
func (db *DB) SetIndicatorStatus(ctx context.Context, id, status string, ch store.Change) (store.Indicator, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return store.Indicator{}, err
	}
	defer t.tx.Rollback()
	old, err := scanIndicator(t.tx.QueryRowContext(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE id = ?`, id))
	if err != nil {
		return store.Indicator{}, err
	}
	next := old
	next.Status = status
	next.FeedVersion = t.feedVersionFor(old, status, true)
	if _, err := t.tx.ExecContext(ctx, `UPDATE indicators SET status = ?, feed_version = ? WHERE id = ?`, status, next.FeedVersion, id); err != nil {
		return store.Indicator{}, err
	}
	if err := t.event(ctx, id, "status", old.Status, status, ch); err != nil {
		return store.Indicator{}, err
	}
	return next, t.commit(ctx)
}

// ExpireIndicators implements store.IntelStore.
func (db *DB) ExpireIndicators(ctx context.Context, ch store.Change) (int64, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return 0, err
	}
	defer t.tx.Rollback()
	rows, err := t.tx.QueryContext(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE status IN ('active', 'pending_review') AND expires_at > 0 AND expires_at <= ?`, ms(ch.At))
	if err != nil {
		return 0, err
	}
	var due []store.Indicator
	for rows.Next() {
		in, err := scanIndicator(rows)
		if err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, in)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	for _, in := range due {
		v := t.feedVersionFor(in, "expired", true)
		if _, err := t.tx.ExecContext(ctx, `UPDATE indicators SET status = 'expired', feed_version = ? WHERE id = ?`, v, in.ID); err != nil {
			return 0, err
		}
		if err := t.event(ctx, in.ID, "status", in.Status, "expired", ch); err != nil {
			return 0, err
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	return int64(len(due)), t.commit(ctx)
}

// Indicator implements store.IntelStore.
func (db *DB) Indicator(ctx context.Context, id, typ, value string) (store.Indicator, error) {
	if id != "" {
		return scanIndicator(db.read.QueryRowContext(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE id = ?`, id))
	}
	return scanIndicator(db.read.QueryRowContext(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE type = ? AND value = ?`, typ, value))
}

// Indicators implements store.IntelStore.
func (db *DB) Indicators(ctx context.Context, f store.IndicatorFilter) ([]store.Indicator, error) {
	q := `SELECT ` + indicatorCols + ` FROM indicators WHERE (? = '' OR type = ?) AND (? = '' OR status = ?) ORDER BY type, value`
	args := []any{f.Type, f.Type, f.Status, f.Status}
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Indicator
	for rows.Next() {
		in, err := scanIndicator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// IndicatorEvents implements store.IntelStore.
func (db *DB) IndicatorEvents(ctx context.Context, id string) ([]store.IndicatorEvent, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT indicator_id, at, actor, action, from_status, to_status, reason FROM indicator_events WHERE indicator_id = ? ORDER BY at, rowid`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.IndicatorEvent
	for rows.Next() {
		var e store.IndicatorEvent
		var at int64
		if err := rows.Scan(&e.IndicatorID, &at, &e.Actor, &e.Action, &e.FromStatus, &e.ToStatus, &e.Reason); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// FeedVersion implements store.IntelStore.
func (db *DB) FeedVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.read.QueryRowContext(ctx, `SELECT version FROM intel_feed WHERE id = 1`).Scan(&v)
	return v, err
}

// readTx runs fn in one read transaction: every query sees the same
// database state (a WAL snapshot).
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx, version int64) error) (int64, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM intel_feed WHERE id = 1`).Scan(&v); err != nil {
		return 0, err
	}
	return v, fn(tx, v)
}

// FeedSnapshot implements store.IntelStore.
func (db *DB) FeedSnapshot(ctx context.Context, fn func(kind, value string) error) (int64, error) {
	return db.readTx(ctx, func(tx *sql.Tx, _ int64) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT feed_kind, feed_value FROM indicators INDEXED BY indicators_feed_entry WHERE status = 'active' AND feed_kind != ''`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var kind, value string
		for rows.Next() {
			if err := rows.Scan(&kind, &value); err != nil {
				return err
			}
			if err := fn(kind, value); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// FeedDelta implements store.IntelStore.
func (db *DB) FeedDelta(ctx context.Context, since int64, limit int) (store.FeedDelta, bool, error) {
	d := store.FeedDelta{Since: since}
	truncated := false
	v, err := db.readTx(ctx, func(tx *sql.Tx, _ int64) error {
		var err error
		if d.Add, err = feedEntries(ctx, tx, limit, `SELECT DISTINCT feed_kind, feed_value FROM indicators INDEXED BY indicators_feed_version
			WHERE feed_version > ? AND status = 'active' AND feed_kind != '' LIMIT ?`, since, limit+1); err != nil {
			return err
		}
		if d.Remove, err = feedEntries(ctx, tx, limit, `SELECT DISTINCT i.feed_kind, i.feed_value FROM indicators i INDEXED BY indicators_feed_version
			WHERE i.feed_version > ? AND i.status != 'active' AND i.feed_kind != ''
			AND NOT EXISTS (SELECT 1 FROM indicators j WHERE j.feed_kind = i.feed_kind AND j.feed_value = i.feed_value AND j.status = 'active')
			LIMIT ?`, since, limit+1); err != nil {
			return err
		}
		if len(d.Add) > limit || len(d.Remove) > limit {
			truncated = true
			d.Add, d.Remove = d.Add[:min(len(d.Add), limit)], d.Remove[:min(len(d.Remove), limit)]
		}
		return nil
	})
	d.Version = v
	return d, truncated, err
}

func feedEntries(ctx context.Context, tx *sql.Tx, limit int, q string, args ...any) ([]store.FeedEntry, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FeedEntry
	for rows.Next() {
		var e store.FeedEntry
		if err := rows.Scan(&e.Kind, &e.Value); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FullHashes implements store.IntelStore.
func (db *DB) FullHashes(ctx context.Context, prefixes []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(prefixes) == 0 {
		return out, nil
	}
	args := make([]any, len(prefixes))
	for i, p := range prefixes {
		args[i] = p
	}
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT feed_value, full_hash FROM indicators WHERE feed_kind = 'prefix' AND status = 'active'
		AND feed_value IN (?`+strings.Repeat(", ?", len(prefixes)-1)+`) ORDER BY feed_value, full_hash`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p, h string
		if err := rows.Scan(&p, &h); err != nil {
			return nil, err
		}
		out[p] = append(out[p], h)
	}
	return out, rows.Err()
}
