package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// rp registers a relying party directly in the store and returns its key.
func (e *env) rp(name string, scopes ...string) (key, keyID string) {
	e.t.Helper()
	st := e.store()
	id := "rp-" + name
	secret, k, err := server.NewAPIKey(id, scopes, 0, e.clock.Now(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := st.CreateRelyingParty(context.Background(), store.RelyingParty{ID: id, Name: name, Created: e.clock.Now()}, k); err != nil {
		e.t.Fatal(err)
	}
	return secret, k.ID
}

// store opens a second handle on the env's database (WAL: both see the same data).
func (e *env) store() store.Store {
	e.t.Helper()
	var path string
	if err := e.db.QueryRow("PRAGMA database_list").Scan(new(int), new(string), &path); err != nil {
		e.t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) call(method, path, key string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
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

// certificate reports the device's health and returns its certificate.
func (d *device) certificate(facts *evidence.Facts) string {
	c := d.claims(d.nonce())
	if facts != nil {
		c.Facts = *facts
	}
	status, m := d.envr.post("/v1/reports", evidence.MediaType, d.sign(c, d.key))
	if status != http.StatusOK {
		d.envr.t.Fatalf("report: %d %v", status, m)
	}
	return m["certificate"].(string)
}

func (d *device) proof(tx evidence.Transaction, key ed25519.PrivateKey) string {
	h, err := evidence.TransactionHash(tx)
	if err != nil {
		d.envr.t.Fatal(err)
	}
	p, err := evidence.SignProof(evidence.Proof{TxHash: h, Origin: "https://shop.example", IssuedAt: d.envr.clock.Now().Unix()}, key)
	if err != nil {
		d.envr.t.Fatal(err)
	}
	return string(p)
}

func (e *env) decisionRows() int {
	var n int
	if err := e.db.QueryRow("SELECT count(*) FROM decisions").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

func reasons(m map[string]any) []string {
	var out []string
	rs, _ := m["reasons"].([]any)
	for _, r := range rs {
		out = append(out, r.(string))
	}
	return out
}

func TestDecisions(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	healthy := d.certificate(nil)
	risky := healthyFacts(e.clock.Now())
	risky.Firewall.Enabled = false
	atRisk := d.certificate(&risky)
	bad := healthyFacts(e.clock.Now())
	bad.Processes.Running = append(bad.Processes.Running, evidence.Process{Name: "AnyDesk.exe"})
	compromised := d.certificate(&bad)

	tx := evidence.Transaction{Account: "u1", Amount: "100.00", Currency: "CNY", Payee: "Acme", MerchantURL: "https://shop.example/pay"}
	body := func(cert string, amount string, proof bool) []byte {
		t := tx
		t.Amount = amount
		req := map[string]any{"event": "payment", "account": t.Account, "amount": t.Amount, "currency": t.Currency,
			"payee": t.Payee, "merchant_url": t.MerchantURL, "channel": "web", "ip": "203.0.113.7"}
		if cert != "" {
			req["certificate"] = cert
		}
		if proof {
			req["proof"] = d.proof(t, d.key)
		}
		return jsonBody(req)
	}
	for _, tt := range []struct {
		name    string
		body    []byte
		outcome string
		reason  string
	}{
		{"healthy, proven, small", body(healthy, "100.00", true), "allow", "new_device"},
		{"no certificate: step up, not deny", body("", "10", false), "step_up", "certificate_missing"},
		{"at risk, small: warn", body(atRisk, "100.00", true), "warn", "device_at_risk"},
		{"at risk, large: step up", body(atRisk, "5000", true), "step_up", "device_at_risk_large_amount"},
		{"remote control during payment: deny", body(compromised, "10", true), "deny", "remote_control_active"},
		{"healthy but unproven, large", body(healthy, "2500", false), "step_up", "certificate_unproven"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.call("POST", "/v1/decisions", key, tt.body)
			if status != http.StatusOK {
				t.Fatalf("status %d %v", status, m)
			}
			if got := m["outcome"]; got != tt.outcome {
				t.Errorf("outcome = %v, want %s (reasons %v)", got, tt.outcome, m["reasons"])
			}
			if rs := reasons(m); !strings.Contains(strings.Join(rs, ","), tt.reason) {
				t.Errorf("reasons = %v, want %s among them", rs, tt.reason)
			}
			msg, _ := m["message"].(map[string]any)
			if msg["zh-CN"] == "" || msg["en"] == "" {
				t.Errorf("message = %v", m["message"])
			}
			if tt.outcome != "allow" {
				if rem, _ := m["remediation"].([]any); len(rem) == 0 {
					t.Error("no remediation")
				}
			}
			id := m["decision_id"].(string)
			status, got := e.call("GET", "/v1/decisions/"+id, key, nil)
			if status != http.StatusOK || got["outcome"] != tt.outcome {
				t.Errorf("fetch: %d %v", status, got)
			}
		})
	}

	// Feedback, and another relying party cannot see or annotate.
	_, m := e.call("POST", "/v1/decisions", key, body(healthy, "1", true))
	id := m["decision_id"].(string)
	if status, m := e.call("POST", "/v1/decisions/"+id+"/feedback", key, []byte(`{"outcome":"fraud"}`)); status != 200 {
		t.Errorf("feedback: %d %v", status, m)
	}
	if _, m := e.call("GET", "/v1/decisions/"+id, key, nil); m["feedback"] != "fraud" {
		t.Errorf("feedback not kept: %v", m)
	}
	if status, _ := e.call("POST", "/v1/decisions/"+id+"/feedback", key, []byte(`{"outcome":"maybe"}`)); status != 400 {
		t.Errorf("bad feedback: %d", status)
	}
	other, _ := e.rp("bank", store.ScopeDecisions)
	if status, _ := e.call("GET", "/v1/decisions/"+id, other, nil); status != http.StatusNotFound {
		t.Errorf("another relying party fetched the decision: %d", status)
	}
	if status, _ := e.call("POST", "/v1/decisions/"+id+"/feedback", other, []byte(`{"outcome":"legitimate"}`)); status != http.StatusNotFound {
		t.Errorf("another relying party gave feedback: %d", status)
	}
	// Nothing raw is stored: not the account, the payee nor the IP.
	var account, payee, ipNet string
	if err := e.db.QueryRow("SELECT account, payee, ip_net FROM decisions LIMIT 1").Scan(&account, &payee, &ipNet); err != nil {
		t.Fatal(err)
	}
	if account == "u1" || payee == "Acme" || strings.Contains(ipNet, "203.0.113") || ipNet == "" {
		t.Errorf("raw values stored: %q %q %q", account, payee, ipNet)
	}
}

func TestDecisionVelocity(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	cert := d.certificate(nil)
	var last map[string]any
	for i := range 7 {
		tx := evidence.Transaction{Account: "u1", Amount: "10", Currency: "CNY", MerchantURL: "https://shop.example/pay"}
		_, last = e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1",
			"amount": "10", "currency": "CNY", "merchant_url": tx.MerchantURL, "certificate": cert, "proof": d.proof(tx, d.key)}))
		if i == 0 && last["outcome"] != "allow" {
			t.Fatalf("first payment: %v", last)
		}
	}
	if last["outcome"] != "step_up" || !strings.Contains(strings.Join(reasons(last), ","), "velocity_account") {
		t.Errorf("seventh payment in a minute: %v %v", last["outcome"], last["reasons"])
	}
}

func TestDecisionAuth(t *testing.T) {
	e := newEnv(t)
	key, keyID := e.rp("shop", store.ScopeDecisions)
	feedOnly, _ := e.rp("feeder", store.ScopeFeed)
	good := []byte(`{"event":"login","account":"u1"}`)
	for _, tt := range []struct {
		name, key string
		status    int
		code      string
	}{
		{"missing", "", 401, "unauthorized"},
		{"garbage", "nope", 401, "unauthorized"},
		{"wrong secret", key[:len(key)-4] + "0000", 401, "unauthorized"},
		{"wrong scope", feedOnly, 403, "forbidden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.call("POST", "/v1/decisions", tt.key, good)
			if errObj, _ := m["error"].(map[string]any); status != tt.status || errObj["code"] != tt.code {
				t.Errorf("%d %v, want %d %s", status, m, tt.status, tt.code)
			}
		})
	}
	if status, m := e.call("POST", "/v1/decisions", key, good); status != 200 {
		t.Fatalf("good key: %d %v", status, m)
	}
	n := e.decisionRows()
	if err := e.store().RevokeAPIKey(context.Background(), keyID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Revocation takes effect once the cached key ages out.
	e.clock.Add(server.KeyCacheTTL + time.Second)
	if status, _ := e.call("POST", "/v1/decisions", key, good); status != 401 {
		t.Errorf("revoked key: %d, want 401", status)
	}
	if got := e.decisionRows(); got != n {
		t.Errorf("refused request stored a decision: %d -> %d", n, got)
	}
}

func TestDecisionBadInput(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	cert := d.certificate(nil)
	// A certificate from another deployment: a second server, its own keys.
	e2 := newEnv(t)
	d2 := e2.enroll()
	foreign := d2.certificate(nil)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	tx := evidence.Transaction{Account: "u1", Amount: "10", Currency: "CNY"}
	base := func(mod func(m map[string]any)) []byte {
		m := map[string]any{"event": "payment", "account": "u1", "amount": "10", "currency": "CNY", "certificate": cert}
		mod(m)
		return jsonBody(m)
	}
	forgedCert := cert[:len(cert)-6] + "AAAAAA"
	for _, tt := range []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"negative amount", base(func(m map[string]any) { m["amount"] = "-5" }), 400, "bad_request"},
		{"negative number", base(func(m map[string]any) { m["amount"] = -5 }), 400, "bad_request"},
		{"NaN", base(func(m map[string]any) { m["amount"] = "NaN" }), 400, "bad_request"},
		{"Inf", base(func(m map[string]any) { m["amount"] = "Infinity" }), 400, "bad_request"},
		{"huge", base(func(m map[string]any) { m["amount"] = "1e300" }), 400, "bad_request"},
		{"huge digits", base(func(m map[string]any) { m["amount"] = "99999999999999999" }), 400, "bad_request"},
		{"unknown currency", base(func(m map[string]any) { m["currency"] = "XYZ" }), 400, "bad_request"},
		{"lower-case currency", base(func(m map[string]any) { m["currency"] = "cny" }), 400, "bad_request"},
		{"missing amount on payment", base(func(m map[string]any) { delete(m, "amount") }), 400, "bad_request"},
		{"unknown event", base(func(m map[string]any) { m["event"] = "refund" }), 400, "bad_request"},
		{"bad channel", base(func(m map[string]any) { m["channel"] = "fax" }), 400, "bad_request"},
		{"bad ip", base(func(m map[string]any) { m["ip"] = "300.1.1.1" }), 400, "bad_request"},
		{"bad merchant url", base(func(m map[string]any) { m["merchant_url"] = "javascript:alert(1)" }), 400, "bad_request"},
		{"long payee", base(func(m map[string]any) { m["payee"] = strings.Repeat("p", 300) }), 400, "bad_request"},
		{"1 MB payee", base(func(m map[string]any) { m["payee"] = strings.Repeat("p", 1<<20) }), 413, "too_large"},
		{"unknown field", base(func(m map[string]any) { m["surprise"] = 1 }), 400, "bad_json"},
		{"forged certificate", base(func(m map[string]any) { m["certificate"] = forgedCert }), 400, "certificate_invalid"},
		{"certificate of another deployment", base(func(m map[string]any) { m["certificate"] = foreign }), 400, "certificate_invalid"},
		{"proof by a foreign key", base(func(m map[string]any) { m["proof"] = d.proof(tx, stranger) }), 400, "proof_invalid"},
		{"proof for another transaction", base(func(m map[string]any) {
			other := tx
			other.Amount = "1"
			m["proof"] = d.proof(other, d.key)
		}), 400, "proof_invalid"},
		{"proof garbage", base(func(m map[string]any) { m["proof"] = "a.b.c" }), 400, "proof_invalid"},
		// The proof was made for https://shop.example: a payment naming
		// no site, or another one, is not what the device vouched for.
		{"proof for a page, no merchant_url", base(func(m map[string]any) { m["proof"] = d.proof(tx, d.key) }), 400, "proof_invalid"},
		{"proof for another site", base(func(m map[string]any) {
			other := tx
			other.MerchantURL = "https://shop.example.evil/pay"
			m["merchant_url"], m["proof"] = other.MerchantURL, d.proof(other, d.key)
		}), 400, "proof_invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.decisionRows()
			status, m := e.call("POST", "/v1/decisions", key, tt.body)
			errObj, _ := m["error"].(map[string]any)
			if status != tt.status || errObj["code"] != tt.code {
				t.Errorf("%d %v, want %d %s", status, m, tt.status, tt.code)
			}
			if _, ok := m["outcome"]; ok {
				t.Error("bad input got an outcome")
			}
			if got := e.decisionRows(); got != before {
				t.Errorf("bad input stored a decision")
			}
		})
	}
	// An expired certificate is a signal, not an error.
	e.clock.Add(5 * time.Hour)
	status, m := e.call("POST", "/v1/decisions", key, base(func(m map[string]any) {}))
	if status != 200 || m["outcome"] != "step_up" || !strings.Contains(strings.Join(reasons(m), ","), "certificate_expired") {
		t.Errorf("expired certificate: %d %v", status, m)
	}
}

// TestDecisionRuleError: when a risk rule fails at run time the answer is
// a step-up that says the check could not finish, not "no problems were
// found", in the answer and when the decision is fetched.
func TestDecisionRuleError(t *testing.T) {
	pol, err := risk.Load([]byte("id: broken\nversion: 1\nrules:\n" +
		"- id: velocity_device\n  condition: signals.device.findings[3] == 'x'\n  outcome: warn\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(o *server.Options) { o.RiskPolicy = pol })
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	status, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1",
		"amount": "10", "currency": "CNY", "certificate": d.certificate(nil)}))
	if status != 200 || m["outcome"] != "step_up" {
		t.Fatalf("%d %v, want step_up", status, m)
	}
	for _, got := range []map[string]any{m, func() map[string]any {
		_, fetched := e.call("GET", "/v1/decisions/"+m["decision_id"].(string), key, nil)
		return fetched
	}()} {
		msg, _ := got["message"].(map[string]any)
		if en, _ := msg["en"].(string); !strings.Contains(en, "could not finish") {
			t.Errorf("message %q, want the check-could-not-finish text", en)
		}
	}
}
