package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/store"
)

// TestValidateEdges: inputs at the edges of the documented grammar
// (docs/DECISIONS.md) are refused or accepted as documented.
func TestValidateEdges(t *testing.T) {
	base := func() DecisionRequest {
		return DecisionRequest{Event: "payment", Account: "u1", Amount: json.RawMessage(`"10"`), Currency: "CNY"}
	}
	for _, tt := range []struct {
		name string
		mod  func(r *DecisionRequest)
		ok   bool
	}{
		// Amounts: ≤ 10¹², exactly.
		{"amount 10^12", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"1000000000000"`) }, true},
		{"amount 10^12.000000", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"1000000000000.000000"`) }, true},
		{"amount just under 10^12", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"999999999999.999999"`) }, true},
		{"amount just over 10^12", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"1000000000000.000001"`) }, false},
		{"amount number just over 10^12", func(r *DecisionRequest) { r.Amount = json.RawMessage(`1000000000000.000001`) }, false},
		{"amount 1e3", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"1e3"`) }, false},
		{"amount -0", func(r *DecisionRequest) { r.Amount = json.RawMessage(`-0`) }, false},
		{"amount 00.5", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"00.5"`) }, false},
		{"amount 1,000", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"1,000"`) }, false},
		{"amount leading space", func(r *DecisionRequest) { r.Amount = json.RawMessage(`" 1"`) }, false},
		{"amount full-width digits", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"１００"`) }, false},
		{"amount 20 digits", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"12345678901234567890"`) }, false},
		{"amount 7 decimals", func(r *DecisionRequest) { r.Amount = json.RawMessage(`"0.0000001"`) }, false},
		{"amount 0.1", func(r *DecisionRequest) { r.Amount = json.RawMessage(`0.1`) }, true},
		// Currencies.
		{"currency XAU", func(r *DecisionRequest) { r.Currency = "XAU" }, false},
		{"currency funds code CLF", func(r *DecisionRequest) { r.Currency = "CLF" }, false},
		{"currency lower case", func(r *DecisionRequest) { r.Currency = "usd" }, false},
		// merchant_url: an absolute http(s) URL with a host a browser
		// could have as an origin.
		{"url no host name", func(r *DecisionRequest) { r.MerchantURL = "https://:443/pay" }, false},
		{"url port only", func(r *DecisionRequest) { r.MerchantURL = "http://:80" }, false},
		{"url port out of range", func(r *DecisionRequest) { r.MerchantURL = "https://shop.example:99999/pay" }, false},
		{"url port 0", func(r *DecisionRequest) { r.MerchantURL = "https://shop.example:0/pay" }, false},
		{"url zone", func(r *DecisionRequest) { r.MerchantURL = "https://[fe80::1%25eth0]/pay" }, false},
		{"url javascript", func(r *DecisionRequest) { r.MerchantURL = "javascript:alert(1)" }, false},
		{"url data", func(r *DecisionRequest) { r.MerchantURL = "data:text/html,<b>hi</b>" }, false},
		{"url too long", func(r *DecisionRequest) { r.MerchantURL = "https://shop.example/" + strings.Repeat("a", 2048) }, false},
		{"url IDN", func(r *DecisionRequest) { r.MerchantURL = "https://支付宝.example/pay" }, true},
		{"url IPv6", func(r *DecisionRequest) { r.MerchantURL = "https://[2001:db8::1]:8443/pay" }, true},
		{"url port", func(r *DecisionRequest) { r.MerchantURL = "https://shop.example:8443/pay" }, true},
		// ip.
		{"ip zone", func(r *DecisionRequest) { r.IP = "fe80::1%eth0" }, false},
		{"ip IPv4-mapped", func(r *DecisionRequest) { r.IP = "::ffff:203.0.113.7" }, true},
		{"ip private", func(r *DecisionRequest) { r.IP = "10.1.2.3" }, true},
		// account and payee: printable characters, counted as characters.
		{"account blank", func(r *DecisionRequest) { r.Account = "   " }, false},
		{"account NUL", func(r *DecisionRequest) { r.Account = "u\x001" }, false},
		{"payee NUL", func(r *DecisionRequest) { r.Payee = "Acme\x00" }, false},
		{"payee right-to-left override", func(r *DecisionRequest) { r.Payee = "Acme\u202egpj.exe" }, false},
		{"payee isolate", func(r *DecisionRequest) { r.Payee = "Acme\u2066x\u2069" }, false},
		{"account zero-width space", func(r *DecisionRequest) { r.Account = "u\u200b1" }, false},
		{"account byte order mark", func(r *DecisionRequest) { r.Account = "\ufeffu1" }, false},
		{"payee line separator", func(r *DecisionRequest) { r.Payee = "Acme\u2028Ltd" }, false},
		{"payee Persian with ZWNJ", func(r *DecisionRequest) { r.Payee = "می\u200cخواهم" }, true},
		{"payee ideographic space", func(r *DecisionRequest) { r.Payee = "上海\u3000商店" }, true},
		{"payee 256 Chinese characters", func(r *DecisionRequest) { r.Payee = strings.Repeat("商", 256) }, true},
		{"payee 257 Chinese characters", func(r *DecisionRequest) { r.Payee = strings.Repeat("商", 257) }, false},
		{"account 256 characters", func(r *DecisionRequest) { r.Account = strings.Repeat("é", 256) }, true},
		{"account 257 characters", func(r *DecisionRequest) { r.Account = strings.Repeat("a", 257) }, false},
		{"payee invalid UTF-8", func(r *DecisionRequest) { r.Payee = "\xff" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.mod(&r)
			_, err := validate(r)
			if got := err == nil; got != tt.ok {
				t.Errorf("validate: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestAccountNotNormalised: the account is the relying party's opaque id,
// compared byte for byte everywhere (its keyed hash, the device's account
// set, the proof's transaction hash): two Unicode spellings of "café" are
// two accounts, as they are in the relying party's own database.
func TestAccountNotNormalised(t *testing.T) {
	d := &decisions{hashKey: []byte("k")}
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	for _, a := range []string{nfc, nfd} {
		if _, err := validate(DecisionRequest{Event: "login", Account: a}); err != nil {
			t.Fatalf("%q: %v", a, err)
		}
	}
	if d.hash("account", "rp", nfc) == d.hash("account", "rp", nfd) {
		t.Error("two spellings of an account hash the same: the account is normalised somewhere")
	}
}

// TestResponseNeverSaysGoAhead: an answer that is not allow never carries
// the "no problems were found, go ahead" message, even when none of its
// reasons has a catalog text (a decision fetched after the policy that
// made it was replaced).
func TestResponseNeverSaysGoAhead(t *testing.T) {
	d := &decisions{findings: map[string]remediation{}}
	if err := d.encodeTexts(); err != nil {
		t.Fatal(err)
	}
	for _, outcome := range []string{risk.Warn, risk.StepUp, risk.Deny} {
		rec := store.Decision{ID: "dec_x", Outcome: outcome, Reasons: []string{"rule_of_an_old_policy"}, Signals: []byte(`{}`)}
		out := d.response(rec, &risk.Signals{}, nil, "")
		if out.Message["en"] == allowMessage["en"] || string(out.messageRaw) == string(allowMessageJSON) {
			t.Errorf("%s: message %q", outcome, out.Message["en"])
		}
		checkAppendResponse(t, &out)
	}
}
