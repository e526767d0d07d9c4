// Package store defines Healthgate's persistent state as a domain-shaped
// interface: devices, reports, signing keys and service secrets. Backends
// live in subpackages (sqlite, and later postgres) and all pass the one
// conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions.
var (
	ErrNotFound      = errors.New("not found")
	ErrNonceReplayed = errors.New("nonce already used")
	ErrProofReplayed = errors.New("proof of possession already used")
	ErrConflict      = errors.New("already exists")
)

// Store is everything the server persists. Each domain has its own
// interface, in its own file; backends implement them all.
type Store interface {
	RelyingPartyStore // relyingparty.go: relying parties, API keys, decisions
	IntelStore        // intel.go: indicators, sightings, feed
	PartnerStore      // partner.go: partner organisations, TAXII objects
	SurveillanceStore // surveillance.go: daily sighting aggregates, outbreak alerts
	TPMStore          // tpm.go: attestation keys of hardware-bound devices

	// EnrollDevice records a device and its public key. Enrolling the same
	// id again returns the stored device and created=false.
	EnrollDevice(ctx context.Context, d Device) (stored Device, created bool, err error)
	// Device returns the device with the given id or ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)

	// RecordReport stores an appraised report and consumes its nonce in one
	// transaction. A nonce that was already consumed gives ErrNonceReplayed
	// and stores nothing.
	RecordReport(ctx context.Context, r Report) error
	// LatestReport returns the newest report of a device or ErrNotFound.
	LatestReport(ctx context.Context, deviceID string) (Report, error)
	// SessionReport returns the report made for a checkout session or
	// ErrNotFound.
	SessionReport(ctx context.Context, session string) (Report, error)
	// PurgeNonces forgets consumed nonces that expired before t; they can no
	// longer be replayed because they no longer verify.
	PurgeNonces(ctx context.Context, before time.Time) (int64, error)

	// SigningKeys returns every certificate signing key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores a new signing key.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// RetireSigningKey marks a key as no longer used for signing.
	RetireSigningKey(ctx context.Context, kid string, at time.Time) error
	// DeleteSigningKey removes a retired key once no certificate it signed
	// can still be valid.
	DeleteSigningKey(ctx context.Context, kid string) error

	// Secret returns the named service secret, creating it with create()
	// the first time. Concurrent callers all get the same value.
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)

	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	Close() error
}

// Device is an enrolled device.
type Device struct {
	ID string
	// PublicKey is the device's public key as a JWK (JSON).
	PublicKey []byte
	// JKT is the RFC 7638 SHA-256 thumbprint of PublicKey, base64url.
	JKT string
	// Hardware is true when the key is bound to a TPM or similar.
	Hardware   bool
	EnrolledAt time.Time
}

// Report is one appraised evidence submission.
type Report struct {
	ID        string
	DeviceID  string
	Nonce     string
	NonceExp  time.Time // when the nonce stops verifying
	Received  time.Time
	Platform  string
	Tier      string
	Score     int
	Findings  []string // codes
	PolicyID  string
	CertID    string // jti of the certificate issued, if any
	CertExp   time.Time
	SWVersion string
	// Session is the checkout session the report was made for, if any;
	// at most one report per session.
	Session string
}

// SigningKey is a certificate signing key. Private holds the key in PKCS #8
// DER form.
type SigningKey struct {
	KID       string
	Algorithm string
	Private   []byte
	Created   time.Time
	Retired   time.Time // zero while the key is active
}
