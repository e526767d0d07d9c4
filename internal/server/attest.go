package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/store"
)

// TPM enrolment (docs/TPM.md). A device whose key lives in a TPM sends, with
// its enrolment, the TPM's endorsement key (EK), an attestation key (AK) and
// the AK's certification of the device key. The server checks them and
// answers 202 with a credential activation challenge: a secret encrypted to
// the EK for the AK's name. Only that TPM, holding that AK, can decrypt it;
// the device sends the secret back to /v1/enroll/activate and is enrolled
// with Hardware = true.
//
// The challenge is stateless, like the report nonces: the secret is an HMAC
// of the attestation, the key thumbprint and the expiry under a service
// secret, so any node can check the answer and nothing is stored until the
// device has proven itself.
//
// Activation also stores the AK: from then on every report of the device
// must carry a quote by that AK over the report's nonce (internal/verify).

// activationTTL bounds how long a credential challenge can be answered.
const activationTTL = 5 * time.Minute

type tpmChallengeResponse struct {
	Activation devicekey.TPMChallenge `json:"activation"`
}

type activateRequest struct {
	enrollRequest
	Activation *devicekey.TPMActivation `json:"activation"`
}

// tpmVerdict is what a verified attestation established.
type tpmVerdict struct {
	manufacturer string // EK certificate issuer when it chained to a configured root
}

// startTPMEnrollment checks a TPM attestation and answers with a credential
// activation challenge. A key already enrolled as hardware-bound, with its
// AK stored, is simply confirmed; one enrolled before quotes is challenged
// again so that activation stores its AK.
func (s *Server) startTPMEnrollment(w http.ResponseWriter, r *http.Request, req *enrollRequest, jwk devicekey.JWK) error {
	jkt := jwk.Thumbprint()
	if d, err := s.store.Device(r.Context(), DeviceID(jkt)); err == nil && d.Hardware && d.JKT == jkt {
		if _, err := s.store.DeviceAK(r.Context(), d.ID); err == nil {
			return writeJSON(w, http.StatusOK, enrollResponse{DeviceID: d.ID, JKT: d.JKT, Hardware: true})
		}
	}
	if _, err := s.verifyTPMAttestation(req.TPM, jwk); err != nil {
		return err
	}
	exp := s.opts.Now().Add(activationTTL).UTC().Truncate(time.Second)
	secret, err := s.activationSecret(r.Context(), req.TPM, jkt, exp, req.Quotes)
	if err != nil {
		return err
	}
	ekPub, _ := x509.ParsePKIXPublicKey(req.TPM.EKPublic) // checked by verifyTPMAttestation
	ap := attest.ActivationParameters{
		EK:   ekPub,
		AK:   akParameters(req.TPM),
		Rand: bytes.NewReader(secret),
	}
	_, ec, err := ap.Generate()
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "tpm_attestation_invalid", Message: "cannot make a credential for this endorsement key", Err: err}
	}
	return writeJSON(w, http.StatusAccepted, tpmChallengeResponse{Activation: devicekey.TPMChallenge{
		Credential: ec.Credential, Secret: ec.Secret, ExpiresAt: exp,
	}})
}

func (s *Server) handleEnrollActivate(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitEnrolment(w, r); err != nil { // ratelimit.go
		return err
	}
	var req activateRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	if req.TPM == nil || req.Activation == nil {
		return errorf(http.StatusBadRequest, "bad_activation", "tpm and activation are required")
	}
	pub, err := req.PublicKey.PublicKey()
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_public_key", Message: "public_key must be a P-256 (EC) JWK", Err: err}
	}
	jwk, err := devicekey.PublicJWK(pub)
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_public_key", Message: err.Error(), Err: err}
	}
	now := s.opts.Now()
	exp := req.Activation.ExpiresAt
	if !now.Before(exp) || exp.After(now.Add(activationTTL+time.Minute)) {
		return errorf(http.StatusForbidden, "activation_expired", "the credential challenge has expired: enrol again")
	}
	verdict, err := s.verifyTPMAttestation(req.TPM, jwk)
	if err != nil {
		return err
	}
	jkt := jwk.Thumbprint()
	want, err := s.activationSecret(r.Context(), req.TPM, jkt, exp.UTC(), req.Quotes)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, req.Activation.Secret) {
		return errorf(http.StatusForbidden, "activation_failed", "the credential was not activated by the TPM that holds this endorsement key")
	}
	raw, err := json.Marshal(jwk)
	if err != nil {
		return err
	}
	d, created, err := s.store.EnrollDevice(r.Context(), store.Device{
		ID: DeviceID(jkt), PublicKey: raw, JKT: jkt, Hardware: true, EnrolledAt: now.UTC(),
	})
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "key_in_use", "this public key is enrolled under another device id")
	}
	if err != nil {
		return err
	}
	if !d.Hardware {
		// Enrolled earlier without attestation; the store has no upgrade.
		return errorf(http.StatusConflict, "enrolled_without_tpm", "this key was enrolled before without TPM attestation")
	}
	// The AK is now proven to live in the TPM that holds the EK and to have
	// certified the device key: the device's reports are quoted by it, if
	// its agent quotes.
	if req.Quotes {
		if err := s.store.PutDeviceAK(r.Context(), d.ID, req.TPM.AKPublic, now.UTC()); errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, "tpm_ak_conflict", "this device is bound to another attestation key of its TPM")
		} else if err != nil {
			return err
		}
	}
	s.devices.put(d)
	status := http.StatusOK
	if created {
		s.countEnrolment(r, d.ID) // handlers.go
		status = http.StatusCreated
		s.log.Info("device enrolled with a TPM-bound key", slog.String("device_id", d.ID),
			slog.Bool("ek_verified", verdict.manufacturer != ""), slog.String("ek_issuer", verdict.manufacturer))
	} else {
		s.log.Info("TPM-bound device activated again: its attestation key is stored", slog.String("device_id", d.ID))
	}
	return writeJSON(w, status, enrollResponse{DeviceID: d.ID, JKT: d.JKT, Created: created, Hardware: true})
}

// verifyTPMAttestation checks everything in a that can be checked without
// the TPM: the EK (and its certificate chain when EK roots are configured),
// the AK's properties and creation signature, and that the AK certified a
// non-exportable, TPM-generated signing key equal to the enrolled one.
// Credential activation is what then ties the AK to the EK.
func (s *Server) verifyTPMAttestation(a *devicekey.TPMAttestation, jwk devicekey.JWK) (tpmVerdict, error) {
	refuse := func(msg string, err error) (tpmVerdict, error) {
		return tpmVerdict{}, &httpError{Status: http.StatusBadRequest, Code: "tpm_attestation_invalid", Message: msg, Err: err}
	}
	var v tpmVerdict
	ekPub, err := x509.ParsePKIXPublicKey(a.EKPublic)
	if err != nil {
		return refuse("ek_public is not a PKIX public key", err)
	}
	if len(a.EKCertificate) > 0 {
		cert, err := attest.ParseEKCertificate(a.EKCertificate)
		if err != nil {
			return refuse("ek_certificate does not parse", err)
		}
		if !publicKeysEqual(cert.PublicKey, ekPub) {
			return refuse("ek_certificate is not for ek_public", nil)
		}
		if s.opts.EKRoots != nil {
			if err := verifyEKCertificate(cert, s.opts.EKRoots, s.opts.EKIntermediates, s.opts.Now()); err != nil {
				return tpmVerdict{}, &httpError{Status: http.StatusForbidden, Code: "tpm_ek_untrusted", Message: "the TPM's endorsement key certificate is not from a trusted TPM manufacturer", Err: err}
			}
			v.manufacturer = cert.Issuer.String()
		}
	} else if s.opts.EKRoots != nil {
		return tpmVerdict{}, errorf(http.StatusForbidden, "tpm_ek_untrusted", "this service requires an endorsement key certificate")
	}

	ap := attest.ActivationParameters{EK: ekPub, AK: akParameters(a)}
	if err := ap.CheckAKParameters(); err != nil {
		return refuse("the attestation key is not a TPM-resident restricted signing key", err)
	}
	ak, err := attest.ParseAKPublic(a.AKPublic)
	if err != nil {
		return refuse("ak_public does not parse", err)
	}

	cp := attest.CertificationParameters{Public: a.KeyPublic, CreateAttestation: a.KeyCertifyInfo, CreateSignature: a.KeyCertifySignature}
	if err := cp.Verify(attest.VerifyOpts{Public: ak.Public, Hash: ak.Hash}); err != nil {
		return refuse("the device key's certification by the attestation key does not verify", err)
	}
	// cp.Verify checked fixedTPM, fixedParent, sensitiveDataOrigin and not
	// restricted; check again here so the rule is visible, plus sign.
	pub, err := tpm2.DecodePublic(a.KeyPublic)
	if err != nil {
		return refuse("key_public does not parse", err)
	}
	const need = tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin | tpm2.FlagSign
	if pub.Attributes&need != need {
		return refuse("the device key can leave the TPM or was not generated in it", nil)
	}
	certified, err := pub.Key()
	if err != nil {
		return refuse("key_public is not a usable key", err)
	}
	enrolled, err := jwk.PublicKey()
	if err != nil {
		return refuse("public_key is not a usable key", err)
	}
	if _, ok := enrolled.(*ecdsa.PublicKey); !ok || !publicKeysEqual(certified, enrolled) {
		return refuse("the attestation key certified a different key than public_key", nil)
	}
	return v, nil
}

// verifyEKCertificate checks that an EK certificate chains to one of the
// configured TPM manufacturer roots. EK certificates carry critical
// extensions Go does not process (the TPM's identity in a critical subject
// alternative name with an empty subject is handled; others are not), so
// only the chain and validity are judged here.
func verifyEKCertificate(cert *x509.Certificate, roots, intermediates *x509.CertPool, now time.Time) error {
	c := *cert
	c.UnhandledCriticalExtensions = nil
	_, err := c.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err
}

func akParameters(a *devicekey.TPMAttestation) attest.AttestationParameters {
	return attest.AttestationParameters{
		Public:            a.AKPublic,
		CreateData:        a.AKCreateData,
		CreateAttestation: a.AKCreateAttestation,
		CreateSignature:   a.AKCreateSignature,
	}
}

// activationSecret derives the credential secret for an attestation, key,
// expiry and quotes flag: HMAC-SHA256 under a service secret, so the
// challenge needs no state and a change to any of them gives another
// secret.
func (s *Server) activationSecret(ctx context.Context, a *devicekey.TPMAttestation, jkt string, exp time.Time, quotes bool) ([]byte, error) {
	key, err := s.store.Secret(ctx, "tpm-activation-hmac-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading activation key: %w", err)
	}
	att, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(att)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("healthgate tpm activation v1\x00" + jkt + "\x00"))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(exp.Unix())))
	m.Write(sum[:])
	if quotes {
		m.Write([]byte("\x00quotes"))
	}
	return m.Sum(nil), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
