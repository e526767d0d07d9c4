package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthgate/healthgate/internal/store"
)

// TAXII times are kept in microseconds, as in the SQLite backend: TAXII
// clients page with added_after, and microseconds are what the headers
// carry.
func taxiiUS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromTAXIIUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// taxiiLockClass is the first key of the two-key advisory lock that
// serializes AddTAXIIObjects per collection ("TAXI" in ASCII); the second
// is hashtext(collection). Two-key locks never meet one-key ones such as
// the migration lock.
const taxiiLockClass int32 = 0x54415849

// CreatePartner implements store.Store.
func (db *DB) CreatePartner(ctx context.Context, p store.Partner, first store.PartnerToken) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO partners (id, name, read_collections, write_collections, created_at) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.Name, nonNil(p.Read), nonNil(p.Write), ms(p.Created)); err != nil {
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	}
	if err := insertPartnerToken(ctx, tx, first); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// execer is what a pool and a transaction have in common.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertPartnerToken(ctx context.Context, ex execer, t store.PartnerToken) error {
	_, err := ex.Exec(ctx, `INSERT INTO partner_tokens (id, partner_id, hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.PartnerID, t.Hash, ms(t.Created), ms(t.Expires), ms(t.Revoked))
	switch {
	case isUnique(err):
		return store.ErrConflict
	case isForeignKey(err):
		return store.ErrNotFound
	}
	return err
}

const partnerColumns = `id, name, read_collections, write_collections, created_at`

// Partner implements store.Store. An id wins over another partner's name.
func (db *DB) Partner(ctx context.Context, idOrName string) (store.Partner, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+partnerColumns+` FROM partners
		WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName)
	p, err := scanPartner(row)
	return p, notFound(err)
}

func scanPartner(row pgx.Row) (store.Partner, error) {
	var p store.Partner
	var created int64
	if err := row.Scan(&p.ID, &p.Name, &p.Read, &p.Write, &created); err != nil {
		return store.Partner{}, err
	}
	p.Created = fromMS(created)
	return p, nil
}

// Partners implements store.Store. Names sort by their bytes, as in
// SQLite, whatever the database's collation.
func (db *DB) Partners(ctx context.Context) ([]store.Partner, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+partnerColumns+` FROM partners ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Partner, error) { return scanPartner(r) })
}

// AddPartnerToken implements store.Store. The foreign key refuses a token
// of an unknown partner.
func (db *DB) AddPartnerToken(ctx context.Context, t store.PartnerToken) error {
	return insertPartnerToken(ctx, db.pool, t)
}

// PartnerToken implements store.Store.
func (db *DB) PartnerToken(ctx context.Context, id string) (store.PartnerToken, error) {
	var t store.PartnerToken
	var created, expires, revoked int64
	err := db.pool.QueryRow(ctx, `SELECT id, partner_id, hash, created_at, expires_at, revoked_at FROM partner_tokens WHERE id = $1`, id).
		Scan(&t.ID, &t.PartnerID, &t.Hash, &created, &expires, &revoked)
	if err != nil {
		return store.PartnerToken{}, notFound(err)
	}
	t.Created, t.Expires, t.Revoked = fromMS(created), fromMS(expires), fromMS(revoked)
	return t, nil
}

// RevokePartnerTokens implements store.Store.
func (db *DB) RevokePartnerTokens(ctx context.Context, partnerID string, at time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE partner_tokens SET revoked_at = $1 WHERE partner_id = $2 AND revoked_at = 0`, ms(at), partnerID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// AddTAXIIObjects implements store.Store.
//
// Cross-node: readers page with added_after = the newest date_added they
// have seen, so date_added must grow in commit order, also when several
// nodes add to one collection at once. Each call therefore takes a
// transaction-scoped advisory lock on its collection before reading the
// newest date_added, and holds it until commit: calls on one collection
// run one after another, each sees the previous one committed, and takes
// a date_added after it. Other collections are not held up (unless their
// names hash alike, which only costs waiting).
func (db *DB) AddTAXIIObjects(ctx context.Context, collection string, objs []store.TAXIIObject, status store.TAXIIStatus) (store.TAXIIAdded, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return store.TAXIIAdded{}, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, taxiiLockClass, collection); err != nil {
		return store.TAXIIAdded{}, err
	}
	added := taxiiUS(status.Requested.Truncate(time.Microsecond))
	if added == 0 {
		added = taxiiUS(time.Now())
	}
	var last *int64
	if err := tx.QueryRow(ctx, `SELECT max(date_added) FROM taxii_objects WHERE collection = $1`, collection).Scan(&last); err != nil {
		return store.TAXIIAdded{}, err
	}
	if last != nil && *last >= added {
		added = *last + 1
	}
	held, err := heldTAXIIObjects(ctx, tx, collection, objs)
	if err != nil {
		return store.TAXIIAdded{}, err
	}
	insert, refused := store.SortTAXIIObjects(objs, held)
	res := store.TAXIIAdded{DateAdded: fromTAXIIUS(added), Refused: refused}
	if len(insert) > 0 {
		n := len(insert)
		ids, types, specs, posters := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		versions, bodies, only := make([]int64, n), make([][]byte, n), make([]bool, n)
		for i, o := range insert {
			ids[i], types[i], specs[i], posters[i] = o.ID, o.Type, o.SpecVersion, o.PostedBy
			versions[i], bodies[i], only[i] = taxiiUS(o.Version), nonNilBytes(o.Body), o.PosterOnly
		}
		// One statement for the whole call. SortTAXIIObjects left out
		// every (id, version) already stored or twice in objs, and the
		// lock keeps it so: a conflict here is a bug, not a duplicate.
		if _, err := tx.Exec(ctx, `INSERT INTO taxii_objects (collection, id, version, type, spec_version, date_added, body, posted_by, poster_only)
			SELECT $1::text, o.id, o.version, o.type, o.spec_version, $2::bigint, o.body, o.posted_by, o.poster_only
			FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::text[], $9::boolean[])
				AS o (id, version, type, spec_version, body, posted_by, poster_only)`,
			collection, added, ids, versions, types, specs, bodies, posters, only); err != nil {
			return store.TAXIIAdded{}, err
		}
	}
	if status.ID != "" {
		body := status.Body
		if status.Render != nil {
			if body, err = status.Render(res); err != nil {
				return store.TAXIIAdded{}, err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO taxii_status (id, partner_id, created_at, body) VALUES ($1, $2, $3, $4)`,
			status.ID, status.PartnerID, ms(status.Requested), nonNilBytes(body)); err != nil {
			if isUnique(err) {
				return store.TAXIIAdded{}, store.ErrConflict
			}
			return store.TAXIIAdded{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return store.TAXIIAdded{}, err
	}
	return res, nil
}

// heldTAXIIObjects reads what a collection holds of the ids of objs, for
// store.SortTAXIIObjects. The advisory lock of AddTAXIIObjects keeps it
// true until commit: every write to the collection takes it.
func heldTAXIIObjects(ctx context.Context, tx pgx.Tx, collection string, objs []store.TAXIIObject) (store.TAXIIStored, error) {
	held := store.TAXIIStored{Creators: map[string]string{}, Bodies: map[store.TAXIIVersion][]byte{}}
	if len(objs) == 0 {
		return held, nil
	}
	ids, versions := make([]string, len(objs)), make([]int64, len(objs))
	for i, o := range objs {
		ids[i], versions[i] = o.ID, taxiiUS(o.Version)
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (id) id, posted_by FROM taxii_objects
		WHERE collection = $1 AND id = ANY($2::text[]) ORDER BY id, date_added, version`, collection, ids)
	if err != nil {
		return held, err
	}
	for rows.Next() {
		var id, by string
		if err := rows.Scan(&id, &by); err != nil {
			rows.Close()
			return held, err
		}
		held.Creators[id] = by
	}
	if rows.Err() != nil {
		return held, rows.Err()
	}
	// The i-th (id, version) of objs, 1-based, that is stored.
	rows, err = tx.Query(ctx, `SELECT o.i, t.body FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS o (id, version, i)
		JOIN taxii_objects t ON t.collection = $1 AND t.id = o.id AND t.version = o.version`, collection, ids, versions)
	if err != nil {
		return held, err
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var body []byte
		if err := rows.Scan(&i, &body); err != nil {
			return held, err
		}
		held.Bodies[objs[i-1].VersionOf()] = body
	}
	return held, rows.Err()
}

// nonNilBytes returns b, or an empty slice for nil, which pgx would send
// as NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// TAXIIObjects implements store.Store. Objects q.Reader may not see are
// left out inside the query, so pages stay full and first and last are
// chosen among the versions the reader may see.
func (db *DB) TAXIIObjects(ctx context.Context, q store.TAXIIQuery) ([]store.TAXIIObject, bool, error) {
	// Filter values no object can have (see storable) match nothing.
	for _, f := range []*[]string{&q.IDs, &q.Types, &q.SpecVersions} {
		if len(*f) > 0 {
			if *f = storableOnly(*f); len(*f) == 0 {
				return nil, false, nil
			}
		}
	}
	if !storable(q.Collection, q.Reader) {
		return nil, false, nil
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"o.collection = " + arg(q.Collection)}
	// visible is the condition on table alias t that an object version is
	// one q.Reader may see.
	visible := func(string) string { return "TRUE" }
	if q.Reader != "" {
		reader := arg(q.Reader)
		visible = func(t string) string {
			return "(NOT " + t + ".poster_only OR " + t + ".posted_by = " + reader + ")"
		}
	}
	where = append(where, visible("o"))
	if !q.AddedAfter.IsZero() {
		where = append(where, "o.date_added > "+arg(taxiiUS(q.AddedAfter)))
	}
	if q.After != nil {
		where = append(where, "(o.date_added, o.id, o.version) > ("+
			arg(taxiiUS(q.After.DateAdded))+", "+arg(q.After.ID)+"::text, "+arg(taxiiUS(q.After.Version))+")")
	}
	in := func(col string, vals []string) {
		if len(vals) > 0 {
			where = append(where, col+" = ANY("+arg(vals)+"::text[])")
		}
	}
	in("o.id", q.IDs)
	in("o.type", q.Types)
	in("o.spec_version", q.SpecVersions)
	versions := q.Versions
	if len(versions) == 0 {
		versions = []string{"last"}
	}
	var vconds []string
	for _, v := range versions {
		switch v {
		case "all":
			vconds = append(vconds, "TRUE")
		case "last":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM taxii_objects n WHERE n.collection = o.collection AND n.id = o.id AND n.version > o.version AND "+visible("n")+")")
		case "first":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM taxii_objects n WHERE n.collection = o.collection AND n.id = o.id AND n.version < o.version AND "+visible("n")+")")
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, false, fmt.Errorf("version %q: %w", v, err)
			}
			vconds = append(vconds, "o.version = "+arg(taxiiUS(t)))
		}
	}
	where = append(where, "("+strings.Join(vconds, " OR ")+")")
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.pool.Query(ctx, `SELECT o.id, o.version, o.type, o.spec_version, o.date_added, o.body, o.posted_by, o.poster_only FROM taxii_objects o
		WHERE `+strings.Join(where, " AND ")+` ORDER BY o.date_added, o.id, o.version LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []store.TAXIIObject
	for rows.Next() {
		o := store.TAXIIObject{Collection: q.Collection}
		var version, added int64
		if err := rows.Scan(&o.ID, &version, &o.Type, &o.SpecVersion, &added, &o.Body, &o.PostedBy, &o.PosterOnly); err != nil {
			return nil, false, err
		}
		o.Version, o.DateAdded = fromTAXIIUS(version), fromTAXIIUS(added)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// TAXIIStatus implements store.Store.
func (db *DB) TAXIIStatus(ctx context.Context, id string) (store.TAXIIStatus, error) {
	var s store.TAXIIStatus
	var created int64
	err := db.pool.QueryRow(ctx, `SELECT id, partner_id, created_at, body FROM taxii_status WHERE id = $1`, id).
		Scan(&s.ID, &s.PartnerID, &created, &s.Body)
	if err != nil {
		return store.TAXIIStatus{}, notFound(err)
	}
	s.Requested = fromMS(created)
	return s, nil
}

// PurgeTAXIIStatus implements store.Store.
func (db *DB) PurgeTAXIIStatus(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM taxii_status WHERE created_at < $1`, ms(before))
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// PullState implements store.Store.
func (db *DB) PullState(ctx context.Context, partner, collection string) (time.Time, error) {
	if !storable(partner, collection) {
		return time.Time{}, nil
	}
	var v int64
	err := db.pool.QueryRow(ctx, `SELECT added_after FROM taxii_pull_state WHERE partner = $1 AND collection = $2`, partner, collection).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return fromTAXIIUS(v), nil
}

// SetPullState implements store.Store. The upsert is one statement, so
// nodes recording the same state at once do not collide.
func (db *DB) SetPullState(ctx context.Context, partner, collection string, addedAfter time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO taxii_pull_state (partner, collection, added_after) VALUES ($1, $2, $3)
		ON CONFLICT (partner, collection) DO UPDATE SET added_after = excluded.added_after`, partner, collection, taxiiUS(addedAfter))
	return err
}
