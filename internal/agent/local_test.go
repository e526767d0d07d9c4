package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// newTestAgent runs a real health service on loopback and an agent that
// reads the healthy testdata tree.
func newTestAgent(t *testing.T) *Agent {
	a, _ := newTestAgentStore(t)
	return a
}

// newTestAgentStore is newTestAgent that also returns the service's store.
func newTestAgentStore(t *testing.T) (*Agent, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); st.Close() })
	a, err := New(Config{Server: hs.URL, StateDir: t.TempDir(), Root: filepath.Join("..", "posture", "testdata", "healthy")})
	if err != nil {
		t.Fatal(err)
	}
	return a, st
}

const shop = "https://shop.example"

func localRequest(h http.Handler, method, host, origin, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://"+host+"/v1/proof", strings.NewReader(body))
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Content-Type", "application/json")
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Private-Network", "true")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const txBody = `{"transaction":{"account":"acct-1","amount":"128.00","currency":"CNY","payee":"shop-42","merchant_url":"https://shop.example/checkout"}}`

func TestLocalProof(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop}})
	rec := localRequest(h, http.MethodPost, "127.0.0.1:17853", shop, txBody)
	if rec.Code != http.StatusOK {
		t.Fatalf("proof: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != shop {
		t.Errorf("ACAO = %q, want %q", got, shop)
	}
	var resp proofResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Certificate == "" || resp.Tier == "" {
		t.Errorf("no certificate in %+v", resp)
	}
	p, err := evidence.VerifyProof([]byte(resp.Proof), a.key.Public(), time.Now())
	if err != nil {
		t.Fatalf("proof does not verify with the device key: %v", err)
	}
	want, _ := evidence.TransactionHash(evidence.Transaction{Account: "acct-1", Amount: "128.00", Currency: "CNY", Payee: "shop-42", MerchantURL: "https://shop.example/checkout"})
	if p.TxHash != want || p.Origin != shop {
		t.Errorf("proof = %+v, want tx %s for %s", p, want, shop)
	}
	// The certificate was fetched once and is reused while fresh.
	first := resp.Certificate
	rec = localRequest(h, http.MethodPost, "127.0.0.1:17853", shop, txBody)
	json.Unmarshal(rec.Body.Bytes(), &resp)
	if resp.Certificate != first {
		t.Error("a fresh certificate was not reused")
	}
}

func TestLocalRefuses(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop}, RatePerMinute: 2})
	tests := []struct {
		name, method, host, origin, body string
		status                           int
		acao                             string
	}{
		{"unknown origin", http.MethodPost, "127.0.0.1:17853", "https://evil.example", txBody, 403, ""},
		{"no origin", http.MethodPost, "127.0.0.1:17853", "", txBody, 403, ""},
		{"DNS rebinding host", http.MethodPost, "evil.example:17853", shop, txBody, 403, ""},
		{"preflight", http.MethodOptions, "127.0.0.1:17853", shop, "", 204, shop},
		{"garbage body", http.MethodPost, "127.0.0.1:17853", shop, "{", 400, shop},
		{"line break in payee", http.MethodPost, "127.0.0.1:17853", shop, strings.Replace(txBody, "shop-42", `shop\n42`, 1), 400, shop},
		{"rate limited", http.MethodPost, "127.0.0.1:17853", shop, "{", 429, shop}, // third request of this origin
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := localRequest(h, tt.method, tt.host, tt.origin, tt.body)
			if got, want := rec.Code, tt.status; got != want {
				t.Errorf("status = %d, want %d (%s)", got, want, rec.Body)
			}
			if got, want := rec.Header().Get("Access-Control-Allow-Origin"), tt.acao; got != want {
				t.Errorf("ACAO = %q, want %q", got, want)
			}
			if tt.method == http.MethodOptions && rec.Header().Get("Access-Control-Allow-Private-Network") != "true" {
				t.Error("preflight lacks Access-Control-Allow-Private-Network")
			}
			if tt.status == 403 && strings.Contains(rec.Body.String(), "certificate") {
				t.Error("a refused origin saw certificate data")
			}
		})
	}
}

func TestSessionLink(t *testing.T) {
	a, err := New(Config{Server: "https://health.example.com", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, link, want string
		ok               bool
	}{
		{"our server", "healthgate://report?server=https%3A%2F%2Fhealth.example.com&session=abc", "abc", true},
		{"trailing slash", "healthgate://report?server=https%3A%2F%2Fhealth.example.com%2F&session=abc", "abc", true},
		{"another server", "healthgate://report?server=https%3A%2F%2Fevil.example&session=abc", "", false},
		{"no server", "healthgate://report?session=abc", "", false},
		{"no session", "healthgate://report?server=https%3A%2F%2Fhealth.example.com", "", false},
		{"other scheme", "https://report?server=https%3A%2F%2Fhealth.example.com&session=abc", "", false},
		{"other action", "healthgate://wipe?server=https%3A%2F%2Fhealth.example.com&session=abc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.SessionLink(tt.link)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("SessionLink = %q, %v; want %q, ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestLocalCheckURL(t *testing.T) {
	a, st := newTestAgentStore(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop}})
	check := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:17853/v1/check-url", strings.NewReader(body))
		req.Header.Set("Origin", shop)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	// Nothing is listed on a fresh server.
	if rec := check(`{"url":"https://shop.example/pay"}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"listed":false`) {
		t.Errorf("unlisted URL: %d %s", rec.Code, rec.Body)
	}
	// A phishing URL put on the feed is found, by prefix then full hash.
	rec, err := intel.NewRecord("url", "http://pay-examp1e.com/checkout", "test", "", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := intelstore.NewIndicator(rec, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIndicators(context.Background(), []store.Indicator{in}, store.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a.protect.next = time.Time{} // the feed is due again
	if rec := check(`{"url":"http://PAY-EXAMP1E.com/checkout?order=7"}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"listed":true`) {
		t.Errorf("listed URL: %d %s", rec.Code, rec.Body)
	}
	if rec := check(`{}`); rec.Code != 400 {
		t.Errorf("no url: %d %s, want 400", rec.Code, rec.Body)
	}
}

func TestLocalSetOrigins(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop}})
	if rec := localRequest(h, http.MethodOptions, "127.0.0.1:17853", "https://new-shop.example", ""); rec.Code != 403 {
		t.Fatalf("origin not yet allowed: %d", rec.Code)
	}
	h.SetOrigins([]string{"https://new-shop.example"})
	if rec := localRequest(h, http.MethodOptions, "127.0.0.1:17853", "https://new-shop.example", ""); rec.Code != 204 {
		t.Errorf("newly allowed origin: %d", rec.Code)
	}
	if rec := localRequest(h, http.MethodOptions, "127.0.0.1:17853", shop, ""); rec.Code != 403 {
		t.Errorf("origin removed from the allowlist still answered: %d", rec.Code)
	}
}

// The allowlist the server publishes is matched the way browsers serialise
// an Origin header: lower-case scheme and host, no default port, no slash.
// "null" (sandboxed frames, file: pages) is never answered, whatever the
// list says.
func TestLocalOriginAllowlistNormalised(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{"HTTPS://Shop.Example:443/", "null", "http://LocalHost:8080", "https://pay.example/checkout", "ftp://files.example"}})
	tests := []struct {
		origin string
		status int
	}{
		{"https://shop.example", 204},
		{"http://localhost:8080", 204},
		{"null", 403},
		{"http://shop.example", 403},       // http is not https
		{"https://shop.example:8443", 403}, // another port
		{"https://SHOP.example", 403},      // browsers never send this spelling
		{"https://shop.example/", 403},     // nor this
		{"https://pay.example", 403},       // a URL with a path is not an origin
		{"ftp://files.example", 403},       // not a web page origin
		{"https://shop.example.evil", 403}, // suffix
		{"https://evil.shop.example", 403}, // subdomain
		{"https://shop.example:443", 403},  // default port is never sent
		{"http://localhost:8080/x", 403},   // path
		{"https://shop.example\n", 403},    // junk
		{"https://user@shop.example", 403}, // user info
		{"http://localhost:08080", 403},    // port spelling
		{"http://localhost", 403},          // port missing
		{"https://shop.example:", 403},     // empty port
		{"https://shop.example.", 403},     // trailing dot
		{"https://xn--shop.example", 403},  // another host
		{"https://shop.example:443/", 403}, // the list's spelling is not a browser's
		{"HTTPS://Shop.Example:443/", 403}, // idem
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			rec := localRequest(h, http.MethodOptions, "127.0.0.1:17853", tt.origin, "")
			if got, want := rec.Code, tt.status; got != want {
				t.Errorf("preflight from %q: status = %d, want %d (%s)", tt.origin, got, want, rec.Body)
			}
			acao := rec.Header().Get("Access-Control-Allow-Origin")
			if tt.status == 204 && acao != tt.origin || tt.status != 204 && acao != "" {
				t.Errorf("ACAO = %q", acao)
			}
		})
	}
}

// Chrome's Local Network Access preflight asks with its own header name and
// wants the matching answer.
func TestLocalPreflightLocalNetwork(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop}})
	req := httptest.NewRequest(http.MethodOptions, "http://127.0.0.1:17853/v1/proof", nil)
	req.Header.Set("Origin", shop)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Local-Network", "true")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Access-Control-Allow-Local-Network"); got != "true" {
		t.Errorf("Access-Control-Allow-Local-Network = %q, want true", got)
	}
	if got := rec.Header().Get("Access-Control-Allow-Private-Network"); got != "" {
		t.Errorf("Access-Control-Allow-Private-Network = %q without being asked", got)
	}
}

// The Host header names the address the agent listens on: another port or
// another name is a page that reached it by DNS rebinding or a proxy.
func TestLocalHostMustBeListenAddress(t *testing.T) {
	a := newTestAgent(t)
	hs := httptest.NewServer(a.LocalHandler(LocalOptions{Origins: []string{shop}}))
	defer hs.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(hs.URL, "http://"), ":")
	for _, tt := range []struct {
		host   string
		status int
	}{
		{"127.0.0.1:" + port, 204},
		{"localhost:" + port, 204},
		{"127.0.0.1:1", 403},
		{"localhost:1", 403},
		{"127.0.0.1", 403},
		{"evil.example:" + port, 403},
		{"127.0.0.1.evil.example:" + port, 403},
	} {
		req, _ := http.NewRequest(http.MethodOptions, hs.URL+"/v1/proof", nil)
		req.Host = tt.host
		req.Header.Set("Origin", shop)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Host %q: status = %d, want %d", tt.host, resp.StatusCode, tt.status)
		}
	}
}

// A proof is only made for a well-formed request over a transaction on the
// asking page's own site; anything else is refused with a reason, before
// the device key signs.
func TestLocalProofRefusesBadRequests(t *testing.T) {
	a := newTestAgent(t)
	h := a.LocalHandler(LocalOptions{Origins: []string{shop, "http://127.0.0.1:8080"}, RatePerMinute: 1000})
	tx := func(merchantURL string) string {
		return strings.Replace(txBody, "https://shop.example/checkout", merchantURL, 1)
	}
	tests := []struct {
		name, origin, body string
		status             int
		code, msg          string
	}{
		{"trailing garbage", shop, txBody + "garbage", 400, "bad_request", "after"},
		{"two objects", shop, txBody + tx("https://other.example/"), 400, "bad_request", "after"},
		{"unknown field", shop, `{"transaction":{"amount":"1"},"sign":"anything"}`, 400, "bad_request", `"sign"`},
		{"too large", shop, `{"transaction":{"account":"` + strings.Repeat("a", 20<<10) + `"}}`, 413, "too_large", "bytes"},
		{"empty transaction", shop, `{"transaction":{}}`, 400, "bad_transaction", "merchant_url"},
		{"no transaction", shop, `{}`, 400, "bad_transaction", "merchant_url"},
		{"merchant on another site", shop, tx("https://evil.example/checkout"), 400, "bad_transaction", "merchant_url"},
		{"merchant over http", shop, tx("http://shop.example/checkout"), 400, "bad_transaction", "merchant_url"},
		{"merchant on another port", shop, tx("https://shop.example:8443/checkout"), 400, "bad_transaction", "merchant_url"},
		{"merchant not a URL", shop, tx("shop.example/checkout"), 400, "bad_transaction", "merchant_url"},
		{"merchant loopback page", "http://127.0.0.1:8080", tx("http://127.0.0.1:9090/"), 400, "bad_transaction", "merchant_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := localRequest(h, http.MethodPost, "127.0.0.1:17853", tt.origin, tt.body)
			if got, want := rec.Code, tt.status; got != want {
				t.Errorf("status = %d, want %d (%s)", got, want, rec.Body)
			}
			var resp struct {
				Error struct{ Code, Message string }
				Proof string
			}
			json.Unmarshal(rec.Body.Bytes(), &resp)
			if resp.Proof != "" {
				t.Error("a proof was signed")
			}
			if resp.Error.Code != tt.code || !strings.Contains(resp.Error.Message, tt.msg) {
				t.Errorf("error = %+v, want code %s and a message naming %q", resp.Error, tt.code, tt.msg)
			}
		})
	}
}
