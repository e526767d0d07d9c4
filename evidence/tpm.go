package evidence

import "crypto/sha256"

// TPMQuoteVersion is the version of the healthgate.tpm_quote claim.
const TPMQuoteVersion = 1

// Limits of the healthgate.tpm_quote claim. A TPMS_ATTEST of a quote is
// about 150 bytes and a TPMT_SIGNATURE at most 520 (RSA 4096). An event log
// larger than MaxTPMEventLog is left out by the agent: it would not fit in
// the evidence size limit once base64-encoded twice.
const (
	maxQuoteBytes  = 1024
	maxQuotePCRs   = 24
	MaxTPMEventLog = 64 << 10
)

// TPMQuote (claim healthgate.tpm_quote) binds a report to the device's TPM:
// the device's attestation key (AK), which the server stored when it
// enrolled the device, quotes the TPM's SHA-256 PCRs with TPMQuoteData of
// the report's eat_nonce as qualifying data. Byte fields are base64 in
// JSON. Everything here is untrusted until the server has verified the
// quote with the stored AK (docs/TPM.md).
type TPMQuote struct {
	Version int `json:"version"` // TPMQuoteVersion
	// Quote is the TPMS_ATTEST of TPM2_Quote, Signature the AK's
	// TPMT_SIGNATURE over it.
	Quote     []byte `json:"quote"`
	Signature []byte `json:"signature"`
	// PCRs are the values of the quoted PCRs of the SHA-256 bank as read
	// from the TPM, by index; the quote's PCR digest covers them. The
	// agent quotes all 24, and the server requires them.
	PCRs []PCRValue `json:"pcrs"`
	// EventLog is the platform's TCG firmware event log (binary), when the
	// agent can read one; a TPM simulator has none.
	EventLog []byte `json:"event_log,omitempty"`
}

// PCRValue is one PCR of the SHA-256 bank.
type PCRValue struct {
	Index  int    `json:"index"`
	Digest []byte `json:"digest"` // 32 bytes
}

// TPMQuoteData returns the qualifying data (TPM2_Quote extraData) that binds
// a quote to a report: SHA-256 of the eat_nonce exactly as the server issued
// it (the bytes of the string, not base64-decoded).
func TPMQuoteData(nonce string) []byte {
	sum := sha256.Sum256([]byte(nonce))
	return sum[:]
}

func (q *TPMQuote) validate(p *problems) {
	const name = "healthgate.tpm_quote"
	if q.Version != TPMQuoteVersion {
		p.addf("%s.version must be %d", name, TPMQuoteVersion)
	}
	if n := len(q.Quote); n == 0 || n > maxQuoteBytes {
		p.addf("%s.quote must be 1 to %d bytes", name, maxQuoteBytes)
	}
	if n := len(q.Signature); n == 0 || n > maxQuoteBytes {
		p.addf("%s.signature must be 1 to %d bytes", name, maxQuoteBytes)
	}
	if n := len(q.PCRs); n == 0 || n > maxQuotePCRs {
		p.addf("%s.pcrs must have 1 to %d entries", name, maxQuotePCRs)
	}
	var seen [maxQuotePCRs]bool
	for i, pcr := range q.PCRs {
		if pcr.Index < 0 || pcr.Index >= maxQuotePCRs {
			p.addf("%s.pcrs[%d].index must be 0 to %d", name, i, maxQuotePCRs-1)
			continue
		}
		if seen[pcr.Index] {
			p.addf("%s.pcrs has PCR %d twice", name, pcr.Index)
		}
		seen[pcr.Index] = true
		if len(pcr.Digest) != sha256.Size {
			p.addf("%s.pcrs[%d].digest must be %d bytes (SHA-256)", name, i, sha256.Size)
		}
	}
	if len(q.EventLog) > MaxTPMEventLog {
		p.addf("%s.event_log is larger than %d KiB", name, MaxTPMEventLog>>10)
	}
}
