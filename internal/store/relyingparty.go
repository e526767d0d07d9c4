package store

import (
	"context"
	"time"
)

// RelyingPartyStore persists relying parties (payment platforms), their API
// keys and the transaction decisions made for them.
type RelyingPartyStore interface {
	// CreateRelyingParty stores a relying party and its first API key in
	// one transaction. A name already taken gives ErrConflict.
	CreateRelyingParty(ctx context.Context, rp RelyingParty, first APIKey) error
	// RelyingParty returns the relying party with the given id or name, or
	// ErrNotFound.
	RelyingParty(ctx context.Context, idOrName string) (RelyingParty, error)
	// RelyingParties lists every relying party, by name.
	RelyingParties(ctx context.Context) ([]RelyingParty, error)

	// AddAPIKey stores a new key for an existing relying party. Every other
	// key of that party that is still valid at graceUntil is cut short to
	// expire then (rotation); a zero graceUntil leaves them alone.
	AddAPIKey(ctx context.Context, k APIKey, graceUntil time.Time) error
	// APIKey returns the key with the given id, or ErrNotFound.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// APIKeys lists the keys of one relying party (every key when rpID is
	// empty), oldest first.
	APIKeys(ctx context.Context, rpID string) ([]APIKey, error)
	// RevokeAPIKey revokes one key; ErrNotFound when there is no such key
	// or it is already revoked.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// RevokeRelyingPartyKeys revokes every unrevoked key of a relying party
	// and returns how many.
	RevokeRelyingPartyKeys(ctx context.Context, rpID string, at time.Time) (int64, error)

	// RecordDecisions stores decisions in one transaction and records, for
	// each one with a device, that the device was seen with the account
	// (unless the decision says the pair is known).
	// A duplicate decision id fails the whole batch with ErrConflict.
	RecordDecisions(ctx context.Context, ds []Decision) error
	// Decision returns a decision made for the relying party rpID, or
	// ErrNotFound (also when it belongs to another relying party).
	Decision(ctx context.Context, rpID, id string) (Decision, error)
	// RecordFeedback records what became of a decided transaction.
	// ErrNotFound when rpID made no such decision.
	RecordFeedback(ctx context.Context, rpID, id, outcome string, at time.Time) error
	// DecisionsSince calls fn for every decision made at or after t, oldest
	// first (to rebuild in-memory velocity windows after a restart).
	DecisionsSince(ctx context.Context, t time.Time, fn func(Decision) error) error
	// DeviceAccounts says whether a device was seen with an account of a
	// relying party before, and with how many accounts of that party in
	// all.
	DeviceAccounts(ctx context.Context, rpID, deviceID, account string) (seen bool, accounts int, err error)
	// DeviceAccountList returns up to limit accounts of a relying party
	// seen with a device, in no particular order.
	DeviceAccountList(ctx context.Context, rpID, deviceID string, limit int) ([]string, error)

	// UseProof consumes a proof of possession, named by its SHA-256, so
	// that it buys one decision only, whichever node of a cluster it is
	// shown to and across restarts. A proof consumed before gives
	// ErrProofReplayed. expires is when the proof stops verifying anyway;
	// until then it is kept.
	UseProof(ctx context.Context, sum [32]byte, expires time.Time) error
	// PurgeProofs forgets consumed proofs that expired before t.
	PurgeProofs(ctx context.Context, before time.Time) (int64, error)
}

// Peers is implemented by a store several server nodes share
// (PostgreSQL), so that each node's in-memory signals also count what the
// others see: their decisions (velocity windows, account sets) and their
// announcements (enrolment networks, virtual machines).
type Peers interface {
	// WatchPeers calls h.Decision, from one goroutine, once for each
	// decision that another store handle (another node) has committed or
	// commits, made at or after since - WatchMargin, except those named
	// in known (by id, with when they were made): a node passes the recent
	// ones it loaded itself. A decision passed on carries only ID, RPID,
	// Created, Event, Account, DeviceID and AmountValue. It calls
	// h.Announcement, from the same goroutine, with what other nodes
	// Announce while it watches (announcements are not stored: a node
	// misses those made while it is not connected). It keeps watching
	// across lost connections, catching up on the decisions committed
	// meanwhile and telling h.Lost (if set) each time, and returns when
	// ctx ends.
	WatchPeers(ctx context.Context, since time.Time, known map[string]time.Time, h PeerHandlers) error
	// Announce sends a small message (at most a few kilobytes) to the
	// other nodes' watchers.
	Announce(ctx context.Context, kind string, body []byte) error
}

// PeerHandlers are what WatchPeers calls; any may be nil.
type PeerHandlers struct {
	Decision     func(Decision)
	Announcement func(kind string, body []byte)
	// Watching is called each time the watch is listening and has caught
	// up; Lost each time it fails, before it starts again.
	Watching func()
	Lost     func(error)
}

// WatchMargin is how far a watcher reads back when it catches up: it
// covers decisions committed some time after they were made (a batch's
// wait, a notification on its way) and the clocks of nodes that disagree
// by less than this.
const WatchMargin = 10 * time.Second

// API key scopes.
const (
	ScopeDecisions = "decisions"
	ScopeFeed      = "feed"
	ScopeAdmin     = "admin"
)

// Scopes lists every API key scope.
var Scopes = []string{ScopeDecisions, ScopeFeed, ScopeAdmin}

// RelyingParty is a payment platform, merchant or bank that asks for
// decisions.
type RelyingParty struct {
	ID      string
	Name    string
	Created time.Time
}

// APIKey is a relying party's credential. Only a hash of the secret part is
// stored; the key itself is shown once when it is made.
type APIKey struct {
	ID      string // public key id, also embedded in the key
	RPID    string
	Hash    []byte // SHA-256 of the secret
	Scopes  []string
	Created time.Time
	Expires time.Time
	Revoked time.Time // zero while not revoked
}

// ValidAt reports whether the key is neither expired nor revoked at t.
func (k APIKey) ValidAt(t time.Time) bool {
	return k.Revoked.IsZero() && t.Before(k.Expires)
}

// Decision is one transaction decision. Account, Payee and IPNet hold keyed
// hashes, never the raw values.
type Decision struct {
	ID           string
	RPID         string
	Created      time.Time
	Event        string // login, payment, register
	Account      string // keyed hash of the relying party's account id
	DeviceID     string // from the certificate; empty without one
	Amount       string // decimal, as sent
	AmountValue  float64
	Currency     string
	Channel      string
	Payee        string // keyed hash
	MerchantHost string // host of merchant_url
	IPNet        string // keyed hash of the /24 (IPv4) or /48 (IPv6) network
	Outcome      string
	Reasons      []string
	Signals      []byte // JSON, as answered
	Feedback     string // legitimate, fraud, chargeback; empty until told
	FeedbackAt   time.Time
	// PairKnown tells RecordDecisions that the store already holds the
	// (RPID, DeviceID, Account) pair, so it need not be written again. Not
	// stored.
	PairKnown bool
}
