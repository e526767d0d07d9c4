package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// TAXII times are kept in microseconds: TAXII clients page with
// added_after, and microseconds are what the headers carry.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// CreatePartner implements store.Store.
func (db *DB) CreatePartner(ctx context.Context, p store.Partner, first store.PartnerToken) error {
	read, err := json.Marshal(nonNil(p.Read))
	if err != nil {
		return err
	}
	write, err := json.Marshal(nonNil(p.Write))
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO partners (id, name, read_collections, write_collections, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Name, string(read), string(write), ms(p.Created)); err != nil {
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	}
	if err := insertPartnerToken(ctx, tx, first); err != nil {
		return err
	}
	return tx.Commit()
}

func insertPartnerToken(ctx context.Context, tx *sql.Tx, t store.PartnerToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO partner_tokens (id, partner_id, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.PartnerID, t.Hash, ms(t.Created), ms(t.Expires), ms(t.Revoked))
	switch {
	case isUnique(err):
		return store.ErrConflict
	case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
		return store.ErrNotFound
	}
	return err
}

// Partner implements store.Store.
func (db *DB) Partner(ctx context.Context, idOrName string) (store.Partner, error) {
	row := db.read.QueryRowContext(ctx, `SELECT id, name, read_collections, write_collections, created_at FROM partners
		WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName)
	p, err := scanPartner(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Partner{}, store.ErrNotFound
	}
	return p, err
}

func scanPartner(scan func(...any) error) (store.Partner, error) {
	var p store.Partner
	var read, write string
	var created int64
	if err := scan(&p.ID, &p.Name, &read, &write, &created); err != nil {
		return p, err
	}
	p.Created = fromMS(created)
	if err := json.Unmarshal([]byte(read), &p.Read); err != nil {
		return p, fmt.Errorf("partner %s read collections: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(write), &p.Write); err != nil {
		return p, fmt.Errorf("partner %s write collections: %w", p.ID, err)
	}
	return p, nil
}

// Partners implements store.Store.
func (db *DB) Partners(ctx context.Context) ([]store.Partner, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, read_collections, write_collections, created_at FROM partners ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Partner
	for rows.Next() {
		p, err := scanPartner(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddPartnerToken implements store.Store.
func (db *DB) AddPartnerToken(ctx context.Context, t store.PartnerToken) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertPartnerToken(ctx, tx, t); err != nil {
		return err
	}
	return tx.Commit()
}

// PartnerToken implements store.Store.
func (db *DB) PartnerToken(ctx context.Context, id string) (store.PartnerToken, error) {
	var t store.PartnerToken
	var created, expires, revoked int64
	err := db.read.QueryRowContext(ctx, `SELECT id, partner_id, hash, created_at, expires_at, revoked_at FROM partner_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.PartnerID, &t.Hash, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	t.Created, t.Expires, t.Revoked = fromMS(created), fromMS(expires), fromMS(revoked)
	return t, err
}

// RevokePartnerTokens implements store.Store.
func (db *DB) RevokePartnerTokens(ctx context.Context, partnerID string, at time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE partner_tokens SET revoked_at = ? WHERE partner_id = ? AND revoked_at = 0`, ms(at), partnerID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AddTAXIIObjects implements store.Store.
func (db *DB) AddTAXIIObjects(ctx context.Context, collection string, objs []store.TAXIIObject, status store.TAXIIStatus) (store.TAXIIAdded, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return store.TAXIIAdded{}, err
	}
	defer tx.Rollback()
	added := us(status.Requested.Truncate(time.Microsecond))
	if added == 0 {
		added = us(time.Now())
	}
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(date_added) FROM taxii_objects WHERE collection = ?`, collection).Scan(&last); err != nil {
		return store.TAXIIAdded{}, err
	}
	if last.Valid && last.Int64 >= added {
		added = last.Int64 + 1
	}
	held, err := heldTAXIIObjects(ctx, tx, collection, objs)
	if err != nil {
		return store.TAXIIAdded{}, err
	}
	insert, refused := store.SortTAXIIObjects(objs, held)
	res := store.TAXIIAdded{DateAdded: fromUS(added), Refused: refused}
	if len(insert) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO taxii_objects (collection, id, version, type, spec_version, date_added, body, posted_by, poster_only)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return store.TAXIIAdded{}, err
		}
		defer stmt.Close()
		for _, o := range insert {
			if _, err := stmt.ExecContext(ctx, collection, o.ID, us(o.Version), o.Type, o.SpecVersion, added, o.Body, o.PostedBy, o.PosterOnly); err != nil {
				return store.TAXIIAdded{}, err
			}
		}
	}
	if status.ID != "" {
		body := status.Body
		if status.Render != nil {
			if body, err = status.Render(res); err != nil {
				return store.TAXIIAdded{}, err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO taxii_status (id, partner_id, created_at, body) VALUES (?, ?, ?, ?)`,
			status.ID, status.PartnerID, ms(status.Requested), body); err != nil {
			if isUnique(err) {
				return store.TAXIIAdded{}, store.ErrConflict
			}
			return store.TAXIIAdded{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return store.TAXIIAdded{}, err
	}
	return res, nil
}

// heldTAXIIObjects reads what a collection holds of the ids of objs, for
// store.SortTAXIIObjects. The write transaction (BEGIN IMMEDIATE, one
// connection) keeps it true until commit.
func heldTAXIIObjects(ctx context.Context, tx *sql.Tx, collection string, objs []store.TAXIIObject) (store.TAXIIStored, error) {
	held := store.TAXIIStored{Creators: map[string]string{}, Bodies: map[store.TAXIIVersion][]byte{}}
	if len(objs) == 0 {
		return held, nil
	}
	creator, err := tx.PrepareContext(ctx, `SELECT posted_by FROM taxii_objects WHERE collection = ? AND id = ? ORDER BY date_added, version LIMIT 1`)
	if err != nil {
		return held, err
	}
	defer creator.Close()
	body, err := tx.PrepareContext(ctx, `SELECT body FROM taxii_objects WHERE collection = ? AND id = ? AND version = ?`)
	if err != nil {
		return held, err
	}
	defer body.Close()
	seen := map[string]bool{}
	for _, o := range objs {
		if !seen[o.ID] {
			seen[o.ID] = true
			var by string
			switch err := creator.QueryRowContext(ctx, collection, o.ID).Scan(&by); {
			case errors.Is(err, sql.ErrNoRows):
				continue // a new id: none of its versions is stored either
			case err != nil:
				return held, err
			}
			held.Creators[o.ID] = by
		}
		if _, ok := held.Creators[o.ID]; !ok {
			continue
		}
		var b []byte
		switch err := body.QueryRowContext(ctx, collection, o.ID, us(o.Version)).Scan(&b); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return held, err
		default:
			held.Bodies[o.VersionOf()] = b
		}
	}
	return held, nil
}

// TAXIIObjects implements store.Store.
func (db *DB) TAXIIObjects(ctx context.Context, q store.TAXIIQuery) ([]store.TAXIIObject, bool, error) {
	var where []string
	args := []any{q.Collection}
	where = append(where, "o.collection = ?")
	// visible is the condition on table alias t that an object version is
	// one q.Reader may see; its argument is q.Reader, once per use.
	visible := func(t string) string {
		if q.Reader == "" {
			return "1"
		}
		args = append(args, q.Reader)
		return "(" + t + ".poster_only = 0 OR " + t + ".posted_by = ?)"
	}
	where = append(where, visible("o"))
	if !q.AddedAfter.IsZero() {
		where = append(where, "o.date_added > ?")
		args = append(args, us(q.AddedAfter))
	}
	if q.After != nil {
		where = append(where, "(o.date_added, o.id, o.version) > (?, ?, ?)")
		args = append(args, us(q.After.DateAdded), q.After.ID, us(q.After.Version))
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
		for _, v := range vals {
			args = append(args, v)
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
			vconds = append(vconds, "1")
		case "last":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM taxii_objects n WHERE n.collection = o.collection AND n.id = o.id AND n.version > o.version AND "+visible("n")+")")
		case "first":
			vconds = append(vconds, "NOT EXISTS (SELECT 1 FROM taxii_objects n WHERE n.collection = o.collection AND n.id = o.id AND n.version < o.version AND "+visible("n")+")")
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, false, fmt.Errorf("version %q: %w", v, err)
			}
			vconds = append(vconds, "o.version = ?")
			args = append(args, us(t))
		}
	}
	where = append(where, "("+strings.Join(vconds, " OR ")+")")
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit+1)
	rows, err := db.read.QueryContext(ctx, `SELECT o.id, o.version, o.type, o.spec_version, o.date_added, o.body, o.posted_by, o.poster_only FROM taxii_objects o
		WHERE `+strings.Join(where, " AND ")+` ORDER BY o.date_added, o.id, o.version LIMIT ?`, args...)
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
		o.Version, o.DateAdded = fromUS(version), fromUS(added)
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
	err := db.read.QueryRowContext(ctx, `SELECT id, partner_id, created_at, body FROM taxii_status WHERE id = ?`, id).
		Scan(&s.ID, &s.PartnerID, &created, &s.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return s, store.ErrNotFound
	}
	s.Requested = fromMS(created)
	return s, err
}

// PurgeTAXIIStatus implements store.Store.
func (db *DB) PurgeTAXIIStatus(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM taxii_status WHERE created_at < ?`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PullState implements store.Store.
func (db *DB) PullState(ctx context.Context, partner, collection string) (time.Time, error) {
	var v int64
	err := db.read.QueryRowContext(ctx, `SELECT added_after FROM taxii_pull_state WHERE partner = ? AND collection = ?`, partner, collection).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromUS(v), err
}

// SetPullState implements store.Store.
func (db *DB) SetPullState(ctx context.Context, partner, collection string, addedAfter time.Time) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO taxii_pull_state (partner, collection, added_after) VALUES (?, ?, ?)
		ON CONFLICT (partner, collection) DO UPDATE SET added_after = excluded.added_after`, partner, collection, us(addedAfter))
	return err
}
