package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
)

// TestDecisionJSONShapes: bodies the fast reader leaves to encoding/json
// get the strict decoder's answer, never an outcome; the same request in
// both readers' shapes gets the same outcome.
func TestDecisionJSONShapes(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"duplicate key", `{"event":"login","account":"a","account":"b"}`, 400, "bad_json"},
		{"duplicate key, other case", `{"event":"login","account":"a","Account":"b"}`, 400, "bad_json"},
		{"duplicate amount", `{"event":"payment","account":"a","amount":"1","amount":"99999","currency":"CNY"}`, 400, "bad_json"},
		{"trailing object", `{"event":"login","account":"a"}{"event":"login"}`, 400, "bad_json"},
		{"trailing garbage", `{"event":"login","account":"a"} x`, 400, "bad_json"},
		{"stray brace", `{"event":"login","account":"a"}}`, 400, "bad_json"},
		{"bidi payee, escaped", `{"event":"login","account":"a","payee":"Acme\u202egnp"}`, 400, "bad_request"},
		{"blank account", `{"event":"login","account":" "}`, 400, "bad_request"},
		{"merchant_url without host name", `{"event":"login","account":"a","merchant_url":"https://:443/"}`, 400, "bad_request"},
		{"amount over the maximum by a millionth", `{"event":"payment","account":"a","amount":1000000000000.000001,"currency":"CNY"}`, 400, "bad_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.decisionRows()
			status, m := e.call("POST", "/v1/decisions", key, []byte(tt.body))
			errObj, _ := m["error"].(map[string]any)
			if status != tt.status || errObj["code"] != tt.code {
				t.Errorf("%d %v, want %d %s", status, m, tt.status, tt.code)
			}
			if _, ok := m["outcome"]; ok || e.decisionRows() != before {
				t.Error("bad input got an outcome")
			}
		})
	}
	// One request, read by the fast path and (escaped) by encoding/json.
	fast := `{"event":"login","account":"u9","payee":"Acme"}`
	slow := `{"event":"login","account":"u\u0039","payee":"Acme"}`
	s1, m1 := e.call("POST", "/v1/decisions", key, []byte(fast))
	s2, m2 := e.call("POST", "/v1/decisions", key, []byte(slow))
	if s1 != http.StatusOK || s2 != http.StatusOK || m1["outcome"] != m2["outcome"] {
		t.Errorf("fast %d %v, slow %d %v", s1, m1["outcome"], s2, m2["outcome"])
	}
	// A payee of 256 Chinese characters is 256 characters.
	body := `{"event":"login","account":"u1","payee":"` + strings.Repeat("商", 256) + `"}`
	if status, m := e.call("POST", "/v1/decisions", key, []byte(body)); status != http.StatusOK {
		t.Errorf("256-character payee: %d %v", status, m)
	}
}

// TestDecisionFeedbackLastWins: feedback can be corrected (a payment
// first reported legitimate turns out to be a chargeback): the last one
// given is kept.
func TestDecisionFeedbackLastWins(t *testing.T) {
	e := newEnv(t)
	key, _ := e.rp("shop", store.ScopeDecisions)
	_, m := e.call("POST", "/v1/decisions", key, []byte(`{"event":"login","account":"u1"}`))
	id := m["decision_id"].(string)
	for _, fb := range []string{"legitimate", "chargeback"} {
		if status, m := e.call("POST", "/v1/decisions/"+id+"/feedback", key, []byte(`{"outcome":"`+fb+`"}`)); status != 200 {
			t.Fatalf("feedback %s: %d %v", fb, status, m)
		}
	}
	if _, m := e.call("GET", "/v1/decisions/"+id, key, nil); m["feedback"] != "chargeback" {
		t.Errorf("feedback = %v, want the last one, chargeback", m["feedback"])
	}
	for _, body := range []string{`{"outcome":"Fraud"}`, `{"outcome":""}`, `{}`, `{"outcome":"fraud","outcome":"legitimate"}`, `{"outcome":"fraud"} x`} {
		if status, _ := e.call("POST", "/v1/decisions/"+id+"/feedback", key, []byte(body)); status != 400 {
			t.Errorf("%s: %d, want 400", body, status)
		}
	}
	if status, _ := e.call("POST", "/v1/decisions/dec_nope/feedback", key, []byte(`{"outcome":"fraud"}`)); status != 404 {
		t.Errorf("feedback on no decision: %d, want 404", status)
	}
}
