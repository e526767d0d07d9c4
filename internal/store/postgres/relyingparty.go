package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/healthgate/healthgate/internal/store"
)

// CreateRelyingParty implements store.Store.
func (db *DB) CreateRelyingParty(ctx context.Context, rp store.RelyingParty, first store.APIKey) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO relying_parties (id, name, created_at) VALUES ($1, $2, $3)`,
		rp.ID, rp.Name, ms(rp.Created)); err != nil {
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	}
	if err := insertKey(ctx, tx, first); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func insertKey(ctx context.Context, tx pgx.Tx, k store.APIKey) error {
	scopes, err := json.Marshal(nonNil(k.Scopes))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO api_keys (id, rp_id, hash, scopes, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.RPID, k.Hash, string(scopes), ms(k.Created), ms(k.Expires), ms(k.Revoked))
	switch {
	case isUnique(err):
		return store.ErrConflict
	case isForeignKey(err):
		return store.ErrNotFound
	}
	return err
}

// RelyingParty implements store.Store.
func (db *DB) RelyingParty(ctx context.Context, idOrName string) (store.RelyingParty, error) {
	var rp store.RelyingParty
	var created int64
	err := db.pool.QueryRow(ctx, `SELECT id, name, created_at FROM relying_parties WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`,
		idOrName).Scan(&rp.ID, &rp.Name, &created)
	if err != nil {
		return store.RelyingParty{}, notFound(err)
	}
	rp.Created = fromMS(created)
	return rp, nil
}

// RelyingParties implements store.Store. Names sort by their bytes, as
// in SQLite, whatever the database's collation.
func (db *DB) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, created_at FROM relying_parties ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (rp store.RelyingParty, err error) {
		var created int64
		err = r.Scan(&rp.ID, &rp.Name, &created)
		rp.Created = fromMS(created)
		return rp, err
	})
}

// AddAPIKey implements store.Store.
//
// The relying party's row is locked first (FOR NO KEY UPDATE, which
// leaves foreign-key checks alone) so that rotations of one relying party
// on several nodes run one after the other, as on SQLite's single writer.
// Without it two concurrent rotations would each miss the other's new
// key, which is inserted after their UPDATE took its snapshot, and both
// new keys would stay valid past the grace period.
func (db *DB) AddAPIKey(ctx context.Context, k store.APIKey, graceUntil time.Time) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var locked string
	if err := tx.QueryRow(ctx, `SELECT id FROM relying_parties WHERE id = $1 FOR NO KEY UPDATE`, k.RPID).Scan(&locked); err != nil {
		return notFound(err)
	}
	if !graceUntil.IsZero() {
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $1 WHERE rp_id = $2 AND revoked_at = 0 AND expires_at > $1`,
			ms(graceUntil), k.RPID); err != nil {
			return err
		}
	}
	if err := insertKey(ctx, tx, k); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

const keyColumns = `id, rp_id, hash, scopes, created_at, expires_at, revoked_at`

func scanKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var scopes string
	var created, expires, revoked int64
	if err := row.Scan(&k.ID, &k.RPID, &k.Hash, &scopes, &created, &expires, &revoked); err != nil {
		return store.APIKey{}, err
	}
	k.Created, k.Expires, k.Revoked = fromMS(created), fromMS(expires), fromMS(revoked)
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return store.APIKey{}, fmt.Errorf("api key %s scopes: %w", k.ID, err)
	}
	return k, nil
}

// APIKey implements store.Store.
func (db *DB) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	return k, notFound(err)
}

// APIKeys implements store.Store.
func (db *DB) APIKeys(ctx context.Context, rpID string) ([]store.APIKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE $1 = '' OR rp_id = $1 ORDER BY created_at, id COLLATE "C"`, rpID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIKey, error) { return scanKey(r) })
}

// RevokeAPIKey implements store.Store. Across nodes the row lock of the
// UPDATE decides: the second of two revocations waits for the first,
// then finds the key revoked and gets ErrNotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if !storable(id) {
		return store.ErrNotFound
	}
	return db.execOne(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0`, ms(at), id)
}

// RevokeRelyingPartyKeys implements store.Store.
func (db *DB) RevokeRelyingPartyKeys(ctx context.Context, rpID string, at time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE rp_id = $2 AND revoked_at = 0`, ms(at), rpID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// decisionChunks are the row counts of the multi-row INSERT statements
// RecordDecisions splits a batch into, largest first and ending in 1: a
// batch of n takes n/32 statements and one per bit set in n%32. A few
// fixed sizes keep pgx's per-connection statement cache small (each size
// is prepared once per connection) and stay far below PostgreSQL's 65535
// parameters a statement.
var decisionChunks = [...]int{32, 16, 8, 4, 2, 1}

// decisionInsertColumns are the columns RecordDecisions writes and
// decisionInsertArgs their number: the arguments of one row.
const (
	decisionInsertColumns = `id, rp_id, created_at, event, account, device_id, amount, amount_value, currency, channel, payee,
	merchant_host, ip_net, outcome, reasons, signals, node`
	decisionInsertArgs = 17
)

// decisionInserts[i] inserts decisionChunks[i] rows.
var decisionInserts = func() (qs [len(decisionChunks)]string) {
	for i, n := range decisionChunks {
		var b strings.Builder
		b.WriteString(`INSERT INTO decisions (` + decisionInsertColumns + `) VALUES `)
		for r := range n {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range decisionInsertArgs {
				if c > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(r*decisionInsertArgs + c + 1))
			}
			b.WriteByte(')')
		}
		qs[i] = b.String()
	}
	return qs
}()

// RecordDecisions implements store.Store.
//
// The whole batch is one pgx.Batch sent in one round trip (the server's
// batcher commits one batch at a time, so round trips bound its
// throughput). pgx sends it as one pipeline ending in a single Sync,
// which PostgreSQL runs as one implicit transaction: a duplicate id
// anywhere fails that statement, rolls back every one before it and
// skips the rest, so nothing of the batch is stored.
//
// The decisions are inserted in order, so seq (an identity column, drawn
// from a sequence that every node shares) follows the batch. The
// (device, account) pairs follow them, sorted: INSERT … ON CONFLICT DO
// NOTHING lets concurrent batches on several nodes record one pair once,
// and taking the pairs' index entries in one global order keeps two such
// batches from deadlocking on each other's pairs.
func (db *DB) RecordDecisions(ctx context.Context, ds []store.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for rest := ds; len(rest) > 0; {
		i := 0
		for decisionChunks[i] > len(rest) {
			i++
		}
		chunk := rest[:decisionChunks[i]]
		rest = rest[len(chunk):]
		args := make([]any, 0, decisionInsertArgs*len(chunk))
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
				d.Currency, d.Channel, d.Payee, d.MerchantHost, d.IPNet, d.Outcome, string(reasons), signals, db.node)
		}
		b.Queue(decisionInserts[i], args...)
	}
	for _, d := range newPairs(ds) {
		b.Queue(`INSERT INTO account_devices (rp_id, device_id, account, first_seen) VALUES ($1, $2, $3, $4)
			ON CONFLICT (rp_id, device_id, account) DO NOTHING`, d.RPID, d.DeviceID, d.Account, ms(d.Created))
	}
	if err := db.queueNotifications(b, ds); err != nil { // watch.go
		return err
	}
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		if isUnique(err) {
			return store.ErrConflict
		}
		return err
	}
	return nil
}

// newPairs returns, for each (relying party, device, account) pair that
// the decisions of ds bring and do not say is known, the first decision
// with it, sorted by pair.
func newPairs(ds []store.Decision) []store.Decision {
	var pairs []store.Decision
	for _, d := range ds {
		if d.DeviceID != "" && d.Account != "" && !d.PairKnown {
			pairs = append(pairs, d)
		}
	}
	byPair := func(a, b store.Decision) int {
		return cmp.Or(strings.Compare(a.RPID, b.RPID), strings.Compare(a.DeviceID, b.DeviceID), strings.Compare(a.Account, b.Account))
	}
	slices.SortStableFunc(pairs, byPair)
	return slices.CompactFunc(pairs, func(a, b store.Decision) bool { return byPair(a, b) == 0 })
}

const decisionColumns = `id, rp_id, created_at, event, account, device_id, amount, amount_value, currency, channel, payee,
	merchant_host, ip_net, outcome, reasons, signals, feedback, feedback_at`

func scanDecision(row pgx.Row) (store.Decision, error) {
	var d store.Decision
	var created, feedbackAt int64
	var reasons string
	if err := row.Scan(&d.ID, &d.RPID, &created, &d.Event, &d.Account, &d.DeviceID, &d.Amount, &d.AmountValue, &d.Currency,
		&d.Channel, &d.Payee, &d.MerchantHost, &d.IPNet, &d.Outcome, &reasons, &d.Signals, &d.Feedback, &feedbackAt); err != nil {
		return store.Decision{}, err
	}
	d.Created, d.FeedbackAt = fromMS(created), fromMS(feedbackAt)
	if err := json.Unmarshal([]byte(reasons), &d.Reasons); err != nil {
		return store.Decision{}, fmt.Errorf("decision %s reasons: %w", d.ID, err)
	}
	return d, nil
}

// Decision implements store.Store.
func (db *DB) Decision(ctx context.Context, rpID, id string) (store.Decision, error) {
	d, err := scanDecision(db.pool.QueryRow(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE id = $1 AND rp_id = $2`, id, rpID))
	return d, notFound(err)
}

// RecordFeedback implements store.Store.
func (db *DB) RecordFeedback(ctx context.Context, rpID, id, outcome string, at time.Time) error {
	if !storable(rpID, id) {
		return store.ErrNotFound
	}
	return db.execOne(ctx, `UPDATE decisions SET feedback = $1, feedback_at = $2 WHERE id = $3 AND rp_id = $4`, outcome, ms(at), id, rpID)
}

// DecisionsSince implements store.Store. Within one millisecond the
// decisions come in the order they were inserted (seq).
func (db *DB) DecisionsSince(ctx context.Context, t time.Time, fn func(store.Decision) error) error {
	rows, err := db.pool.Query(ctx, `SELECT `+decisionColumns+` FROM decisions WHERE created_at >= $1 ORDER BY created_at, seq`, ms(t))
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
	if !storable(rpID, deviceID) {
		return false, 0, nil
	}
	var a any = account
	if !storable(account) {
		a = nil // = NULL: not seen with it, and the others still count
	}
	var n int
	var seen bool
	err := db.pool.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(account = $1), false) FROM account_devices WHERE rp_id = $2 AND device_id = $3`,
		a, rpID, deviceID).Scan(&n, &seen)
	if err != nil {
		return false, 0, err
	}
	return seen, n, nil
}

// DeviceAccountList implements store.Store. A negative limit, which
// SQLite takes as none, is none here too.
func (db *DB) DeviceAccountList(ctx context.Context, rpID, deviceID string, limit int) ([]string, error) {
	if !storable(rpID, deviceID) {
		return nil, nil
	}
	var lim *int
	if limit >= 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, `SELECT account FROM account_devices WHERE rp_id = $1 AND device_id = $2 LIMIT $3`, rpID, deviceID, lim)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// UseProof implements store.Store. Two nodes inserting one proof at once:
// the second waits for the first's row and then inserts nothing.
func (db *DB) UseProof(ctx context.Context, sum [32]byte, expires time.Time) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO used_proofs (sum, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sum[:], ms(expires))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrProofReplayed
	}
	return nil
}

// PurgeProofs implements store.Store.
func (db *DB) PurgeProofs(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM used_proofs WHERE expires_at < $1`, ms(before))
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
