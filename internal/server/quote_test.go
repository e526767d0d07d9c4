package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/token"
)

// tpmDevice is a device whose key is in a software TPM, enrolled by the
// agent (so the server holds its AK).
type tpmDevice struct {
	e     *env
	key   *devicekey.TPMKey
	agent *agent.Agent
	id    string
	root  string // the device's file tree
}

func enrollTPMDevice(t *testing.T, e *env, opts devicekey.TPMOptions) *tpmDevice {
	t.Helper()
	opts.StateDir = t.TempDir()
	key, err := devicekey.OpenTPM(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { key.Close() })
	root := t.TempDir()
	a, err := agent.New(agent.Config{Server: e.http.URL, StateDir: opts.StateDir, Root: root, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Enroll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &tpmDevice{e: e, key: key, agent: a, id: id, root: root}
}

func (d *tpmDevice) nonce() string {
	d.e.t.Helper()
	status, m := d.e.post("/v1/challenge", "application/json", []byte(`{"device_id":"`+d.id+`"}`))
	if status != http.StatusOK {
		d.e.t.Fatalf("challenge: %d %v", status, m)
	}
	return m["nonce"].(string)
}

func (d *tpmDevice) quote(nonce string) *evidence.TPMQuote {
	d.e.t.Helper()
	q, err := d.key.Quote(evidence.TPMQuoteData(nonce))
	if err != nil {
		d.e.t.Fatal(err)
	}
	return q
}

// report signs, with the device's TPM key, a healthy report for nonce
// carrying q.
func (d *tpmDevice) report(nonce string, q *evidence.TPMQuote) []byte {
	d.e.t.Helper()
	c := &evidence.Claims{
		Nonce: nonce, UEID: d.id, IssuedAt: d.e.clock.Now().Unix(), SWName: "test-agent", SWVersion: "1",
		Platform: "linux", Facts: healthyFacts(d.e.clock.Now()), TPMQuote: q,
	}
	tok, err := evidence.Sign(c, d.key)
	if err != nil {
		d.e.t.Fatal(err)
	}
	return tok
}

func hardwareClaim(t *testing.T, e *env, cert string) int {
	t.Helper()
	jwks, err := token.ParseJWKS(e.srv.Issuer().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	c, err := token.Verify(context.Background(), []byte(cert), jwks, token.WithNow(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for _, ap := range c.Submods {
		return ap.TrustVector["hardware"]
	}
	t.Fatal("certificate has no appraisal")
	return 0
}

// TestTPMQuoteBoundReport: the agent of a TPM device quotes its PCRs over
// the nonce of every report; the server verifies the quote with the AK it
// stored at activation and the certificate says hardware affirming.
func TestTPMQuoteBoundReport(t *testing.T) {
	tpm := tpmtest.Start(t)
	var st store.Store
	e := newEnvWith(t, func(o *server.Options) { st = o.Store })
	d := enrollTPMDevice(t, e, devicekey.TPMOptions{Simulator: tpm.Addr})

	att, err := d.key.Attestation()
	if err != nil {
		t.Fatal(err)
	}
	ak, err := st.DeviceAK(context.Background(), d.id)
	if err != nil || !bytes.Equal(ak, att.AKPublic) {
		t.Fatalf("stored AK = %x, %v; want the enrolment's AK", ak, err)
	}
	res, err := d.agent.ReportOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hardwareClaim(t, e, res.Certificate), 2; got != want {
		t.Errorf("trust vector hardware = %d, want %d", got, want)
	}
}

// TestTPMQuoteRefused sends reports of a TPM device whose quote is missing
// or does not bind the report; each is refused with a clear code and
// leaves the store as it was.
func TestTPMQuoteRefused(t *testing.T) {
	tpm, otherTPM := tpmtest.Start(t), tpmtest.Start(t)
	e := newEnv(t)
	d := enrollTPMDevice(t, e, devicekey.TPMOptions{Simulator: tpm.Addr})
	other, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: otherTPM.Addr, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	// A quote that was good for an accepted report, for the replay case.
	oldNonce := d.nonce()
	oldQuote := d.quote(oldNonce)
	if status, m := e.post("/v1/reports", evidence.MediaType, d.report(oldNonce, oldQuote)); status != http.StatusOK {
		t.Fatalf("quote-bound report: %d %v", status, m)
	}

	tests := []struct {
		name   string
		quote  func(nonce string) *evidence.TPMQuote
		status int
		code   string
	}{
		{"missing quote", func(string) *evidence.TPMQuote { return nil }, 400, "tpm_quote_missing"},
		{"tampered quote", func(n string) *evidence.TPMQuote {
			q := d.quote(n)
			q.Quote[len(q.Quote)-1] ^= 1
			return q
		}, 401, "tpm_quote_invalid"},
		{"tampered signature", func(n string) *evidence.TPMQuote {
			q := d.quote(n)
			q.Signature[len(q.Signature)-1] ^= 1
			return q
		}, 401, "tpm_quote_invalid"},
		{"PCR value changed", func(n string) *evidence.TPMQuote {
			q := d.quote(n)
			q.PCRs[7].Digest[0] ^= 1
			return q
		}, 401, "tpm_quote_invalid"},
		{"PCRs left out", func(n string) *evidence.TPMQuote {
			q := d.quote(n)
			q.PCRs = q.PCRs[:8]
			return q
		}, 401, "tpm_quote_invalid"},
		{"quote over another nonce", func(string) *evidence.TPMQuote { return d.quote(d.nonce()) }, 401, "tpm_quote_invalid"},
		{"replayed quote of an earlier report", func(string) *evidence.TPMQuote { return oldQuote }, 401, "tpm_quote_invalid"},
		{"quote by another TPM's AK", func(n string) *evidence.TPMQuote {
			q, err := other.Quote(evidence.TPMQuoteData(n))
			if err != nil {
				t.Fatal(err)
			}
			return q
		}, 401, "tpm_quote_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := d.nonce()
			body := d.report(n, tt.quote(n))
			before := e.rows()
			status, m := e.post("/v1/reports", evidence.MediaType, body)
			if got, want := status, tt.status; got != want {
				t.Errorf("status = %d, want %d (%v)", got, want, m)
			}
			if got, want := code(m), tt.code; got != want {
				t.Errorf("error code = %q, want %q (%v)", got, want, m)
			}
			if _, ok := m["certificate"]; ok {
				t.Error("a refused report got a certificate")
			}
			if got := e.rows(); got != before {
				t.Errorf("store changed from %v to %v", before, got)
			}
		})
	}

	// The whole earlier report again: its nonce is spent.
	if status, m := e.post("/v1/reports", evidence.MediaType, d.report(oldNonce, oldQuote)); status != http.StatusConflict || code(m) != "nonce_replayed" {
		t.Errorf("replayed report: %d %v, want 409 nonce_replayed", status, m)
	}
}

// TestTPMQuoteEventLog replays a recorded firmware event log: the software
// TPM's PCRs are extended as that boot extended them and the agent sends
// the log with its quote. The server replays it against the quoted PCRs;
// Secure Boot on in the log must agree with the reported fact.
func TestTPMQuoteEventLog(t *testing.T) {
	tpm := tpmtest.Start(t)
	logPath, log := tpmtest.SecureBootEventLog(t)
	tpm.ExtendPCRs(t, log)
	e := newEnv(t)
	d := enrollTPMDevice(t, e, devicekey.TPMOptions{Simulator: tpm.Addr, SimulatorEventLog: logPath})

	setSecureBoot := func(on byte) {
		dir := filepath.Join(d.root, "sys", "firmware", "efi", "efivars")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"), []byte{6, 0, 0, 0, on}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setSecureBoot(1)
	res, err := d.agent.ReportOnce(context.Background())
	if err != nil {
		t.Fatalf("report with Secure Boot on, as the event log says: %v", err)
	}
	if got, want := hardwareClaim(t, e, res.Certificate), 2; got != want {
		t.Errorf("trust vector hardware = %d, want %d", got, want)
	}

	// The agent says Secure Boot is off; the measured boot says on.
	setSecureBoot(0)
	before := e.rows()
	_, err = d.agent.ReportOnce(context.Background())
	var apiErr *agent.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != "tpm_secure_boot_mismatch" {
		t.Errorf("report contradicting the event log: %v, want 400 tpm_secure_boot_mismatch", err)
	}
	if got := e.rows(); got != before {
		t.Errorf("store changed from %v to %v", before, got)
	}

	// An event log that does not replay to the quoted PCRs.
	n := d.nonce()
	q := d.quote(n)
	q.EventLog = q.EventLog[:len(q.EventLog)/2]
	status, m := e.post("/v1/reports", evidence.MediaType, d.report(n, q))
	if status != http.StatusUnauthorized || code(m) != "tpm_quote_invalid" {
		t.Errorf("truncated event log: %d %v, want 401 tpm_quote_invalid", status, m)
	}
	if got := e.rows(); got != before {
		t.Errorf("store changed from %v to %v", before, got)
	}
}

// TestTPMDeviceEnrolledBeforeQuotes: a device recorded as hardware-bound
// before the server kept AKs has none. Its reports are accepted without a
// quote, but hardware is no longer affirming; the agent enrols again once,
// activation stores the AK, and from then on quotes are required.
func TestTPMDeviceEnrolledBeforeQuotes(t *testing.T) {
	tpm := tpmtest.Start(t)
	var st store.Store
	e := newEnvWith(t, func(o *server.Options) { st = o.Store })
	state := t.TempDir()
	key, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	jwk, _ := devicekey.PublicJWK(key.Public())
	raw, _ := json.Marshal(jwk)
	ctx := context.Background()
	legacy, _, err := st.EnrollDevice(ctx, store.Device{ID: server.DeviceID(jwk.Thumbprint()), PublicKey: raw, JKT: jwk.Thumbprint(), Hardware: true, EnrolledAt: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d := &tpmDevice{e: e, key: key, id: legacy.ID}

	n := d.nonce()
	status, m := e.post("/v1/reports", evidence.MediaType, d.report(n, nil))
	if status != http.StatusOK {
		t.Fatalf("report without quote of a device without AK: %d %v", status, m)
	}
	if got := hardwareClaim(t, e, m["certificate"].(string)); got == 2 {
		t.Error("a report not bound to a quote got hardware affirming")
	}

	// An older agent's enrolment record has no "quotes": the agent enrols
	// again, the server challenges it and stores the AK.
	rec, _ := json.Marshal(agent.Enrolment{Server: e.http.URL, DeviceID: legacy.ID, JKT: jwk.Thumbprint(), Hardware: true})
	if err := os.WriteFile(filepath.Join(state, "enrolment.json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{Server: e.http.URL, StateDir: state, Root: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.ReportOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeviceAK(ctx, legacy.ID); err != nil {
		t.Fatalf("AK after the agent enrolled again: %v", err)
	}
	if got, want := hardwareClaim(t, e, res.Certificate), 2; got != want {
		t.Errorf("trust vector hardware = %d, want %d", got, want)
	}
	n = d.nonce()
	if status, m := e.post("/v1/reports", evidence.MediaType, d.report(n, nil)); status != http.StatusBadRequest || code(m) != "tpm_quote_missing" {
		t.Errorf("report without quote once the AK is stored: %d %v, want 400 tpm_quote_missing", status, m)
	}
}

// TestTPMAgentWithoutQuotes: an agent from before quotes enrols a TPM key
// afresh without saying it quotes. The server does not keep its AK, so its
// reports, which carry no quote, are still accepted (hardware not
// affirming) instead of being refused until the agent is updated.
func TestTPMAgentWithoutQuotes(t *testing.T) {
	tpm := tpmtest.Start(t)
	var st store.Store
	e := newEnvWith(t, func(o *server.Options) { st = o.Store })
	key, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	jwk, _ := devicekey.PublicJWK(key.Public())
	att, err := key.Attestation()
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"public_key": jwk, "platform": "linux", "tpm": att}
	b, _ := json.Marshal(body)
	status, m := e.post("/v1/enroll", "application/json", b)
	if status != http.StatusAccepted {
		t.Fatalf("enrol: %d %v", status, m)
	}
	var ch devicekey.TPMChallenge
	raw, _ := json.Marshal(m["activation"])
	if err := json.Unmarshal(raw, &ch); err != nil {
		t.Fatal(err)
	}
	secret, err := key.ActivateCredential(ch)
	if err != nil {
		t.Fatal(err)
	}
	body["activation"] = devicekey.TPMActivation{Secret: secret, ExpiresAt: ch.ExpiresAt}
	b, _ = json.Marshal(body)
	status, m = e.post("/v1/enroll/activate", "application/json", b)
	if status != http.StatusCreated || m["hardware"] != true {
		t.Fatalf("activate without quotes: %d %v, want 201 hardware", status, m)
	}
	id := m["device_id"].(string)
	if _, err := st.DeviceAK(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AK of an agent that does not quote: err = %v, want ErrNotFound", err)
	}
	d := &tpmDevice{e: e, key: key, id: id}
	status, m = e.post("/v1/reports", evidence.MediaType, d.report(d.nonce(), nil))
	if status != http.StatusOK {
		t.Fatalf("report without quote: %d %v, want 200", status, m)
	}
	if got := hardwareClaim(t, e, m["certificate"].(string)); got == 2 {
		t.Error("a report not bound to a quote got hardware affirming")
	}
}
