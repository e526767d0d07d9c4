package server_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/store"
)

// TestJSONBodyIsOneValue: a JSON body is exactly one value with each key
// once. encoding/json's Decoder.More does not see a stray '}' or ']' after
// the value, and a repeated key (in any spelling encoding/json folds to the
// same field) silently takes the last value, which another parser in front
// of the service may read differently. Each is 400 bad_json, and an
// enrolment refused that way stores no device.
func TestJSONBodyIsOneValue(t *testing.T) {
	e := newEnv(t)
	d := e.enroll()
	const keyA = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	const keyB = `{"kty":"OKP","crv":"Ed25519","x":"GhnyyWk8HTd6f7sSMtGQyZUzLoKDd5UX9uNGtJGV1Qo"}`
	tests := []struct{ name, path, body string }{
		{"challenge, stray brace", "/v1/challenge", `{"device_id":"` + d.id + `"}}`},
		{"challenge, stray bracket", "/v1/challenge", `{"device_id":"` + d.id + `"}]`},
		{"challenge, key twice", "/v1/challenge", `{"device_id":"nope","device_id":"` + d.id + `"}`},
		{"challenge, key twice in another case", "/v1/challenge", `{"device_id":"nope","DEVICE_ID":"` + d.id + `"}`},
		{"enroll, stray brace", "/v1/enroll", `{"public_key":` + keyA + `}}`},
		{"enroll, public_key twice", "/v1/enroll", `{"public_key":` + keyA + `,"public_key":` + keyB + `}`},
		{"enroll, public_key twice, once with a Kelvin sign", "/v1/enroll", `{"public_key":` + keyA + `,"public_\u212aey":` + keyB + `}`},
		{"enroll, x twice in the key", "/v1/enroll", `{"public_key":{"kty":"OKP","crv":"Ed25519","x":"AAAA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.devices()
			status, m := e.post(tt.path, "application/json", []byte(tt.body))
			if status != http.StatusBadRequest || errCode(m) != "bad_json" {
				t.Errorf("got %d %v, want 400 bad_json", status, m)
			}
			if got := e.devices(); got != before {
				t.Errorf("devices: %d before, %d after a refused request", before, got)
			}
		})
	}
	// White space after the value is fine.
	if status, m := e.post("/v1/challenge", "application/json", []byte("{\"device_id\":\""+d.id+"\"}\r\n\t ")); status != http.StatusOK {
		t.Errorf("trailing white space: %d %v, want 200", status, m)
	}
}

func (e *env) devices() (n int) {
	e.t.Helper()
	if err := e.db.QueryRow("SELECT count(*) FROM devices").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestMethodNotAllowedSaysAllow: a 405 names the methods the resource
// takes in Allow (RFC 9110 section 15.5.6), besides the JSON error.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ method, path, allow string }{
		{"GET", "/v1/enroll", "POST"},
		{"PUT", "/v1/enroll/activate", "POST"},
		{"GET", "/v1/challenge", "POST"},
		{"DELETE", "/v1/reports", "POST"},
		{"GET", "/v1/sessions", "POST"},
		{"POST", "/v1/agent/config", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.http.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || !bytes.Contains(raw, []byte(`"method_not_allowed"`)) {
				t.Errorf("got %d %s, want 405 method_not_allowed", resp.StatusCode, raw)
			}
			if got := strings.Join(resp.Header.Values("Allow"), ", "); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestHeadAndNotFound: HEAD is GET without a body, and a 404 names the
// path quoted, control characters escaped.
func TestHeadAndNotFound(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Head(e.http.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /healthz: %d, want 200", resp.StatusCode)
	}
	status, m := e.call("GET", "/no/such\u202ething", "", nil)
	msg, _ := m["error"].(map[string]any)["message"].(string)
	if status != http.StatusNotFound || strings.ContainsRune(msg, '\u202e') || !strings.Contains(msg, `\u202e`) {
		t.Errorf("404: %d %q, want the path quoted with the bidi control escaped", status, msg)
	}
}

// TestRefusedReportChangesNothing: a report that is refused after its
// signature verified (here a replay of an accepted one) must not change
// what the service knows about the device. Replaying an old report of a
// device that has since reported it is a virtual machine must not clear
// that signal for the next decision.
func TestRefusedReportChangesNothing(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	d := e.enroll()
	old := d.sign(d.claims(d.nonce()), d.key) // not virtual
	if status, m := e.post("/v1/reports", evidence.MediaType, old); status != http.StatusOK {
		t.Fatalf("first report: %d %v", status, m)
	}
	facts := healthyFacts(e.clock.Now())
	facts.Virtualization = &evidence.VirtualizationFacts{VirtualMachine: true, Product: "QEMU"}
	cert := d.certificate(&facts)
	if status, m := e.post("/v1/reports", evidence.MediaType, old); status != http.StatusConflict || errCode(m) != "nonce_replayed" {
		t.Fatalf("replayed report: %d %v, want 409 nonce_replayed", status, m)
	}
	status, m := e.call("POST", "/v1/decisions", key, jsonBody(map[string]any{"event": "payment", "account": "u1",
		"amount": "10", "currency": "CNY", "merchant_url": "https://shop.example/pay", "certificate": cert}))
	if status != http.StatusOK {
		t.Fatalf("decision: %d %v", status, m)
	}
	sig, _ := m["signals"].(map[string]any)
	dev, _ := sig["device"].(map[string]any)
	if dev["virtual"] != true {
		t.Errorf("signals.device.virtual = %v after a refused replay, want true (from the last accepted report)", dev["virtual"])
	}
}

// TestSessionHasOneSpelling: base64url decoding ignores the unused bits of
// the last character, so a session id can be spelt several ways. Only the
// spelling the service issued is a session, or a second report for the
// same session gets past session_used under another spelling.
func TestSessionHasOneSpelling(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	status, m := e.call("POST", "/v1/sessions", key, nil)
	if status != http.StatusCreated {
		t.Fatalf("POST /v1/sessions: %d %v", status, m)
	}
	session := m["session"].(string)
	variant := respell(t, session)
	d := e.enroll()
	c := d.claims(d.nonce())
	c.Session = session
	if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c, d.key)); status != http.StatusOK {
		t.Fatalf("session report: %d %v", status, m)
	}
	before := e.rows()
	c2 := d.claims(d.nonce())
	c2.Session = variant
	if status, m := e.post("/v1/reports", evidence.MediaType, d.sign(c2, d.key)); status != http.StatusBadRequest || errCode(m) != "session_invalid" {
		t.Errorf("second report, session spelt %q: %d %v, want 400 session_invalid", variant, status, m)
	}
	if got := e.rows(); got != before {
		t.Errorf("rows %v before, %v after a refused report", before, got)
	}
}

// respell returns another base64url spelling of the same bytes as s.
func respell(t *testing.T, s string) string {
	t.Helper()
	want, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range alphabet {
		v := s[:len(s)-1] + string(c)
		if got, err := base64.RawURLEncoding.DecodeString(v); v != s && err == nil && bytes.Equal(got, want) {
			return v
		}
	}
	t.Fatalf("%q has no other spelling", s)
	return ""
}
