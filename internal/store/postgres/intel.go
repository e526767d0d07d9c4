package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/healthgate/healthgate/internal/store"
)

var _ store.IntelStore = (*DB)(nil)

const indicatorCols = `id, type, value, source, confidence, status, first_seen, last_seen, expires_at, feed_kind, feed_value, full_hash, feed_version`

func scanIndicator(r pgx.Row) (store.Indicator, error) {
	var in store.Indicator
	var first, last, exp int64
	err := r.Scan(&in.ID, &in.Type, &in.Value, &in.Source, &in.Confidence, &in.Status, &first, &last, &exp,
		&in.FeedKind, &in.FeedValue, &in.FullHash, &in.FeedVersion)
	if err != nil {
		return store.Indicator{}, notFound(err)
	}
	in.FirstSeen, in.LastSeen, in.Expires = fromMS(first), fromMS(last), fromMS(exp)
	return in, nil
}

func scanIndicators(rows pgx.Rows) ([]store.Indicator, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Indicator, error) { return scanIndicator(r) })
}

// onFeed says whether an indicator in this status with this feed kind is
// on the feed.
func onFeed(status, kind string) bool { return status == "active" && kind != "" }

// intelTx is one write transaction over intelligence: it bumps the feed
// version at most once, on the first change of feed membership.
//
// Cross-node ordering: beginIntel locks the single intel_feed row
// (SELECT … FOR UPDATE) before the transaction reads anything else, and
// holds it until commit. Intelligence writes from every node sharing the
// database therefore run one after another, so
//   - versions are handed out gap-free and each is committed before the
//     next is even read, so commit order is version order: a FeedDelta
//     reader whose snapshot shows version V also sees every change stamped
//     V or lower, and never advances past a version committed later with a
//     lower number;
//   - the read-then-write of PutIndicators (refresh or insert) and of
//     status changes sees every earlier write, so two nodes adding the same
//     indicator at once give one insert and one refresh, not a conflict.
//
// Intelligence writes are rare and short (imports, CLI, expiry), so
// serialising them costs little; readers take no lock.
type intelTx struct {
	tx      pgx.Tx
	version int64 // the version this transaction writes
	bumped  bool
}

func (db *DB) beginIntel(ctx context.Context) (*intelTx, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	t := &intelTx{tx: tx}
	if err := tx.QueryRow(ctx, `SELECT version FROM intel_feed WHERE id = 1 FOR UPDATE`).Scan(&t.version); err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	t.version++
	return t, nil
}

func (t *intelTx) commit(ctx context.Context) error {
	if t.bumped {
		if _, err := t.tx.Exec(ctx, `UPDATE intel_feed SET version = $1 WHERE id = 1`, t.version); err != nil {
			return err
		}
	}
	return t.tx.Commit(ctx)
}

// feedVersionFor returns the feed_version to store for a change from old to
// next status: the new version when feed membership changes.
func (t *intelTx) feedVersionFor(old store.Indicator, nextStatus string) int64 {
	if onFeed(old.Status, old.FeedKind) != onFeed(nextStatus, old.FeedKind) {
		t.bumped = true
		return t.version
	}
	return old.FeedVersion
}

// indicatorKey is an indicator's natural key.
type indicatorKey struct{ typ, value string }

// asStored returns in as reading it back from the database would: times
// at millisecond precision in UTC, no change reason.
func asStored(in store.Indicator) store.Indicator {
	in.FirstSeen, in.LastSeen, in.Expires = fromMS(ms(in.FirstSeen)), fromMS(ms(in.LastSeen)), fromMS(ms(in.Expires))
	in.ChangeReason = ""
	return in
}

// PutIndicators implements store.IntelStore.
//
// Imports come in batches of thousands, so instead of the SQLite backend's
// statements per indicator it reads the known indicators of the batch in
// one query, works out in Go what each indicator becomes (exactly as the
// indicator-by-indicator loop would, a repeat within the batch refreshing
// the earlier one), and writes the result with three set-based statements.
// The feed lock taken by beginIntel keeps what it read current until commit.
func (db *DB) PutIndicators(ctx context.Context, ins []store.Indicator, ch store.Change) ([]store.Indicator, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return nil, err
	}
	defer t.tx.Rollback(ctx)

	ids := make([]string, len(ins))
	types := make([]string, len(ins))
	values := make([]string, len(ins))
	for i, in := range ins {
		ids[i], types[i], values[i] = in.ID, in.Type, in.Value
	}
	rows, err := t.tx.Query(ctx, `SELECT `+indicatorCols+` FROM indicators
		WHERE id = ANY($1) OR (type, value) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
		ids, types, values)
	if err != nil {
		return nil, err
	}
	stored, err := scanIndicators(rows)
	if err != nil {
		return nil, err
	}
	known := make(map[indicatorKey]store.Indicator, len(stored)) // as the database would hold it now
	taken := make(map[string]bool, len(stored)+len(ins))         // ids in use
	for _, in := range stored {
		known[indicatorKey{in.Type, in.Value}] = in
		taken[in.ID] = true
	}

	// The rows to write, each in its final state, in first-touched order.
	type write struct {
		in     store.Indicator
		insert bool
	}
	writes := map[indicatorKey]*write{}
	var order []indicatorKey
	var ev struct{ ids, actions, from, to, reasons []string }

	out := make([]store.Indicator, 0, len(ins))
	for _, in := range ins {
		reason := ch.Reason
		if in.ChangeReason != "" {
			reason = in.ChangeReason
		}
		if in.ID == "" || in.Type == "" || in.Value == "" || in.Status == "" {
			return nil, fmt.Errorf("indicator %q/%q: id, type, value and status are required", in.Type, in.Value)
		}
		k := indicatorKey{in.Type, in.Value}
		w := writes[k]
		if w == nil {
			w = &write{}
			writes[k] = w
			order = append(order, k)
		}
		old, existed := known[k]
		if !existed {
			if taken[in.ID] {
				return nil, store.ErrConflict
			}
			taken[in.ID] = true
			in.FeedVersion = 0
			if onFeed(in.Status, in.FeedKind) {
				in.FeedVersion, t.bumped = t.version, true
			}
			w.insert = true
			ev.ids, ev.actions, ev.from, ev.to = append(ev.ids, in.ID), append(ev.actions, "created"), append(ev.from, ""), append(ev.to, in.Status)
		} else {
			next := old
			next.Source, next.Confidence, next.Status, next.Expires = in.Source, in.Confidence, in.Status, in.Expires
			if in.LastSeen.After(old.LastSeen) {
				next.LastSeen = in.LastSeen
			}
			if !in.FirstSeen.IsZero() && in.FirstSeen.Before(old.FirstSeen) {
				next.FirstSeen = in.FirstSeen
			}
			next.FeedVersion = t.feedVersionFor(old, in.Status)
			ev.ids, ev.actions, ev.from, ev.to = append(ev.ids, old.ID), append(ev.actions, "refreshed"), append(ev.from, old.Status), append(ev.to, next.Status)
			in = next
		}
		ev.reasons = append(ev.reasons, reason)
		in.ChangeReason = ""
		w.in = in
		known[k] = asStored(in)
		out = append(out, in)
	}
	if len(out) == 0 {
		return out, t.commit(ctx)
	}

	// One array per column, one element per row, plus whether the row
	// exists already (to update) or not (to insert).
	var c struct {
		ids, types, values, sources, statuses, kinds, feedValues, fullHashes []string
		confidences                                                          []int32
		first, last, expires, versions                                       []int64
		existing                                                             []bool
	}
	for _, k := range order {
		w := writes[k]
		in := w.in
		c.ids = append(c.ids, in.ID)
		c.types = append(c.types, in.Type)
		c.values = append(c.values, in.Value)
		c.sources = append(c.sources, in.Source)
		c.confidences = append(c.confidences, int32(in.Confidence))
		c.statuses = append(c.statuses, in.Status)
		c.first = append(c.first, ms(in.FirstSeen))
		c.last = append(c.last, ms(in.LastSeen))
		c.expires = append(c.expires, ms(in.Expires))
		c.kinds = append(c.kinds, in.FeedKind)
		c.feedValues = append(c.feedValues, in.FeedValue)
		c.fullHashes = append(c.fullHashes, in.FullHash)
		c.versions = append(c.versions, in.FeedVersion)
		c.existing = append(c.existing, !w.insert)
	}
	const rowsOf = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[],
			$10::text[], $11::text[], $12::text[], $13::bigint[], $14::boolean[])
		AS u (id, type, value, source, confidence, status, first_seen, last_seen, expires_at, feed_kind, feed_value, full_hash, feed_version, existing)`
	args := []any{c.ids, c.types, c.values, c.sources, c.confidences, c.statuses, c.first, c.last, c.expires,
		c.kinds, c.feedValues, c.fullHashes, c.versions, c.existing}
	if _, err := t.tx.Exec(ctx, `INSERT INTO indicators (`+indicatorCols+`)
		SELECT `+indicatorCols+` FROM `+rowsOf+` WHERE NOT existing`, args...); err != nil {
		if isUnique(err) {
			return nil, store.ErrConflict
		}
		return nil, err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE indicators i SET source = u.source, confidence = u.confidence, status = u.status,
			first_seen = u.first_seen, last_seen = u.last_seen, expires_at = u.expires_at, feed_version = u.feed_version
		FROM `+rowsOf+` WHERE u.existing AND i.id = u.id`, args...); err != nil {
		return nil, err
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO indicator_events (indicator_id, at, actor, action, from_status, to_status, reason)
		SELECT u.id, $1, $2, u.action, u.from_status, u.to_status, u.reason
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u (id, action, from_status, to_status, reason, n)
		ORDER BY u.n`,
		ms(ch.At), ch.Actor, ev.ids, ev.actions, ev.from, ev.to, ev.reasons); err != nil {
		return nil, err
	}
	return out, t.commit(ctx)
}

// SetIndicatorStatus implements store.IntelStore.
func (db *DB) SetIndicatorStatus(ctx context.Context, id, status string, ch store.Change) (store.Indicator, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return store.Indicator{}, err
	}
	defer t.tx.Rollback(ctx)
	old, err := scanIndicator(t.tx.QueryRow(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE id = $1`, id))
	if err != nil {
		return store.Indicator{}, err
	}
	next := old
	next.Status = status
	next.FeedVersion = t.feedVersionFor(old, status)
	if _, err := t.tx.Exec(ctx, `UPDATE indicators SET status = $1, feed_version = $2 WHERE id = $3`, status, next.FeedVersion, id); err != nil {
		return store.Indicator{}, err
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO indicator_events (indicator_id, at, actor, action, from_status, to_status, reason) VALUES ($1, $2, $3, 'status', $4, $5, $6)`,
		id, ms(ch.At), ch.Actor, old.Status, status, ch.Reason); err != nil {
		return store.Indicator{}, err
	}
	return next, t.commit(ctx)
}

// ExpireIndicators implements store.IntelStore. Everything due expires in
// one statement (a feed import's worth of indicators tends to end at
// once); it reports whether any of them was on the feed, which bumps the
// version.
func (db *DB) ExpireIndicators(ctx context.Context, ch store.Change) (int64, error) {
	t, err := db.beginIntel(ctx)
	if err != nil {
		return 0, err
	}
	defer t.tx.Rollback(ctx)
	var n int64
	var offFeed bool
	if err := t.tx.QueryRow(ctx, `WITH due AS (
			SELECT id, status, (status = 'active' AND feed_kind <> '') AS on_feed FROM indicators
			WHERE status IN ('active', 'pending_review') AND expires_at > 0 AND expires_at <= $1
		), expired AS (
			UPDATE indicators i SET status = 'expired', feed_version = CASE WHEN due.on_feed THEN $2 ELSE i.feed_version END
			FROM due WHERE i.id = due.id
			RETURNING i.id, due.status AS from_status, due.on_feed
		), events AS (
			INSERT INTO indicator_events (indicator_id, at, actor, action, from_status, to_status, reason)
			SELECT id, $1, $3, 'status', from_status, 'expired', $4 FROM expired
		)
		SELECT count(*), coalesce(bool_or(on_feed), false) FROM expired`,
		ms(ch.At), t.version, ch.Actor, ch.Reason).Scan(&n, &offFeed); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	t.bumped = offFeed
	return n, t.commit(ctx)
}

// Indicator implements store.IntelStore.
func (db *DB) Indicator(ctx context.Context, id, typ, value string) (store.Indicator, error) {
	if id != "" {
		return scanIndicator(db.pool.QueryRow(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE id = $1`, id))
	}
	return scanIndicator(db.pool.QueryRow(ctx, `SELECT `+indicatorCols+` FROM indicators WHERE type = $1 AND value = $2`, typ, value))
}

// Indicators implements store.IntelStore.
func (db *DB) Indicators(ctx context.Context, f store.IndicatorFilter) ([]store.Indicator, error) {
	q := `SELECT ` + indicatorCols + ` FROM indicators WHERE ($1 = '' OR type = $1) AND ($2 = '' OR status = $2) ORDER BY type, value`
	args := []any{f.Type, f.Status}
	if f.Limit > 0 {
		q += ` LIMIT $3`
		args = append(args, f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanIndicators(rows)
}

// IndicatorEvents implements store.IntelStore.
func (db *DB) IndicatorEvents(ctx context.Context, id string) ([]store.IndicatorEvent, error) {
	if !storable(id) {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT indicator_id, at, actor, action, from_status, to_status, reason FROM indicator_events WHERE indicator_id = $1 ORDER BY at, seq`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.IndicatorEvent, error) {
		var e store.IndicatorEvent
		var at int64
		err := r.Scan(&e.IndicatorID, &at, &e.Actor, &e.Action, &e.FromStatus, &e.ToStatus, &e.Reason)
		e.At = fromMS(at)
		return e, err
	})
}

// FeedVersion implements store.IntelStore.
func (db *DB) FeedVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.pool.QueryRow(ctx, `SELECT version FROM intel_feed WHERE id = 1`).Scan(&v)
	return v, err
}

// feedRead runs fn in one read-only REPEATABLE READ transaction: the
// version and every query see one snapshot, and since intelligence writes
// commit in version order (see intelTx), that snapshot holds every change
// up to the version and none after it.
func (db *DB) feedRead(ctx context.Context, fn func(tx pgx.Tx) error) (int64, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var v int64
	if err := tx.QueryRow(ctx, `SELECT version FROM intel_feed WHERE id = 1`).Scan(&v); err != nil {
		return 0, err
	}
	if err := fn(tx); err != nil {
		return v, err
	}
	return v, tx.Commit(ctx)
}

// FeedSnapshot implements store.IntelStore.
func (db *DB) FeedSnapshot(ctx context.Context, fn func(kind, value string) error) (int64, error) {
	return db.feedRead(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT feed_kind, feed_value FROM indicators WHERE status = 'active' AND feed_kind <> ''`)
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
	v, err := db.feedRead(ctx, func(tx pgx.Tx) error {
		var err error
		if d.Add, err = feedEntries(ctx, tx, `SELECT DISTINCT feed_kind, feed_value FROM indicators
			WHERE feed_version > $1 AND status = 'active' AND feed_kind <> '' LIMIT $2`, since, limit+1); err != nil {
			return err
		}
		if d.Remove, err = feedEntries(ctx, tx, `SELECT DISTINCT i.feed_kind, i.feed_value FROM indicators i
			WHERE i.feed_version > $1 AND i.status <> 'active' AND i.feed_kind <> ''
			AND NOT EXISTS (SELECT 1 FROM indicators j WHERE j.status = 'active' AND j.feed_kind = i.feed_kind AND j.feed_value = i.feed_value)
			LIMIT $2`, since, limit+1); err != nil {
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

func feedEntries(ctx context.Context, tx pgx.Tx, q string, args ...any) ([]store.FeedEntry, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (e store.FeedEntry, err error) {
		return e, r.Scan(&e.Kind, &e.Value)
	})
}

// FullHashes implements store.IntelStore.
func (db *DB) FullHashes(ctx context.Context, prefixes []string) (map[string][]string, error) {
	out := map[string][]string{}
	prefixes = storableOnly(prefixes)
	if len(prefixes) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT feed_value, full_hash FROM indicators WHERE status = 'active' AND feed_kind = 'prefix'
		AND feed_value = ANY($1) ORDER BY feed_value, full_hash`, prefixes)
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
