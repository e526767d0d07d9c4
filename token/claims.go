package token

import "time"

// Profile is the EAT profile of Healthgate health certificates: the EAR
// profile, so that veraison/ear and its arc tool accept them.
const Profile = "tag:github.com,2023:veraison/ear"

// Submod is the name of the one EAR submodule a certificate carries.
const Submod = "device"

// Tiers, as AR4SI names them (ear.status).
const (
	TierNone            = "none"
	TierAffirming       = "affirming"
	TierWarning         = "warning"
	TierContraindicated = "contraindicated"
)

// Claims is the payload of a health certificate: an EAR (EAT Attestation
// Result) with Healthgate's additions exp, sub, cnf and healthgate.findings.
type Claims struct {
	Profile    string     `json:"eat_profile"`
	Issuer     string     `json:"iss,omitempty"`
	Subject    string     `json:"sub"` // device id
	ID         string     `json:"jti"`
	IssuedAt   int64      `json:"iat"`
	Expiry     int64      `json:"exp"`
	VerifierID VerifierID `json:"ear.verifier-id"`
	Nonce      string     `json:"eat_nonce,omitempty"`
	// Submods holds one appraisal, under the name Submod.
	Submods      map[string]Appraisal `json:"submods"`
	Confirmation Confirmation         `json:"cnf"`
	// Findings are stable codes of what the appraisal found; never personal data.
	Findings []string `json:"healthgate.findings"`
}

// VerifierID names the software that produced the result (ear.verifier-id).
type VerifierID struct {
	Build     string `json:"build"`
	Developer string `json:"developer"`
}

// Appraisal is one EAR submodule appraisal.
type Appraisal struct {
	Status      string         `json:"ear.status"`
	TrustVector map[string]int `json:"ear.trustworthiness-vector,omitempty"`
	PolicyID    string         `json:"ear.appraisal-policy-id,omitempty"`
}

// Confirmation binds the certificate to the device key (RFC 7800): JKT is the
// base64url SHA-256 JWK thumbprint (RFC 7638) of the device's public key.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// Tier returns the status of the device appraisal, or TierNone.
func (c *Claims) Tier() string {
	if a, ok := c.Submods[Submod]; ok && a.Status != "" {
		return a.Status
	}
	return TierNone
}

// ExpiresAt returns exp as a time.
func (c *Claims) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0) }

// IssuedTime returns iat as a time.
func (c *Claims) IssuedTime() time.Time { return time.Unix(c.IssuedAt, 0) }
