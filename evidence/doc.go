// Package evidence defines the signed report a Healthgate agent sends to the
// health service, and the functions to sign, parse and verify it.
//
// Evidence is a compact JWS whose payload uses EAT claim names (RFC 9711)
// where they exist: eat_nonce, ueid, iat, swname and swversion, plus the
// Healthgate claims platform, facts (typed posture facts) and findings (what
// the agent matched locally). A device whose key lives in a TPM adds
// healthgate.tpm_quote ([TPMQuote]), a TPM quote over the report's nonce.
//
// Names say whether data is trusted: [Parse] returns the claims without
// checking the signature; [Verify] returns them only after the signature has
// been checked against a key the caller chose, with the algorithm pinned by
// that key's type rather than read from the token.
package evidence
