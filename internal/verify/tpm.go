package verify

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/token"
)

// Reason codes of the TPM quote check (docs/TPM.md).
const (
	ReasonQuoteMissing       = "tpm_quote_missing"
	ReasonQuoteInvalid       = "tpm_quote_invalid"
	ReasonSecureBootMismatch = "tpm_secure_boot_mismatch"
)

// AKs finds the TPM attestation keys (AKs) of hardware-bound devices.
type AKs interface {
	// DeviceAK returns a device's AK (TPMT_PUBLIC), or store.ErrNotFound
	// when none is stored.
	DeviceAK(ctx context.Context, deviceID string) ([]byte, error)
}

// A quote covers every PCR of the SHA-256 bank. The firmware event log is
// replayed against PCRs 0–7 only: the firmware's own measurements (7 holds
// Secure Boot's), which nothing extends once the OS runs, whereas boot
// loaders and the OS go on extending 8–23 (IMA into 10, systemd into 11 and
// 15) beyond what the firmware log records.
const (
	quotedPCRs   = 24
	replayedPCRs = 8
)

// TPMState is what a verified TPM quote established about the platform.
type TPMState struct {
	// PCRs are the quoted SHA-256 PCRs 0–23, verified against the quote.
	PCRs []attest.PCR
	// EventLog is true when a firmware event log came with the quote and
	// replayed against PCRs 0–7.
	EventLog bool
	// SecureBoot is the Secure Boot state the replayed event log shows;
	// nil without an event log or when the log does not determine it.
	SecureBoot *bool
}

// quoteError is a failed quote check; msg is safe to show to the client.
type quoteError struct {
	msg string
	err error
}

func (e *quoteError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *quoteError) Unwrap() error { return e.err }

// VerifyTPMQuote checks a report's TPM quote with the device's attestation
// key akPublic (TPMT_PUBLIC): the AK signed it; it is a TPM2_Quote over
// PCRs 0–23 of the SHA-256 bank with evidence.TPMQuoteData(nonce) as
// qualifying data; the PCR values hash to its PCR digest; and an event log,
// when one came with it, replays against PCRs 0–7. It returns only what it
// checked. The AK must be one the server stored after credential
// activation: this function trusts it.
func VerifyTPMQuote(akPublic []byte, nonce string, q *evidence.TPMQuote) (*TPMState, error) {
	ak, err := attest.ParseAKPublic(akPublic)
	if err != nil {
		return nil, &quoteError{"the stored attestation key does not parse", err}
	}
	if q.Version != evidence.TPMQuoteVersion {
		return nil, &quoteError{"unknown TPM quote version", nil}
	}
	pcrs := make([]attest.PCR, len(q.PCRs))
	for i, p := range q.PCRs {
		if p.Index != i || len(p.Digest) != crypto.SHA256.Size() {
			return nil, &quoteError{"the quote must carry the SHA-256 PCRs 0 to 23 in order", nil}
		}
		pcrs[i] = attest.PCR{Index: p.Index, Digest: p.Digest, DigestAlg: crypto.SHA256}
	}
	if len(pcrs) != quotedPCRs {
		return nil, &quoteError{"the quote must carry the SHA-256 PCRs 0 to 23 in order", nil}
	}
	data := evidence.TPMQuoteData(nonce)
	if err := ak.Verify(attest.Quote{Quote: q.Quote, Signature: q.Signature}, pcrs, data); err != nil {
		// Say which part failed when the (unverified) quote shows it.
		if att, derr := tpm2.DecodeAttestationData(q.Quote); derr == nil && !bytes.Equal(att.ExtraData, data) {
			return nil, &quoteError{"the TPM quote is not over this report's nonce", err}
		}
		return nil, &quoteError{"the TPM quote does not verify with this device's attestation key and these PCR values", err}
	}
	// Verify checked that the PCRs given are the PCRs quoted; insist that
	// they are the whole SHA-256 bank, so a quote over nothing proves
	// nothing.
	att, err := tpm2.DecodeAttestationData(q.Quote)
	if err != nil || att.AttestedQuoteInfo == nil {
		return nil, &quoteError{"the TPM quote does not decode", err}
	}
	if sel := att.AttestedQuoteInfo.PCRSelection; sel.Hash != tpm2.AlgSHA256 || len(sel.PCRs) != quotedPCRs {
		return nil, &quoteError{"the TPM quote is not over the SHA-256 PCRs 0 to 23", nil}
	}
	st := &TPMState{PCRs: pcrs}
	if len(q.EventLog) == 0 {
		return st, nil
	}
	el, err := attest.ParseEventLog(q.EventLog)
	if err != nil {
		return nil, &quoteError{"the firmware event log does not parse", err}
	}
	events, err := el.Verify(pcrs[:replayedPCRs])
	if err != nil {
		return nil, &quoteError{"the firmware event log does not replay to the quoted PCRs", err}
	}
	st.EventLog = true
	if sb, err := attest.ParseSecurebootState(events); err == nil {
		st.SecureBoot = &sb.Enabled
	}
	return st, nil
}

// checkQuote binds a report of a hardware-bound device to its TPM. A device
// whose AK is stored must send a quote and the quote must verify; a device
// enrolled before quotes has no AK and is appraised as before. On failure
// it returns the refusal.
func (v *Verifier) checkQuote(ctx context.Context, dev store.Device, c *evidence.Claims) (*TPMState, *Appraisal) {
	if v.AKs == nil {
		a := fail(ReasonInternal, "attestation keys are not available", token.TierNone, http.StatusInternalServerError, errors.New("verify: Verifier.AKs is not set"))
		return nil, &a
	}
	ak, err := v.AKs.DeviceAK(ctx, dev.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		a := fail(ReasonInternal, "could not look up the device's attestation key", token.TierNone, http.StatusServiceUnavailable, err)
		return nil, &a
	}
	if c.TPMQuote == nil {
		a := fail(ReasonQuoteMissing, "this device's key is in a TPM, so its reports must carry a TPM quote (healthgate.tpm_quote): update the agent",
			token.TierNone, http.StatusBadRequest, nil)
		return nil, &a
	}
	st, err := VerifyTPMQuote(ak, c.Nonce, c.TPMQuote)
	if err != nil {
		msg := "the TPM quote does not verify"
		var qe *quoteError
		if errors.As(err, &qe) {
			msg = qe.msg
		}
		// Someone presented a quote this device's TPM did not make for
		// this challenge: the report proves nothing and may be an attack.
		a := fail(ReasonQuoteInvalid, msg, token.TierContraindicated, http.StatusUnauthorized, err)
		return nil, &a
	}
	if st.SecureBoot != nil && c.Facts.SecureBoot != nil && c.Facts.SecureBoot.Enabled != *st.SecureBoot {
		a := fail(ReasonSecureBootMismatch, "the report's secure_boot fact contradicts the Secure Boot state the TPM's event log shows",
			token.TierContraindicated, http.StatusBadRequest, nil)
		return nil, &a
	}
	return st, nil
}
