package devicekey

import (
	"fmt"

	"github.com/google/go-attestation/attest"

	"github.com/healthgate/healthgate/evidence"
)

// quoteAttempts bounds how often Quote reads the PCRs and quotes again when
// a PCR changed in between (on Linux, IMA extends PCR 10 at any time).
const quoteAttempts = 3

// Quote has the attestation key quote PCRs 0–23 of the SHA-256 bank with
// extraData as qualifying data (evidence.TPMQuoteData of the report's
// nonce). It returns the quote with the PCR values it covers, checked
// against the quote here already, and the platform's firmware event log
// when the agent can read one no larger than evidence.MaxTPMEventLog (on
// Linux the kernel's log is readable by root only; a simulator has none).
func (k *TPMKey) Quote(extraData []byte) (*evidence.TPMQuote, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil, errClosed
	}
	ak, err := attest.ParseAKPublic(k.ak.AttestationParameters().Public)
	if err != nil {
		return nil, fmt.Errorf("tpm: attestation key: %w", err)
	}
	var mismatch error
	for range quoteAttempts {
		pcrs, err := k.tpm.PCRs(attest.HashSHA256)
		if err != nil {
			return nil, fmt.Errorf("tpm: reading the SHA-256 PCRs: %w", err)
		}
		q, err := k.ak.Quote(k.tpm, extraData, attest.HashSHA256)
		if err != nil {
			return nil, fmt.Errorf("tpm: quoting: %w", err)
		}
		if err := ak.Verify(*q, pcrs, extraData); err != nil {
			mismatch = err // a PCR was extended between reading and quoting
			continue
		}
		out := &evidence.TPMQuote{Version: evidence.TPMQuoteVersion, Quote: q.Quote, Signature: q.Signature}
		for _, p := range pcrs {
			out.PCRs = append(out.PCRs, evidence.PCRValue{Index: p.Index, Digest: p.Digest})
		}
		if log, err := k.tpm.MeasurementLog(); err == nil && len(log) <= evidence.MaxTPMEventLog {
			out.EventLog = log
		}
		return out, nil
	}
	return nil, fmt.Errorf("tpm: the PCRs kept changing while quoting: %w", mismatch)
}
