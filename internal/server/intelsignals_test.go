package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
)

// TestIntelSignalsCanonicalForms: a decision's merchant host is looked up
// in the canonical form the feed lists domains in, so every spelling a
// browser reaches the same host by is on the list.
func TestIntelSignalsCanonicalForms(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.rp("soc", store.ScopeAdmin)
	shop, _ := e.rp("shop", store.ScopeDecisions)
	if status, m := e.call("POST", "/v1/admin/indicators", admin, jsonBody(map[string]any{"indicators": []map[string]any{
		{"type": "domain", "value": "支付宝-login.example"}, // stored as its Punycode form
		{"type": "domain", "value": "3279880203"},        // stored as 195.127.0.11
		{"type": "domain", "value": "pay-evil.example"},
		{"type": "url", "value": "https://bigshop.example/checkout/fake-refund"},
		{"type": "payee", "value": "acct-9"},
	}})); status != http.StatusCreated {
		t.Fatalf("add: %d %v", status, m)
	}
	e.srv.Maintain(context.Background()) // loads the lists decisions use
	for _, tt := range []struct {
		name, url, payee   string
		merchant, payeeHit bool
	}{
		{"listed domain", "https://pay-evil.example/pay", "", true, false},
		{"subdomain", "https://a.b.pay-evil.example/pay", "", true, false},
		{"upper case", "https://PAY-EVIL.Example/pay", "", true, false},
		{"trailing dots", "https://pay-evil.example../pay", "", true, false},
		{"ideographic full stop", "https://pay-evil。example/pay", "", true, false},
		{"internationalised host", "https://支付宝-login.example/pay", "", true, false},
		{"its Punycode", "https://xn---login-hv8iw58f79s.example/pay", "", true, false},
		{"IPv4 as one number", "http://3279880203/pay", "", true, false},
		{"IPv4 in hex", "http://0xC37F000B/pay", "", true, false},
		{"IPv4 dotted", "http://195.127.0.11/pay", "", true, false},
		{"another host", "https://shop.example/pay", "", false, false},
		// A listed URL covers what is below it, as agents match URLs.
		{"listed URL", "https://bigshop.example/checkout/fake-refund", "", true, false},
		{"listed URL, another spelling", "https://BIGSHOP.example/checkout/./fake-refund?x=1", "", true, false},
		{"listed URL's site, another page", "https://bigshop.example/checkout/pay", "", false, false},
		{"parent of a listed domain", "https://example/pay", "", false, false},
		{"listed payee with spaces", "https://shop.example/pay", " acct-9 ", false, true},
		{"another payee", "https://shop.example/pay", "acct-99", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.call("POST", "/v1/decisions", shop, jsonBody(map[string]any{"event": "payment", "account": "u1",
				"amount": "10", "currency": "CNY", "payee": tt.payee, "merchant_url": tt.url}))
			if status != http.StatusOK {
				t.Fatalf("decision: %d %v", status, m)
			}
			sig, _ := m["signals"].(map[string]any)["intel"].(map[string]any)
			if got, want := sig["merchant_phishing"], tt.merchant; got != want {
				t.Errorf("merchant_phishing = %v, want %v", got, want)
			}
			if got, want := sig["payee_phishing"], tt.payeeHit; got != want {
				t.Errorf("payee_phishing = %v, want %v", got, want)
			}
		})
	}
}
