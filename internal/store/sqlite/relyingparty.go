package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/healthgate/healthgate/internal/store"
)

// CreateRelyingParty implements store.Store.
func (db *DB) CreateRelyingParty(ctx context.Context, rp store.RelyingParty, first store.APIKey) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO relying_parties (id, name, created_at) VALUES (?, ?, ?)`,
		rp.ID, rp.Name, ms(rp.Created)); err != nil {
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	}
	if err := insertKey(ctx, tx, first); err != nil {
		return err
	}
	return tx.Commit()
}

func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY"))
}

func insertKey(ctx context.Context, tx *sql.Tx, k store.APIKey) error {
	scopes, err := json.Marshal(nonNil(k.Scopes))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, rp_id, hash, scopes, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.RPID, k.Hash, string(scopes), ms(k.Created), ms(k.Expires), ms(k.Revoked))
	switch {
	case isUnique(err):
		return store.ErrConflict
	case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
		return store.ErrNotFound
	}
	return err
}

// RelyingParty implements store.Store.
func (db *DB) RelyingParty(ctx context.Context, idOrName string) (store.RelyingParty, error) {
	var rp store.RelyingParty
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, name, created_at FROM relying_parties WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`,
		idOrName, idOrName, idOrName).Scan(&rp.ID, &rp.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return rp, store.ErrNotFound
	}
	rp.Created = fromMS(created)
	return rp, err
}

// RelyingParties implements store.Store.
func (db *DB) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, created_at FROM relying_parties ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RelyingParty
	for rows.Next() {
		var rp store.RelyingParty
		var created int64
		if err := rows.Scan(&rp.ID, &rp.Name, &created); err != nil {
			return nil, err
		}
		rp.Created = fromMS(created)
		out = append(out, rp)
	}
	return out, rows.Err()
}

// AddAPIKey implements store.Store.
func (db *DB) AddAPIKey(ctx context.Context, k store.APIKey, graceUntil time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if !graceUntil.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ? WHERE rp_id = ? AND revoked_at = 0 AND expires_at > ?`,
			ms(graceUntil), k.RPID, ms(graceUntil)); err != nil {
			return err
		}
	}
	if err := insertKey(ctx, tx, k); err != nil {
		return err
	}
	return tx.Commit()
}

const keyColumns = `id, rp_id, hash, scopes, created_at, expires_at, revoked_at`

func scanKey(sc interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var scopes string
	var created, expires, revoked int64
	if err := sc.Scan(&k.ID, &k.RPID, &k.Hash, &scopes, &created, &expires, &revoked); err != nil {
		return k, err
	}
	k.Created, k.Expires, k.Revoked = fromMS(created), fromMS(expires), fromMS(revoked)
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return k, fmt.Errorf("api key %s scopes: %w", k.ID, err)
	}
	return k, nil
}

// APIKey implements store.Store.
func (db *DB) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanKey(db.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, err
}

// APIKeys implements store.Store.
func (db *DB) APIKeys(ctx context.Context, rpID string) ([]store.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE ? = '' OR rp_id = ? ORDER BY created_at, id`, rpID, rpID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements store.Store.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	return db.execOne(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(at), id)
}

// RevokeRelyingPartyKeys implements store.Store.
func (db *DB) RevokeRelyingPartyKeys(ctx context.Context, rpID string, at time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE rp_id = ? AND revoked_at = 0`, ms(at), rpID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// decisionStmts holds, per open database, the statements RecordDecisions
// runs, prepared once on the writer connection: preparing them per batch
// cost about 7% of a decision. They live here, keyed weakly by the DB, so
// that this file owns them; Close closes them (and a DB collected without
// Close has them closed then).
var decisionStmts sync.Map // weak.Pointer[DB] -> *rpStmts

// decisionChunks are the row counts of the multi-row INSERT statements
// RecordDecisions splits a batch into, largest first and ending in 1: a
// batch of n takes n/32 statements and one per bit set in n%32. An Exec
// costs about 1.5 µs beyond its rows: in batches of 32, one statement
// instead of 32 took a decision from about 11.9 µs to 10.3
// (BenchmarkRecordDecisions). A 64-row statement was no faster within
// the benchmark's noise.
var decisionChunks = [...]int{32, 16, 8, 4, 2, 1}

// decisionInsertColumns are the columns RecordDecisions writes and
// decisionInsertArgs their number: the arguments of one row.
const (
	decisionInsertColumns = `id, rp_id, created_at, event, account, device_id, amount, amount_value, currency, channel, payee,
	merchant_host, ip_net, outcome, reasons, signals`
	decisionInsertArgs = 16
)

type rpStmts struct {
	insert [len(decisionChunks)]*sql.Stmt // insert[i] inserts decisionChunks[i] rows
	seen   *sql.Stmt
}

func (st *rpStmts) close() {
	for _, s := range st.insert {
		if s != nil {
			s.Close()
		}
	}
	if st.seen != nil {
		st.seen.Close()
	}
}

func (db *DB) decisionStatements(ctx context.Context) (*rpStmts, error) {
	key := weak.Make(db)
	if v, ok := decisionStmts.Load(key); ok {
		return v.(*rpStmts), nil
	}
	st := &rpStmts{}
	row := "(?" + strings.Repeat(", ?", decisionInsertArgs-1) + ")"
	for i, n := range decisionChunks {
		q := `INSERT INTO decisions (` + decisionInsertColumns + `) VALUES ` + row + strings.Repeat(", "+row, n-1)
		s, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			st.close()
			return nil, err
		}
		st.insert[i] = s
	}
	seen, err := db.write.PrepareContext(ctx, `INSERT INTO account_devices (rp_id, device_id, account, first_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (rp_id, device_id, account) DO NOTHING`)
	if err != nil {
		st.close()
		return nil, err
	}
	st.seen = seen
	if v, loaded := decisionStmts.LoadOrStore(key, st); loaded {
		st.close()
		return v.(*rpStmts), nil
	}
	runtime.AddCleanup(db, func(key weak.Pointer[DB]) {
		if v, ok := decisionStmts.LoadAndDelete(key); ok {
			v.(*rpStmts).close()
		}
	}, key)
	return st, nil
}

// RecordDecisions implements store.Store. The caller batches: one
// transaction holds every decision given. The decisions are inserted in
// order, in chunks of decisionChunks rows, so rowids follow the batch.
func (db *DB) RecordDecisions(ctx context.Context, ds []store.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	// Before BeginTx: the writer pool has one connection, which the
	// transaction holds.
	stmts, err := db.decisionStatements(ctx)
	if err != nil {
		return err
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var ins [len(decisionChunks)]*sql.Stmt // bound to tx when first used
	args := make([]any, 0, decisionInsertArgs*min(len(ds), decisionChunks[0]))
	for rest := ds; len(rest) > 0; {
		i := 0
		for decisionChunks[i] > len(rest) {
			i++
		}
		chunk := rest[:decisionChunks[i]]
		rest = rest[len(chunk):]
		args = args[:0]
		for _, d := range chunk {
			reasons, err := json.Marshal(nonNil(d.Reasons))
			if err != nil {
				return err
			}
			signals := d.Signals
			if signals == nil {
				signals = []byte("{}")
			}
			args = append(args, d.ID, d.RPID, ms(d.Created), d.Event, d.Account, d.DeviceID, d.Amount, d.AmountValue,
				d.Currency, d.Channel, d.Payee, d.MerchantHost, d.IPNet, d.Outcome, string(reasons), signals)
		}
		if ins[i] == nil {
			ins[i] = tx.StmtContext(ctx, stmts.insert[i])
		}
		if _, err := ins[i].ExecContext(ctx, args...); err != nil {
			if isUnique(err) {
				return store.ErrConflict
			}
			return err
		}
	}
	// Then the pairs, one Exec each: only the first decision of a device
	// with an account brings one the caller does not know.
	var seen *sql.Stmt
	for _, d := range ds {
		if d.DeviceID == "" || d.Account == "" || d.PairKnown {
			continue
		}
		if seen == nil {
			seen = tx.StmtContext(ctx, stmts.seen)
		}
		if _, err := seen.ExecContext(ctx, d.RPID, d.DeviceID, d.Account, ms(d.Created)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

const decisionColumns = `id, rp_id, created_at, event, account, device_id, amount, amount_value, currency, channel, payee,
	merchant_host, ip_net, outcome, reasons, signals, feedback, feedback_at`

func scanDecision(sc interface{ Scan(...any) error }) (store.Decision, error) {
	var d store.Decision
	var created, feedbackAt int64
	var reasons string
	if err := sc.Scan(&d.ID, &d.RPID, &created, &d.Event, &d.Account, &d.DeviceID, &d.Amount, &d.AmountValue, &d.Currency,
		&d.Channel, &d.Payee, &d.MerchantHost, &d.IPNet, &d.Outcome, &reasons, &d.Signals, &d.Feedback, &feedbackAt); err != nil {
		return d, err
	}
	d.Created, d.FeedbackAt = fromMS(created), fromMS(feedbackAt)
	if err := json.Unmarshal([]byte(reasons), &d.Reasons); err != nil {
		return d, fmt.Errorf("decision %s reasons: %w", d.ID, err)
	}
	return d, nil
}

// Decision implements store.Store.
func (db *DB) Decision(ctx context.Context, rpID, id string) (store.Decision, error) {
	d, err := scanDecision(db.read.QueryRowContext(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE id = ? AND rp_id = ?`, id, rpID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Decision{}, store.ErrNotFound
	}
	return d, err
}

// RecordFeedback implements store.Store.
func (db *DB) RecordFeedback(ctx context.Context, rpID, id, outcome string, at time.Time) error {
	return db.execOne(ctx, `UPDATE decisions SET feedback = ?, feedback_at = ? WHERE id = ? AND rp_id = ?`, outcome, ms(at), id, rpID)
}

// DecisionsSince implements store.Store.
func (db *DB) DecisionsSince(ctx context.Context, t time.Time, fn func(store.Decision) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE created_at >= ? ORDER BY created_at, rowid`, ms(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDecision(rows)
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeviceAccounts implements store.Store.
func (db *DB) DeviceAccounts(ctx context.Context, rpID, deviceID, account string) (bool, int, error) {
	var n int
	var seen sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT count(*), max(account = ?) FROM account_devices WHERE rp_id = ? AND device_id = ?`,
		account, rpID, deviceID).Scan(&n, &seen)
	return seen.Valid && seen.Int64 == 1, n, err
}

// DeviceAccountList implements store.Store.
func (db *DB) DeviceAccountList(ctx context.Context, rpID, deviceID string, limit int) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT account FROM account_devices WHERE rp_id = ? AND device_id = ? LIMIT ?`, rpID, deviceID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// UseProof implements store.Store.
func (db *DB) UseProof(ctx context.Context, sum [32]byte, expires time.Time) error {
	res, err := db.write.ExecContext(ctx, `INSERT INTO used_proofs (sum, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, sum[:], ms(expires))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrProofReplayed
	}
	return nil
}

// PurgeProofs implements store.Store.
func (db *DB) PurgeProofs(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM used_proofs WHERE expires_at < ?`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
