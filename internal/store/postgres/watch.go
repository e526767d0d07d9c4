package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthgate/healthgate/internal/store"
)

// Nodes learn of each other's decisions through LISTEN/NOTIFY:
// RecordDecisions adds pg_notify calls to its batch, and PostgreSQL
// delivers a transaction's notifications to every listening session when,
// and only if, it commits. A watcher first reads what was committed before
// it listened from the decisions table, and does so again after a lost
// connection; the ids of what it delivered in the last stretch keep the
// two paths from delivering a decision twice. Announce uses the same
// channel for what is not stored.

// peerChannel is the channel nodes announce on.
const peerChannel = "healthgate_peers"

// maxNotifyPayload keeps each announcement under PostgreSQL's limit of
// 8000 bytes per notification payload.
const maxNotifyPayload = 7000

// announcedDecision is what a node announces of each decision: what
// velocity windows and account sets need, all of it already keyed hashes
// or service-made ids.
type announcedDecision struct {
	ID      string  `json:"id"`
	RPID    string  `json:"rp"`
	At      int64   `json:"at"` // Unix ms
	Event   string  `json:"e"`
	Account string  `json:"a"`
	Device  string  `json:"d,omitempty"`
	Amount  float64 `json:"v"`
}

// announcement is one notification's payload: decisions, or something
// else of a kind.
type announcement struct {
	Node      string              `json:"node"`
	Decisions []announcedDecision `json:"ds,omitempty"`
	Kind      string              `json:"kind,omitempty"`
	Body      json.RawMessage     `json:"body,omitempty"`
}

// Announce implements store.Peers.
func (db *DB) Announce(ctx context.Context, kind string, body []byte) error {
	if kind == "" || !json.Valid(body) {
		return fmt.Errorf("announce: want a kind and a JSON body")
	}
	payload, err := json.Marshal(announcement{Node: db.node, Kind: kind, Body: body})
	if err != nil {
		return err
	}
	if len(payload) > maxNotifyPayload {
		return fmt.Errorf("announce %s: %d bytes, more than %d", kind, len(payload), maxNotifyPayload)
	}
	_, err = db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, peerChannel, string(payload))
	return err
}

func (a announcedDecision) decision() store.Decision {
	return store.Decision{ID: a.ID, RPID: a.RPID, Created: fromMS(a.At), Event: a.Event, Account: a.Account,
		DeviceID: a.Device, AmountValue: a.Amount}
}

// queueNotifications adds to b the announcements of ds, as few as fit.
func (db *DB) queueNotifications(b *pgx.Batch, ds []store.Decision) error {
	head := `{"node":"` + db.node + `","ds":[`
	buf := []byte(head)
	n := 0
	flush := func() {
		if n > 0 {
			b.Queue(`SELECT pg_notify($1, $2)`, peerChannel, string(append(buf, "]}"...)))
		}
		buf, n = buf[:len(head)], 0
	}
	for _, d := range ds {
		rec, err := json.Marshal(announcedDecision{ID: d.ID, RPID: d.RPID, At: ms(d.Created), Event: d.Event,
			Account: d.Account, Device: d.DeviceID, Amount: d.AmountValue})
		if err != nil {
			return err
		}
		if len(head)+len(rec)+2 > maxNotifyPayload {
			return fmt.Errorf("decision %s is too large to announce to other nodes (%d bytes)", d.ID, len(rec))
		}
		if n > 0 && len(buf)+1+len(rec)+2 > maxNotifyPayload {
			flush()
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, rec...)
		n++
	}
	flush()
	return nil
}

// Reconnection delays of a watcher whose connection failed.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// WatchPeers implements store.Peers.
func (db *DB) WatchPeers(ctx context.Context, since time.Time, known map[string]time.Time, h store.PeerHandlers) error {
	w := &watcher{db: db, h: h, seen: make(map[string]time.Time, len(known)), own: `{"node":"` + db.node + `"`}
	for id, at := range known {
		w.seen[id] = at
	}
	from := since
	for delay := watchRetryMin; ; {
		caughtUp, err := w.watch(ctx, from)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if h.Lost != nil {
			h.Lost(err)
		}
		if caughtUp.After(from) { // it was connected: start again quickly
			from, delay = caughtUp, watchRetryMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, watchRetryMax)
	}
}

type watcher struct {
	db  *DB
	h   store.PeerHandlers
	own string // how this node's own announcements begin
	// seen holds the decisions delivered (or known to the caller) that
	// were made in the last 2·WatchMargin before the watcher was last
	// caught up: a catch-up reads back WatchMargin from then.
	seen map[string]time.Time
}

// watch listens on one connection until it fails or ctx ends. It returns
// the last time at which every decision committed before it had been
// delivered (from when nothing was).
func (w *watcher) watch(ctx context.Context, from time.Time) (time.Time, error) {
	cfg := w.db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "healthgate-watch-" + w.db.node
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return from, fmt.Errorf("watching other nodes' decisions: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+peerChannel); err != nil {
		return from, fmt.Errorf("watching other nodes' decisions: %w", err)
	}
	// Whatever commits from now on is announced to this connection; what
	// committed before is in the table.
	listening := time.Now()
	rows, err := conn.Query(ctx, `SELECT id, rp_id, created_at, event, account, device_id, amount_value FROM decisions
		WHERE created_at >= $1 AND node <> $2 ORDER BY created_at, seq`, ms(from.Add(-store.WatchMargin)), w.db.node)
	if err != nil {
		return from, fmt.Errorf("catching up on other nodes' decisions: %w", err)
	}
	var d store.Decision
	var at int64
	_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.RPID, &at, &d.Event, &d.Account, &d.DeviceID, &d.AmountValue}, func() error {
		d.Created = fromMS(at)
		w.deliver(d)
		return nil
	})
	if err != nil {
		return from, fmt.Errorf("catching up on other nodes' decisions: %w", err)
	}
	if w.h.Watching != nil {
		w.h.Watching()
	}
	// While the connection answers, everything committed until a moment
	// ago has been announced to it; the catch-up after a failure reads
	// back WatchMargin from the last such moment, which covers what was
	// still on its way.
	caughtUp, forgot := listening, listening
	for {
		// Wake now and then to note that the connection is alive.
		wctx, cancel := context.WithTimeout(ctx, store.WatchMargin/2)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return caughtUp, ctx.Err()
		case err != nil && !pgconn.Timeout(err):
			return caughtUp, fmt.Errorf("watching other nodes' decisions: %w", err)
		}
		if caughtUp = time.Now(); caughtUp.Sub(forgot) >= time.Second {
			w.forget(caughtUp)
			forgot = caughtUp
		}
		if err != nil { // a timeout: nothing was announced
			continue
		}
		if strings.HasPrefix(n.Payload, w.own) {
			continue // this node's own announcements, not worth decoding
		}
		var a announcement
		if err := json.Unmarshal([]byte(n.Payload), &a); err != nil {
			// Not from a Healthgate node of this version: nothing to deliver.
			continue
		}
		if a.Node == w.db.node {
			continue
		}
		for _, ad := range a.Decisions {
			w.deliver(ad.decision())
		}
		if a.Kind != "" && w.h.Announcement != nil {
			w.h.Announcement(a.Kind, a.Body)
		}
	}
}

// deliver passes d on unless it was delivered before.
func (w *watcher) deliver(d store.Decision) {
	if _, dup := w.seen[d.ID]; dup {
		return
	}
	w.seen[d.ID] = d.Created
	if w.h.Decision != nil {
		w.h.Decision(d)
	}
}

// forget drops the ids no catch-up from caughtUp on would read again.
func (w *watcher) forget(caughtUp time.Time) {
	cut := caughtUp.Add(-2 * store.WatchMargin)
	for id, at := range w.seen {
		if at.Before(cut) {
			delete(w.seen, id)
		}
	}
}

var _ store.Peers = (*DB)(nil)
