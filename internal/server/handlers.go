package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/policy"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/verify"
	"github.com/healthgate/healthgate/token"
)

const maxJSONBody = 16 << 10

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.Ping(r.Context()); err != nil {
		return &httpError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "the database does not answer", Err: err}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// As long as relying parties may keep it: a new key is published
	// issuer.Prepublish (longer) before it signs.
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(issuer.JWKSMaxAge/time.Second)))
	_, err := w.Write(s.issuer.JWKS())
	return err
}

type enrollRequest struct {
	PublicKey devicekey.JWK `json:"public_key"`
	Platform  string        `json:"platform,omitempty"`
	// TPM, when present, attests that the key lives in a TPM (attest.go).
	TPM *devicekey.TPMAttestation `json:"tpm,omitempty"`
	// Quotes is set by an agent that binds its reports to TPM quotes: only
	// then is the AK kept, and a quote required from then on. It is sent
	// with both steps of a TPM enrolment and bound into the activation
	// secret, so a captured activation cannot be replayed with it flipped.
	// An agent from before quotes leaves it out and goes on reporting
	// without one (its certificates' hardware claim is then not affirming).
	Quotes bool `json:"quotes,omitempty"`
}

type enrollResponse struct {
	DeviceID string `json:"device_id"`
	JKT      string `json:"jkt"`
	Created  bool   `json:"created"`
	Hardware bool   `json:"hardware"`
}

// DeviceID derives a device id from a key thumbprint: a UEID (RFC 9711) of
// type RAND (0x01) with 16 bytes, base64url. The same key always gets the
// same id, so enrolment is idempotent.
func DeviceID(jkt string) string {
	sum := sha256.Sum256([]byte("healthgate device id v1\x00" + jkt))
	return base64.RawURLEncoding.EncodeToString(append([]byte{0x01}, sum[:16]...))
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) error {
	if err := s.limitEnrolment(w, r); err != nil { // ratelimit.go
		return err
	}
	var req enrollRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	pub, err := req.PublicKey.PublicKey()
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_public_key", Message: "public_key must be an Ed25519 (OKP) or P-256 (EC) JWK", Err: err}
	}
	if _, err := evidence.Algorithm(pub); err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_public_key", Message: err.Error(), Err: err}
	}
	jwk, err := devicekey.PublicJWK(pub) // canonical form: drops anything else the client sent
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_public_key", Message: err.Error(), Err: err}
	}
	if req.TPM != nil {
		return s.startTPMEnrollment(w, r, &req, jwk) // attest.go: 202 and a credential challenge
	}
	raw, err := json.Marshal(jwk)
	if err != nil {
		return err
	}
	jkt := jwk.Thumbprint()
	d, created, err := s.store.EnrollDevice(r.Context(), store.Device{
		ID: DeviceID(jkt), PublicKey: raw, JKT: jkt, EnrolledAt: s.opts.Now().UTC(),
	})
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "key_in_use", "this public key is enrolled under another device id")
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		s.countEnrolment(r, d.ID)
		status = http.StatusCreated
		s.log.Info("device enrolled", slog.String("device_id", d.ID))
	}
	return writeJSON(w, status, enrollResponse{DeviceID: d.ID, JKT: d.JKT, Created: created, Hardware: d.Hardware})
}

// countEnrolment records a new device's network for the enrolment burst
// signal (devicetraits.go) and tells the other nodes.
func (s *Server) countEnrolment(r *http.Request, deviceID string) {
	net, ok := requestNetwork(r)
	if !ok {
		return
	}
	tag := s.networkTag(net)
	s.traits.add(deviceID, tag, s.opts.Now())
	ctx, cancel := context.WithTimeout(r.Context(), peerTimeout)
	s.announce(ctx, announceEnrolment, enrolmentNote{Device: deviceID, Network: tag})
	cancel()
}

type challengeRequest struct {
	DeviceID string `json:"device_id"`
}

type challengeResponse struct {
	Nonce     string    `json:"nonce"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) error {
	var req challengeRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	if req.DeviceID == "" || len(req.DeviceID) > 128 {
		return errorf(http.StatusBadRequest, "bad_device_id", "device_id is missing or too long")
	}
	if _, err := s.devices.Device(r.Context(), req.DeviceID); errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, verify.ReasonUnknownDevice, "device is not enrolled: enrol it first")
	} else if err != nil {
		return err
	}
	nonce, exp, err := s.nonces.Issue(req.DeviceID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, challengeResponse{Nonce: nonce, ExpiresAt: exp.UTC()})
}

// ReportResponse is the answer to an accepted report.
type ReportResponse struct {
	DeviceID    string           `json:"device_id"`
	ReportID    string           `json:"report_id"`
	Tier        string           `json:"tier"`
	Score       int              `json:"score"`
	Findings    []policy.Finding `json:"findings"`
	PolicyID    string           `json:"policy_id"`
	Certificate string           `json:"certificate"`
	ExpiresAt   time.Time        `json:"expires_at"`
}

func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) error {
	if err := requireType(r, evidence.MediaType, "application/jwt", "application/eat+jwt"); err != nil {
		return err
	}
	body, err := readBody(w, r, evidence.MaxSize)
	if err != nil {
		return err
	}
	ap := s.verify.Verify(r.Context(), body)
	if !ap.OK() {
		return s.rejected(ap)
	}
	c := ap.Claims
	if c.Session != "" {
		if _, err := s.sessions.check(c.Session); err != nil {
			return errorf(http.StatusBadRequest, "session_invalid", "the checkout session is unknown or expired: start the payment again")
		}
	}
	res := s.policy.Evaluate(policy.Input{
		Facts: c.Facts, Findings: c.Findings, Platform: c.Platform, Now: s.opts.Now(),
		// Hardware only counts when this report is bound to the TPM by a
		// verified quote (docs/TPM.md).
		HardwareKey: ap.Device.Hardware && ap.QuoteBound(),
	})
	codes := make([]string, len(res.Findings))
	for i, f := range res.Findings {
		codes[i] = f.Code
	}
	claims, err := s.issuer.Prepare(issuer.Request{
		DeviceID: ap.Device.ID, JKT: ap.Device.JKT, Tier: res.Tier, TrustVector: res.TrustVector,
		PolicyID: res.PolicyID, Findings: codes, Nonce: c.Nonce,
	})
	if err != nil {
		return err
	}
	rep := store.Report{
		ID: claims.ID, DeviceID: ap.Device.ID, Nonce: c.Nonce, NonceExp: ap.NonceExp, Received: s.opts.Now().UTC(),
		Platform: c.Platform, Tier: res.Tier, Score: res.Score, Findings: codes, PolicyID: res.PolicyID,
		CertID: claims.ID, CertExp: claims.ExpiresAt(), SWVersion: c.SWVersion, Session: c.Session,
	}
	// Storing consumes the nonce: only one report per challenge gets a
	// certificate, however many copies race here.
	if err := s.store.RecordReport(r.Context(), rep); errors.Is(err, store.ErrNonceReplayed) {
		return s.rejected(verify.Appraisal{Reason: verify.ReasonNonceReplayed, Tier: token.TierNone, Status: http.StatusConflict,
			Message: "this challenge nonce was already used: ask for a new one"})
	} else if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "session_used", "this checkout session already has a report: start the payment again")
	} else if err != nil {
		return err
	}
	// Only a stored report tells what the device is now: a refused one
	// (a replay, a used session) must not change it.
	virtual := c.Facts.Virtualization != nil && (c.Facts.Virtualization.VirtualMachine || c.Facts.Virtualization.Emulator)
	if s.traits.reported(ap.Device.ID, virtual) {
		ctx, cancel := context.WithTimeout(r.Context(), peerTimeout)
		s.announce(ctx, announceVirtual, virtualNote{Device: ap.Device.ID, Virtual: virtual})
		cancel()
	}
	s.observeReport(r, ap.Device.ID, &c.Facts, c.Findings, codes) // surveillance.go: in memory, never fails the report
	cert, err := s.issuer.Sign(claims)
	if err != nil {
		return err
	}
	s.metrics.reports.WithLabelValues(res.Tier).Inc()
	findings := res.Findings
	if findings == nil {
		findings = []policy.Finding{}
	}
	return writeJSON(w, http.StatusOK, ReportResponse{
		DeviceID: ap.Device.ID, ReportID: rep.ID, Tier: res.Tier, Score: res.Score, Findings: findings,
		PolicyID: res.PolicyID, Certificate: string(cert), ExpiresAt: claims.ExpiresAt().UTC(),
	})
}

// rejected turns a failed verification into an error response that still
// carries the appraisal: tier and reason.
func (s *Server) rejected(ap verify.Appraisal) error {
	s.metrics.rejected.WithLabelValues(ap.Reason).Inc()
	return &httpError{Status: ap.Status, Code: ap.Reason, Message: ap.Message, Err: ap.Err,
		Extra: map[string]any{"appraisal": map[string]string{"tier": ap.Tier, "reason": ap.Reason}}}
}
