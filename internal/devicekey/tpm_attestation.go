package devicekey

import "time"

// TPMAttestation is what an agent sends with its enrolment to prove that its
// device key lives in a TPM. Byte fields are base64 in JSON. Every field is
// untrusted until the server has verified it and completed credential
// activation (see docs/TPM.md).
type TPMAttestation struct {
	// EKPublic is the endorsement key, PKIX DER.
	EKPublic []byte `json:"ek_public"`
	// EKCertificate is the EK certificate from the TPM's NV, DER, when the
	// TPM has one.
	EKCertificate []byte `json:"ek_certificate,omitempty"`

	// The attestation key (AK): its TPMT_PUBLIC, and the TPMS_CREATION_DATA,
	// TPMS_ATTEST and TPMT_SIGNATURE of TPM2_CertifyCreation over it.
	AKPublic            []byte `json:"ak_public"`
	AKCreateData        []byte `json:"ak_create_data"`
	AKCreateAttestation []byte `json:"ak_create_attestation"`
	AKCreateSignature   []byte `json:"ak_create_signature"`

	// The device key: its TPMT_PUBLIC, and the TPMS_ATTEST and
	// TPMT_SIGNATURE of TPM2_Certify of it by the AK.
	KeyPublic           []byte `json:"key_public"`
	KeyCertifyInfo      []byte `json:"key_certify_info"`
	KeyCertifySignature []byte `json:"key_certify_signature"`
}

// TPMChallenge is a server's credential activation challenge: a secret
// encrypted to the EK (TPM2_MakeCredential) for the AK's name. Credential is
// the TPM2B_ID_OBJECT, Secret the TPM2B_ENCRYPTED_SECRET.
type TPMChallenge struct {
	Credential []byte    `json:"credential"`
	Secret     []byte    `json:"secret"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// TPMActivation answers a TPMChallenge: the decrypted secret, and the
// challenge's expiry as the server stated it.
type TPMActivation struct {
	Secret    []byte    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at"`
}
