package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

type tpmEnv struct {
	t     testing.TB
	store store.Store
	http  *httptest.Server
}

func newTPMEnv(t testing.TB, roots, intermediates *x509.CertPool) *tpmEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Options{Store: st, EKRoots: roots, EKIntermediates: intermediates})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); st.Close() })
	return &tpmEnv{t: t, store: st, http: hs}
}

func (e *tpmEnv) post(path string, body any) (int, map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.Post(e.http.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s answered non-JSON %q", path, raw)
	}
	return resp.StatusCode, m
}

func caPools(certs []*x509.Certificate) (roots, intermediates *x509.CertPool) {
	roots, intermediates = x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			roots.AddCert(c)
		} else {
			intermediates.AddCert(c)
		}
	}
	return roots, intermediates
}

// openTPMKey opens (or creates) the TPM key in state. swtpm serves one
// connection at a time, so callers close it before opening another.
func openTPMKey(t *testing.T, addr, state string) *devicekey.TPMKey {
	t.Helper()
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: addr, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestTPMEnrollmentEndToEnd runs the agent with a device key in a software
// TPM against a server that checks the EK certificate chain: the key is
// enrolled as hardware-bound only after credential activation, and the
// certificate's trust vector says hardware affirming.
func TestTPMEnrollmentEndToEnd(t *testing.T) {
	tpm := tpmtest.Start(t)
	roots, intermediates := caPools(tpm.CACertificates(t))
	e := newTPMEnv(t, roots, intermediates)

	state := t.TempDir()
	key, err := agent.OpenKey(agent.KeyTPM, tpm.Addr, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer key.(io.Closer).Close()
	a, err := agent.New(agent.Config{Server: e.http.URL, StateDir: state, Root: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ReportOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Hardware *bool `json:"hardware"`
	}
	if err := json.Unmarshal(res.Raw, &raw); err != nil || raw.Hardware == nil || !*raw.Hardware {
		t.Errorf("agent answer %s: want \"hardware\":true", res.Raw)
	}
	d, err := e.store.Device(context.Background(), res.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Hardware {
		t.Error("stored device: Hardware = false, want true")
	}
	if got, want := trustVector(t, e, res.Certificate)["hardware"], 2; got != want {
		t.Errorf("trust vector hardware = %d, want %d", got, want)
	}

	// Enrolling the same key again (a lost state directory) is confirmed
	// without a new challenge.
	jwk, _ := devicekey.PublicJWK(key.Public())
	att, err := key.(*devicekey.TPMKey).Attestation()
	if err != nil {
		t.Fatal(err)
	}
	if status, m := e.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": att}); status != http.StatusOK || m["hardware"] != true {
		t.Errorf("re-enrol: %d %v, want 200 hardware true", status, m)
	}
}

// TestFileKeyFallback: without a TPM, auto mode uses the file key and the
// answer says hardware false.
func TestFileKeyFallback(t *testing.T) {
	e := newTPMEnv(t, nil, nil)
	state := t.TempDir()
	key, err := agent.OpenKey(agent.KeyAuto, "127.0.0.1:1", state, nil) // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	if key.Hardware() {
		t.Fatal("fallback key claims hardware")
	}
	a, err := agent.New(agent.Config{Server: e.http.URL, StateDir: state, Root: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ReportOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Hardware *bool `json:"hardware"`
	}
	if err := json.Unmarshal(res.Raw, &raw); err != nil || raw.Hardware == nil || *raw.Hardware {
		t.Errorf("agent answer %s: want \"hardware\":false", res.Raw)
	}
	if got := trustVector(t, e, res.Certificate)["hardware"]; got == 2 {
		t.Error("file key got trust vector hardware affirming")
	}
}

// TestTPMEnrollmentRefused covers what must not enrol a key as hardware.
func TestTPMEnrollmentRefused(t *testing.T) {
	tpm := tpmtest.Start(t)
	e := newTPMEnv(t, nil, nil) // no EK roots: any TPM, chain not checked
	keyState, otherState := t.TempDir(), t.TempDir()
	key := openTPMKey(t, tpm.Addr, keyState)
	jwk, _ := devicekey.PublicJWK(key.Public())
	att, err := key.Attestation()
	key.Close()
	if err != nil {
		t.Fatal(err)
	}
	other := openTPMKey(t, tpm.Addr, otherState)
	otherJWK, _ := devicekey.PublicJWK(other.Public())
	otherAtt, err := other.Attestation()
	other.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, filePriv, _ := ed25519.GenerateKey(rand.Reader)
	fileJWK, _ := devicekey.PublicJWK(filePriv.Public())
	softPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	softJWK, _ := devicekey.PublicJWK(softPriv.Public())

	t.Run("file key claiming hardware", func(t *testing.T) {
		if status, m := e.post("/v1/enroll", map[string]any{"public_key": fileJWK, "hardware": true}); status != http.StatusBadRequest {
			t.Errorf("got %d %v, want 400", status, m)
		}
		status, m := e.post("/v1/enroll", map[string]any{"public_key": fileJWK})
		if status != http.StatusCreated || m["hardware"] != false {
			t.Errorf("plain enrolment: %d %v, want 201 hardware false", status, m)
		}
	})
	t.Run("software key with a TPM key's attestation", func(t *testing.T) {
		status, m := e.post("/v1/enroll", map[string]any{"public_key": softJWK, "tpm": att})
		if status != http.StatusBadRequest || code(m) != "tpm_attestation_invalid" {
			t.Errorf("got %d %v, want 400 tpm_attestation_invalid", status, m)
		}
	})
	t.Run("certification of a different key", func(t *testing.T) {
		mixed := *att
		mixed.KeyPublic, mixed.KeyCertifyInfo, mixed.KeyCertifySignature = otherAtt.KeyPublic, otherAtt.KeyCertifyInfo, otherAtt.KeyCertifySignature
		status, m := e.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": &mixed})
		if status != http.StatusBadRequest || code(m) != "tpm_attestation_invalid" {
			t.Errorf("other key's certification under our AK: %d %v, want 400", status, m)
		}
		// A valid AK and certification, but of another key than public_key.
		status, m = e.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": otherAtt})
		if status != http.StatusBadRequest || code(m) != "tpm_attestation_invalid" {
			t.Errorf("other key's attestation: %d %v, want 400", status, m)
		}
	})
	t.Run("wrong activation secret", func(t *testing.T) {
		ch := challenge(t, e, jwk, att)
		key := openTPMKey(t, tpm.Addr, keyState)
		secret, err := key.ActivateCredential(ch)
		key.Close()
		if err != nil {
			t.Fatal(err)
		}
		wrong := bytes.Clone(secret)
		wrong[0] ^= 1
		status, m := e.post("/v1/enroll/activate", map[string]any{"public_key": jwk, "tpm": att,
			"activation": devicekey.TPMActivation{Secret: wrong, ExpiresAt: ch.ExpiresAt}})
		if status != http.StatusForbidden || code(m) != "activation_failed" {
			t.Errorf("got %d %v, want 403 activation_failed", status, m)
		}
		// A later expiry than the challenge stated changes the secret too.
		status, m = e.post("/v1/enroll/activate", map[string]any{"public_key": jwk, "tpm": att,
			"activation": devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt.Add(time.Second)}})
		if status != http.StatusForbidden {
			t.Errorf("moved expiry: %d %v, want 403", status, m)
		}
		// The secret is only for this attestation: another key cannot use it.
		status, m = e.post("/v1/enroll/activate", map[string]any{"public_key": otherJWK, "tpm": otherAtt,
			"activation": devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt}})
		if status != http.StatusForbidden || code(m) != "activation_failed" {
			t.Errorf("secret replayed for another key: %d %v, want 403 activation_failed", status, m)
		}
		// The challenge was made without quotes: a captured activation
		// replayed with quotes turned on (which would store the AK and lock
		// out an agent that does not quote) does not activate.
		status, m = e.post("/v1/enroll/activate", map[string]any{"public_key": jwk, "tpm": att, "quotes": true,
			"activation": devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt}})
		if status != http.StatusForbidden || code(m) != "activation_failed" {
			t.Errorf("activation replayed with quotes flipped: %d %v, want 403 activation_failed", status, m)
		}
		// The right secret enrols the key as hardware-bound.
		status, m = e.post("/v1/enroll/activate", map[string]any{"public_key": jwk, "tpm": att,
			"activation": devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt}})
		if status != http.StatusCreated || m["hardware"] != true {
			t.Errorf("right secret: %d %v, want 201 hardware true", status, m)
		}
	})
	t.Run("EK certificate from an unknown manufacturer", func(t *testing.T) {
		strict := newTPMEnv(t, selfSignedPool(t), nil)
		status, m := strict.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": att})
		if status != http.StatusForbidden || code(m) != "tpm_ek_untrusted" {
			t.Errorf("got %d %v, want 403 tpm_ek_untrusted", status, m)
		}
		noCert := *att
		noCert.EKCertificate = nil
		status, m = strict.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": &noCert})
		if status != http.StatusForbidden || code(m) != "tpm_ek_untrusted" {
			t.Errorf("no EK certificate: %d %v, want 403 tpm_ek_untrusted", status, m)
		}
	})
}

func challenge(t *testing.T, e *tpmEnv, jwk devicekey.JWK, att *devicekey.TPMAttestation) devicekey.TPMChallenge {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"public_key": jwk, "tpm": att})
	resp, err := http.Post(e.http.URL+"/v1/enroll", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Activation devicekey.TPMChallenge `json:"activation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("enrol with attestation: %d %v", resp.StatusCode, err)
	}
	return out.Activation
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func trustVector(t *testing.T, e *tpmEnv, cert string) map[string]int {
	t.Helper()
	resp, err := http.Get(e.http.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	jwks, err := token.ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.Verify(context.Background(), []byte(cert), jwks)
	if err != nil {
		t.Fatal(err)
	}
	for _, ap := range c.Submods {
		return ap.TrustVector
	}
	t.Fatal("certificate has no appraisal")
	return nil
}

func selfSignedPool(t *testing.T) *x509.CertPool {
	t.Helper()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not a TPM manufacturer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// FuzzEnrollTPM feeds outside bytes to the TPM structure parsers behind
// /v1/enroll: whatever arrives, the answer is a 4xx verdict, never a 5xx.
func FuzzEnrollTPM(f *testing.F) {
	f.Add([]byte{}, []byte{}, []byte{}, []byte{})
	f.Add([]byte{0x00, 0x23, 0x00, 0x0b}, []byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x17}, []byte{0x00, 0x18}, []byte{0x00, 0x01})
	e := newTPMEnv(f, nil, nil)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := devicekey.PublicJWK(priv.Public())
	ekPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ekPub, _ := x509.MarshalPKIXPublicKey(ekPriv.Public())
	f.Fuzz(func(t *testing.T, akPub, akAttest, keyPub, sig []byte) {
		e.t = t
		att := devicekey.TPMAttestation{
			EKPublic: ekPub, AKPublic: akPub, AKCreateData: akAttest, AKCreateAttestation: akAttest, AKCreateSignature: sig,
			KeyPublic: keyPub, KeyCertifyInfo: akAttest, KeyCertifySignature: sig,
		}
		if status, m := e.post("/v1/enroll", map[string]any{"public_key": jwk, "tpm": att}); status/100 != 4 {
			t.Fatalf("got %d %v, want a 4xx", status, m)
		}
	})
}

// TestTPMEnrolmentCountsInBurst: a device enrolled through TPM activation
// is an enrolment from its network like any other, so a farm of (possibly
// software, when no EK roots are set) TPM devices shows in the enrolment
// burst signal of the devices enrolled next to it.
func TestTPMEnrolmentCountsInBurst(t *testing.T) {
	tpm := tpmtest.Start(t)
	e := newEnv(t)
	te := &tpmEnv{t: t, store: e.store(), http: e.http}
	key := openTPMKey(t, tpm.Addr, t.TempDir())
	jwk, _ := devicekey.PublicJWK(key.Public())
	att, err := key.Attestation()
	if err != nil {
		key.Close()
		t.Fatal(err)
	}
	ch := challenge(t, te, jwk, att)
	secret, err := key.ActivateCredential(ch)
	key.Close()
	if err != nil {
		t.Fatal(err)
	}
	if status, m := te.post("/v1/enroll/activate", map[string]any{"public_key": jwk, "tpm": att,
		"activation": devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt}}); status != http.StatusCreated {
		t.Fatalf("activate: %d %v", status, m)
	}
	rp, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll() // from the same network
	status, m := e.call("POST", "/v1/decisions", rp, jsonBody(map[string]any{"event": "register", "account": "new-user",
		"certificate": d.certificate(nil)}))
	if status != http.StatusOK {
		t.Fatalf("decision: %d %v", status, m)
	}
	if n := m["signals"].(map[string]any)["device"].(map[string]any)["network_enrolments_1h"]; n != float64(2) {
		t.Errorf("network_enrolments_1h = %v, want 2 (the TPM device and this one)", n)
	}
}
