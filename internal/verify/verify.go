// Package verify checks device evidence: the signature against the enrolled
// key with the algorithm pinned by that key, the challenge nonce, the clock
// skew, the size, the claim schema and, for a device whose key is in a TPM,
// the TPM quote over the nonce. It always returns an Appraisal: a
// failure is a verdict with a reason code, never only an error.
package verify

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/token"
)

// Reason codes of failed verification. They are stable: clients and
// dashboards key on them.
const (
	ReasonOK            = "ok"
	ReasonTooLarge      = "evidence_too_large"
	ReasonMalformed     = "evidence_malformed"
	ReasonSchema        = "evidence_schema"
	ReasonAlgorithm     = "evidence_algorithm"
	ReasonUnknownDevice = "unknown_device"
	ReasonBadSignature  = "bad_signature"
	ReasonNonceUnknown  = "nonce_unknown"
	ReasonNonceExpired  = "nonce_expired"
	ReasonNonceReplayed = "nonce_replayed"
	ReasonClockSkew     = "clock_skew"
	ReasonInternal      = "internal_error"
)

// Appraisal is the outcome of verifying evidence. When Reason is not
// ReasonOK, Tier says how bad it is and Status is the HTTP status to answer
// with; Claims is nil.
type Appraisal struct {
	Reason  string
	Message string // safe to show to the client
	Tier    string // token.TierNone or token.TierContraindicated on failure
	Status  int
	Err     error // internal cause, for logs only

	Claims    *evidence.Claims
	Device    store.Device
	PublicKey crypto.PublicKey
	NonceExp  time.Time
	// TPM is what the report's verified TPM quote established; nil when
	// the report is not bound to a quote (no attestation key is stored
	// for the device).
	TPM *TPMState
}

// OK reports whether the evidence verified.
func (a *Appraisal) OK() bool { return a.Reason == ReasonOK }

// QuoteBound reports whether the report is bound to a TPM quote that
// verified with the device's attestation key (tpm.go).
func (a *Appraisal) QuoteBound() bool { return a.TPM != nil }

// Devices finds enrolled devices.
type Devices interface {
	Device(ctx context.Context, id string) (store.Device, error)
}

// DefaultMaxSkew bounds how far a report's iat may be from the server clock.
const DefaultMaxSkew = 5 * time.Minute

// Verifier checks evidence. It is safe for concurrent use.
type Verifier struct {
	Devices Devices
	// AKs holds the attestation keys of hardware-bound devices, whose
	// reports must carry a TPM quote (tpm.go).
	AKs     AKs
	Nonces  *Nonces
	Now     func() time.Time
	MaxSkew time.Duration
}

func fail(reason, msg, tier string, status int, err error) Appraisal {
	return Appraisal{Reason: reason, Message: msg, Tier: tier, Status: status, Err: err}
}

// Verify appraises one evidence token.
func (v *Verifier) Verify(ctx context.Context, tok []byte) Appraisal {
	if len(tok) > evidence.MaxSize {
		return fail(ReasonTooLarge, "evidence is larger than the limit", token.TierNone, http.StatusRequestEntityTooLarge, nil)
	}
	var dev store.Device
	claims, pub, err := evidence.VerifyLookup(tok, func(ueid string) (crypto.PublicKey, error) {
		d, err := v.Devices.Device(ctx, ueid)
		if err != nil {
			return nil, err
		}
		var jwk devicekey.JWK
		if err := json.Unmarshal(d.PublicKey, &jwk); err != nil {
			return nil, errStoredKey{err}
		}
		pub, err := jwk.PublicKey()
		if err != nil {
			return nil, errStoredKey{err}
		}
		dev = d
		return pub, nil
	})
	var badKey errStoredKey
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		return fail(ReasonUnknownDevice, "device is not enrolled", token.TierNone, http.StatusNotFound, nil)
	case errors.As(err, &badKey):
		return fail(ReasonInternal, "stored device key is unreadable", token.TierNone, http.StatusInternalServerError, err)
	case errors.Is(err, evidence.ErrBadSignature):
		// Someone presented evidence for this device that its key did not
		// sign: the report proves nothing and may be an attack.
		return fail(ReasonBadSignature, "evidence signature does not match the enrolled device key",
			token.TierContraindicated, http.StatusUnauthorized, err)
	case errors.Is(err, evidence.ErrTooLarge), errors.Is(err, evidence.ErrAlgorithm),
		errors.Is(err, evidence.ErrSchema), errors.Is(err, evidence.ErrMalformed):
		return parseFailure(err)
	default:
		return fail(ReasonInternal, "could not look up the device", token.TierNone, http.StatusServiceUnavailable, err)
	}
	nonceExp, err := v.Nonces.Check(claims.UEID, claims.Nonce)
	switch {
	case errors.Is(err, ErrNonceExpired):
		return fail(ReasonNonceExpired, "challenge nonce has expired: ask for a new one", token.TierNone, http.StatusUnauthorized, nil)
	case err != nil:
		return fail(ReasonNonceUnknown, "challenge nonce was not issued to this device", token.TierNone, http.StatusUnauthorized, nil)
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	if d := time.Unix(claims.IssuedAt, 0).Sub(v.Now()); d > skew || d < -skew {
		return fail(ReasonClockSkew, "report time (iat) is too far from the server clock: check the device clock",
			token.TierNone, http.StatusBadRequest, nil)
	}
	var tpm *TPMState
	if dev.Hardware {
		var refused *Appraisal
		if tpm, refused = v.checkQuote(ctx, dev, claims); refused != nil {
			return *refused
		}
	}
	return Appraisal{Reason: ReasonOK, Status: http.StatusOK, Claims: claims, Device: dev, PublicKey: pub, NonceExp: nonceExp, TPM: tpm}
}

// errStoredKey marks a device key in the store that does not parse.
type errStoredKey struct{ err error }

func (e errStoredKey) Error() string { return "stored device key: " + e.err.Error() }
func (e errStoredKey) Unwrap() error { return e.err }

func parseFailure(err error) Appraisal {
	switch {
	case errors.Is(err, evidence.ErrTooLarge):
		return fail(ReasonTooLarge, "evidence is larger than the limit", token.TierNone, http.StatusRequestEntityTooLarge, err)
	case errors.Is(err, evidence.ErrAlgorithm):
		return fail(ReasonAlgorithm, "evidence algorithm is not allowed for this device key", token.TierNone, http.StatusBadRequest, err)
	case errors.Is(err, evidence.ErrSchema):
		return fail(ReasonSchema, err.Error(), token.TierNone, http.StatusBadRequest, err)
	default:
		return fail(ReasonMalformed, "evidence is not a valid compact JWS", token.TierNone, http.StatusBadRequest, err)
	}
}
