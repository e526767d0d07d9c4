package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
)

// TestSessionPath walks the healthgate:// path: the merchant asks for a
// session, the device reports for it, and the decision that names the
// session uses that report instead of a certificate.
func TestSessionPath(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	otherKey, _ := e.rp("other-shop", store.ScopeDecisions)
	newSession := func(k string) string {
		status, m := e.call("POST", "/v1/sessions", k, nil)
		if status != http.StatusCreated {
			t.Fatalf("POST /v1/sessions: %d %v", status, m)
		}
		return m["session"].(string)
	}
	decide := func(k, session string) (int, map[string]any) {
		return e.call("POST", "/v1/decisions", k, jsonBody(map[string]any{"event": "payment", "account": "u1",
			"amount": "10", "currency": "CNY", "merchant_url": "https://shop.example/pay", "session": session}))
	}
	d := e.enroll()

	session := newSession(key)
	// Before the device reports: no certificate, so more proof.
	if status, m := decide(key, session); status != 200 || m["outcome"] != "step_up" {
		t.Errorf("before the report: %d %v, want step_up", status, m)
	}
	c := d.claims(d.nonce())
	c.Session = session
	if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c, d.key)); status != 200 {
		t.Fatalf("session report: %d %v", status, m)
	}
	// A second report for the same session is refused.
	c2 := d.claims(d.nonce())
	c2.Session = session
	if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c2, d.key)); status != http.StatusConflict || errCode(m) != "session_used" {
		t.Errorf("second session report: %d %v, want 409 session_used", status, m)
	}
	if status, m := decide(key, session); status != 200 || m["outcome"] != "allow" {
		t.Errorf("after a healthy report: %d %v, want allow", status, m)
	}
	// Like a proof, the session's report is good for one decision.
	if status, m := decide(key, session); status != http.StatusConflict || errCode(m) != "session_used" {
		t.Errorf("second decision with the session: %d %v, want 409 session_used", status, m)
	}
	// Another relying party cannot use the session.
	if status, m := decide(otherKey, session); status != 400 || errCode(m) != "session_invalid" {
		t.Errorf("other relying party: %d %v, want 400 session_invalid", status, m)
	}
	// A forged session is refused at report time and at decision time.
	forged := session[:len(session)-4] + "AAAA"
	c3 := d.claims(d.nonce())
	c3.Session = forged
	if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c3, d.key)); status != 400 || errCode(m) != "session_invalid" {
		t.Errorf("forged session report: %d %v", status, m)
	}
	if status, m := decide(key, forged); status != 400 || errCode(m) != "session_invalid" {
		t.Errorf("forged session decision: %d %v", status, m)
	}
	// Sessions expire.
	late := newSession(key)
	e.clock.Add(11 * time.Minute)
	if status, m := decide(key, late); status != 400 || errCode(m) != "session_invalid" {
		t.Errorf("expired session: %d %v", status, m)
	}
	if status, _ := e.call("POST", "/v1/sessions", "", nil); status != http.StatusUnauthorized {
		t.Errorf("POST /v1/sessions without a key: %d, want 401", status)
	}
}

// TestProofForAnotherSite: a proof the agent signed for one shop's page
// does not vouch for a payment at another.
func TestProofForAnotherSite(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	cert := d.certificate(nil)
	tx := evidence.Transaction{Account: "u1", Amount: "10", Currency: "CNY", Payee: "p", MerchantURL: "https://evil.example/pay"}
	status, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1",
		"amount": "10", "currency": "CNY", "payee": "p", "merchant_url": tx.MerchantURL, "certificate": cert,
		"proof": d.proof(tx, d.key)})) // signed for https://shop.example
	if status != 400 || errCode(m) != "proof_invalid" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "another site") {
		t.Errorf("proof for another site: %d %v, want 400 proof_invalid", status, m)
	}
}

// TestIntelSignals: a merchant host (or a parent domain) or payee on an
// active intel list reaches the risk policy.
func TestIntelSignals(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	st := e.store()
	ctx := context.Background()
	n, err := intel.Normalize(intel.TypeDomain, "fake-shop.example")
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	if _, err := st.PutIndicators(ctx, []store.Indicator{{
		ID: "ind_test1", Type: string(intel.TypeDomain), Value: n.Value, Source: "test", Confidence: 90, Status: intel.StatusActive,
		FirstSeen: now, LastSeen: now, Expires: now.Add(24 * time.Hour),
		FeedKind: string(n.Entry.Kind), FeedValue: n.Entry.Value, FullHash: n.FullHash,
	}}, store.Change{Actor: "test", Reason: "test", At: now}); err != nil {
		t.Fatal(err)
	}
	e.srv.Maintain(ctx)
	status, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1",
		"amount": "10", "currency": "CNY", "merchant_url": "https://pay.fake-shop.example/checkout"}))
	if status != 200 || m["outcome"] == "allow" || !strings.Contains(strings.Join(reasons(m), ","), "phishing") {
		t.Errorf("merchant on a phishing list: %d %v", status, m)
	}
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestProofReplay: a proof taken off the wire cannot buy a second decision.
func TestProofReplay(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	cert := d.certificate(nil)
	tx := evidence.Transaction{Account: "u1", Amount: "10", Currency: "CNY", Payee: "p", MerchantURL: "https://shop.example/pay"}
	body := jsonBody(map[string]any{"event": "payment", "account": "u1", "amount": "10", "currency": "CNY", "payee": "p",
		"merchant_url": tx.MerchantURL, "certificate": cert, "proof": d.proof(tx, d.key)})
	if status, m := e.call("POST", "/v1/decisions", key, body); status != 200 {
		t.Fatalf("first use: %d %v", status, m)
	}
	status, m := e.call("POST", "/v1/decisions", key, body)
	if status != 400 || errCode(m) != "proof_invalid" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "already used") {
		t.Errorf("replayed proof: %d %v", status, m)
	}
	// merchant_url in another spelling of the same origin (as a platform
	// might send it) matches what the browser told the agent.
	spelled := evidence.Transaction{Account: "u1", Amount: "10", Currency: "CNY", Payee: "p", MerchantURL: "HTTPS://Shop.Example:443/pay"}
	if status, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1", "amount": "10",
		"currency": "CNY", "payee": "p", "merchant_url": spelled.MerchantURL, "certificate": cert, "proof": d.proof(spelled, d.key)})); status != 200 {
		t.Errorf("merchant_url with upper case and the default port: %d %v", status, m)
	}
	// A fresh proof for the same payment is fine.
	body2 := jsonBody(map[string]any{"event": "payment", "account": "u1", "amount": "10", "currency": "CNY", "payee": "p",
		"merchant_url": tx.MerchantURL, "certificate": cert, "proof": d.proof(tx, d.key)})
	if status, m := e.call("POST", "/v1/decisions", key, body2); status != 200 {
		t.Errorf("fresh proof: %d %v", status, m)
	}

	// Another server on the same database (this one restarted, or a second
	// node) refuses the replay too: used proofs are in the store.
	other, err := server.New(context.Background(), server.Options{Store: e.store(), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(other.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("POST", hs.URL+"/v1/decisions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "already used") {
		t.Errorf("proof replayed to another server: %d %s", resp.StatusCode, raw)
	}

	// Maintenance forgets used proofs once they could no longer verify,
	// not before.
	usedProofs := func() (n int) {
		if err := e.db.QueryRow("SELECT count(*) FROM used_proofs").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.srv.Maintain(context.Background())
	if n := usedProofs(); n != 3 {
		t.Errorf("%d used proofs kept, want 3", n)
	}
	e.clock.Add(evidence.MaxProofAge + 2*time.Minute)
	e.srv.Maintain(context.Background())
	if n := usedProofs(); n != 0 {
		t.Errorf("%d used proofs kept after they expired, want 0", n)
	}
	if status, _ := e.call("POST", "/v1/decisions", key, body); status != 400 {
		t.Errorf("an expired, forgotten proof: %d, want 400 (too old)", status)
	}
}
