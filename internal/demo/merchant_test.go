package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeHealth answers POST /v1/decisions with status and body, and counts
// the calls.
type fakeHealth struct {
	mu     sync.Mutex
	status int
	body   string
	calls  int
}

func (f *fakeHealth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

// newShop runs the demo merchant in front of a fake health service and
// returns the shop's URL and its log.
func newShop(t *testing.T, health http.Handler) (string, *bytes.Buffer) {
	t.Helper()
	hs := httptest.NewServer(health)
	t.Cleanup(hs.Close)
	var log bytes.Buffer
	m := &Merchant{HealthURL: hs.URL, APIKey: "k", Lang: "en", Account: "demo-shopper-1",
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil))}
	shop := httptest.NewServer(m.Handler())
	t.Cleanup(shop.Close)
	return shop.URL, &log
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// order is what the demo page sends for its one order.
func order(shopURL string) map[string]any {
	return map[string]any{"transaction": map[string]string{"account": "demo-shopper-1", "amount": "128.00",
		"currency": "CNY", "payee": "demo-shop", "merchant_url": shopURL + "/"}, "certificate": "c", "agent": "ok"}
}

func postJSON(t *testing.T, url string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// TestPayDecisionErrorStepsUp: when the decision API answers an error, the
// shopper is asked for the SMS code (which then works), never shown the
// server's message for the merchant, and the merchant logs the error.
func TestPayDecisionErrorStepsUp(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"bad request", 400, `{"error":{"code":"bad_request","message":"amount must be a plain non-negative decimal"}}`},
		{"revoked key", 401, `{"error":{"code":"unauthorized","message":"the API key was revoked"}}`},
		{"server error", 500, `{"error":{"code":"internal","message":"database is locked"}}`},
		{"not JSON", 502, `<html>bad gateway</html>`},
		{"no decision id", 200, `{"outcome":"allow"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shop, log := newShop(t, &fakeHealth{status: tt.status, body: tt.body})
			status, d := postJSON(t, shop+"/pay", order(shop))
			if status != http.StatusOK || d["outcome"] != "step_up" || d["error"] != nil {
				t.Fatalf("pay = %d %v, want 200 and a step_up without the server's error", status, d)
			}
			id, _ := d["decision_id"].(string)
			if id == "" {
				t.Fatalf("step-up without a decision id: %v", d)
			}
			if _, c := postJSON(t, shop+"/pay/confirm", map[string]string{"decision_id": id, "code": SMSCode}); c["ok"] != true {
				t.Errorf("the SMS code did not confirm the step-up: %v", c)
			}
			if !strings.Contains(log.String(), "decision") {
				t.Errorf("the error was not logged: %q", log.String())
			}
		})
	}
}

// TestPayUnreachableStepUpConfirms: the step-up given when the health
// service cannot be reached can be confirmed with the SMS code.
func TestPayUnreachableStepUpConfirms(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	var log bytes.Buffer
	m := &Merchant{HealthURL: url, APIKey: "k", Account: "demo-shopper-1", Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &log}, nil))}
	shop := httptest.NewServer(m.Handler())
	defer shop.Close()
	_, d := postJSON(t, shop.URL+"/pay", order(shop.URL))
	if d["outcome"] != "step_up" {
		t.Fatalf("pay = %v, want step_up", d)
	}
	if _, c := postJSON(t, shop.URL+"/pay/confirm", map[string]any{"decision_id": d["decision_id"], "code": SMSCode}); c["ok"] != true {
		t.Errorf("the SMS code did not confirm the step-up: %v", c)
	}
	if log.Len() == 0 {
		t.Error("the unreachable health service was not logged")
	}
}

// TestPayRejectsAnotherOrder: the shop pays for its own order only; a page
// that sends another amount, currency, payee or account is refused before
// the health service is asked.
func TestPayRejectsAnotherOrder(t *testing.T) {
	tests := []struct{ field, value string }{
		{"amount", "0.01"},
		{"amount", "-128.00"},
		{"amount", ""},
		{"currency", "USD"},
		{"currency", ""},
		{"payee", "attacker"},
		{"account", "someone-else"},
		{"merchant_url", "http://phish.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			health := &fakeHealth{status: 200, body: `{"decision_id":"d1","outcome":"allow"}`}
			shop, _ := newShop(t, health)
			req := order(shop)
			req["transaction"].(map[string]string)[tt.field] = tt.value
			if status, d := postJSON(t, shop+"/pay", req); status != http.StatusBadRequest {
				t.Errorf("pay = %d %v, want 400", status, d)
			}
			health.mu.Lock()
			calls := health.calls
			health.mu.Unlock()
			if calls != 0 {
				t.Error("the health service was asked about a payment that is not the shop's order")
			}
		})
	}
	t.Run("the order itself", func(t *testing.T) {
		shop, _ := newShop(t, &fakeHealth{status: 200, body: `{"decision_id":"d1","outcome":"allow"}`})
		if status, d := postJSON(t, shop+"/pay", order(shop)); status != http.StatusOK || d["outcome"] != "allow" {
			t.Errorf("pay = %d %v, want 200 allow", status, d)
		}
	})
}

// TestConfirm checks the SMS step-up: the right code for a decision of this
// shop, once, and not after too many wrong codes.
func TestConfirm(t *testing.T) {
	pay := func(t *testing.T, outcome string) (string, string) {
		t.Helper()
		shop, _ := newShop(t, &fakeHealth{status: 200, body: `{"decision_id":"d1","outcome":"` + outcome + `"}`})
		if _, d := postJSON(t, shop+"/pay", order(shop)); d["decision_id"] != "d1" {
			t.Fatalf("pay = %v", d)
		}
		return shop, "d1"
	}
	confirm := func(t *testing.T, shop, id, code string) bool {
		t.Helper()
		_, c := postJSON(t, shop+"/pay/confirm", map[string]string{"decision_id": id, "code": code})
		return c["ok"] == true
	}
	t.Run("right code", func(t *testing.T) {
		shop, id := pay(t, "step_up")
		if !confirm(t, shop, id, SMSCode) {
			t.Error("the right code was refused")
		}
	})
	t.Run("wrong code, then right", func(t *testing.T) {
		shop, id := pay(t, "step_up")
		if confirm(t, shop, id, "000000") {
			t.Error("a wrong code was accepted")
		}
		if !confirm(t, shop, id, SMSCode) {
			t.Error("the right code after a typo was refused")
		}
	})
	t.Run("one time only", func(t *testing.T) {
		shop, id := pay(t, "step_up")
		confirm(t, shop, id, SMSCode)
		if confirm(t, shop, id, SMSCode) {
			t.Error("a step-up was confirmed twice")
		}
	})
	t.Run("too many wrong codes", func(t *testing.T) {
		shop, id := pay(t, "step_up")
		for i := range 10 {
			confirm(t, shop, id, strings.Repeat(string(rune('0'+i)), 6))
		}
		if confirm(t, shop, id, SMSCode) {
			t.Error("the code could still be guessed after 10 wrong tries")
		}
	})
	t.Run("denied", func(t *testing.T) {
		shop, id := pay(t, "deny")
		if confirm(t, shop, id, SMSCode) {
			t.Error("a denied payment was confirmed")
		}
	})
	t.Run("unknown decision", func(t *testing.T) {
		shop, _ := pay(t, "step_up")
		if confirm(t, shop, "", SMSCode) || confirm(t, shop, "another", SMSCode) {
			t.Error("a decision the shop never asked for was confirmed")
		}
	})
}
