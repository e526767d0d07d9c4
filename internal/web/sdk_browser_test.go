// These tests drive the checkout SDK (sdk/healthgate.js) and the demo
// checkout page in headless Chromium against a fake agent and a fake
// merchant backend. They live here, not in sdk/, which is embedded whole.
package web_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/healthgate/healthgate/internal/browsertest"
	"github.com/healthgate/healthgate/internal/web"
)

// recorder keeps the method and path of every request a server got.
type recorder struct {
	mu   sync.Mutex
	seen []string
	body map[string]string // path → last body
}

func (r *recorder) add(req *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	if r.body == nil {
		r.body = make(map[string]string)
	}
	r.body[req.URL.Path] = string(b)
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) count(s string) int {
	n := 0
	for _, x := range r.requests() {
		if x == s {
			n++
		}
	}
	return n
}

// fakeAgent answers like the agent's loopback endpoint, or like a broken
// one, by path prefix: /ok, /e403, /e500, /hang (no answer: a Local
// Network Access prompt still pending), /hangbody (headers, then nothing),
// /garbage, /null, /nocert.
func fakeAgent(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	stop := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Allow-Private-Network", "true")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rec.add(r)
		mode, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		hang := func() {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
		switch mode {
		case "ok":
			w.Header().Set("Content-Type", "application/json")
			if rest == "v1/check-url" {
				io.WriteString(w, `{"listed":true}`)
				return
			}
			io.WriteString(w, `{"certificate":"cert-abc","proof":"pop-xyz","expires_at":"2030-01-01T00:00:00Z","tier":"affirming"}`)
		case "e403":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"forbidden","message":"origin not allowed"}}`)
		case "e500":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
		case "hang":
			hang()
		case "hangbody":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"certificate":`)
			w.(http.Flusher).Flush()
			hang()
		case "garbage":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "<html>not json")
		case "null":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "null")
		case "nocert":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"tier":"affirming","certificate":7}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(stop) }) // runs first: lets hanging handlers end
	return hs, rec
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// pageServer serves a blank merchant page that includes the SDK.
func pageServer(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	sdk := web.SDK()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		switch r.URL.Path {
		case "/sdk/healthgate.js":
			sdk.ServeHTTP(w, r)
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head>`+
				`<body><button id="before">before</button><div id="out"></div><script src="/sdk/healthgate.js"></script></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(hs.Close)
	return hs, rec
}

// tab opens url in a new tab of the browser.
// eval runs js in the tab, waits for a promise it returns, and gives up
// after 8 s (the SDK's own timeouts in these tests are 500 ms).
func eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 8*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func TestSDKInBrowser(t *testing.T) {
	alloc := browsertest.Browser(t)
	agent, agentRec := fakeAgent(t)
	page, pageRec := pageServer(t)
	noAgent := closedURL(t)

	t.Run("getProof", func(t *testing.T) {
		tb := browsertest.Tab(t, alloc, page.URL+"/")
		for _, tt := range []struct {
			name, agent     string
			wantUnavailable string // "" when a certificate is wanted
		}{
			{"agent answers", agent.URL + "/ok", ""},
			{"agent refuses the origin", agent.URL + "/e403", "agent_refused_403"},
			{"agent fails", agent.URL + "/e500", "agent_refused_500"},
			{"permission prompt pending: no answer", agent.URL + "/hang", "agent_timeout"},
			{"answer stalls after the headers", agent.URL + "/hangbody", "agent_timeout"},
			{"answer is not JSON", agent.URL + "/garbage", "agent_bad_answer"},
			{"answer is JSON null", agent.URL + "/null", "agent_bad_answer"},
			{"answer has no certificate string", agent.URL + "/nocert", "agent_bad_answer"},
			{"no agent", noAgent, "agent_unreachable"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				got := eval[map[string]any](t, tb, `Healthgate.init({agent: `+jsString(tt.agent)+`, timeoutMs: 500}).getProof(`+
					`{account: "a-1", amount: "1.00", currency: "CNY", payee: "shop", merchant_url: location.origin + "/", event: "payment", channel: "web"})`)
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("getProof took %v with a 500 ms timeout", d)
				}
				if tt.wantUnavailable == "" {
					if got["certificate"] != "cert-abc" || got["proof"] != "pop-xyz" || got["unavailable"] != nil {
						t.Errorf("getProof = %v, want the certificate and proof", got)
					}
					return
				}
				if got["unavailable"] != tt.wantUnavailable || got["certificate"] != nil {
					t.Errorf("getProof = %v, want {unavailable: %q}", got, tt.wantUnavailable)
				}
			})
		}
		// The agent refuses unknown fields (400): the SDK sends it the
		// five the proof covers, whatever else the page's transaction has.
		var sent struct {
			Transaction map[string]any `json:"transaction"`
		}
		agentRec.mu.Lock()
		body := agentRec.body["/ok/v1/proof"]
		agentRec.mu.Unlock()
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sent); err != nil || jsonOf(sent.Transaction) !=
			`{"account":"a-1","amount":"1.00","currency":"CNY","merchant_url":"`+page.URL+`/","payee":"shop"}` {
			t.Errorf("the agent got %s, want only {transaction} with its five fields", body)
		}
	})

	t.Run("checkURL", func(t *testing.T) {
		tb := browsertest.Tab(t, alloc, page.URL+"/")
		for _, tt := range []struct {
			name, agent string
			want        map[string]any
		}{
			{"listed", agent.URL + "/ok", map[string]any{"listed": true}},
			{"agent hangs", agent.URL + "/hang", map[string]any{"unavailable": "agent_timeout"}},
			{"answer is not JSON", agent.URL + "/garbage", map[string]any{"unavailable": "agent_bad_answer"}},
			{"agent fails", agent.URL + "/e500", map[string]any{"unavailable": "agent_refused_500"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got := eval[map[string]any](t, tb, `Healthgate.init({agent: `+jsString(tt.agent)+`, timeoutMs: 500}).checkURL("https://shop.example/")`)
				if g, w := jsonOf(got), jsonOf(tt.want); g != w {
					t.Errorf("checkURL = %s, want %s", g, w)
				}
			})
		}
	})

	t.Run("nothing leaves but to the agent and the caller", func(t *testing.T) {
		before := len(pageRec.requests())
		tb := browsertest.Tab(t, alloc, page.URL+"/")
		// An agent option left undefined by the page keeps the default
		// loopback agent: it must not turn into a path on the page's
		// own origin ("undefined/v1/proof").
		eval[map[string]any](t, tb, `Healthgate.init({agent: undefined, timeoutMs: 500}).getProof({account: "a"})`)
		got := eval[map[string]any](t, tb, `Healthgate.init({agent: `+jsString(agent.URL+"/ok")+`}).getProof({account: "a"}).then(function (p) {
			Healthgate.render(document.getElementById("out"), {outcome: "allow", message: {en: "ok"}, certificate: p.certificate});
			return new Promise(function (r) { setTimeout(function () { r(p); }, 300); });
		})`)
		if got["certificate"] != "cert-abc" {
			t.Fatalf("getProof = %v", got)
		}
		for _, r := range pageRec.requests()[before:] {
			if r != "GET /" && r != "GET /sdk/healthgate.js" && r != "GET /favicon.ico" {
				t.Errorf("the page's origin got %q, want only the page and the SDK", r)
			}
		}
	})

	t.Run("language", func(t *testing.T) {
		for _, tt := range []struct {
			opts, want string
		}{
			{`{}`, "正在检查这台设备的安全状况…"}, // the default
			{`{lang: undefined}`, "正在检查这台设备的安全状况…"},
			{`{lang: "zh-CN"}`, "正在检查这台设备的安全状况…"},
			{`{lang: "zh-cn"}`, "正在检查这台设备的安全状况…"},
			{`{lang: "zh"}`, "正在检查这台设备的安全状况…"},
			{`{lang: "zh-Hans-CN"}`, "正在检查这台设备的安全状况…"},
			{`{lang: "en"}`, "Checking this device's safety…"},
			{`{lang: "en-GB"}`, "Checking this device's safety…"},
			{`{lang: "fr"}`, "Checking this device's safety…"},
		} {
			t.Run(tt.opts, func(t *testing.T) {
				tb := browsertest.Tab(t, alloc, page.URL+"/")
				got := eval[string](t, tb, `Healthgate.init(`+tt.opts+`).text("checking")`)
				if got != tt.want {
					t.Errorf("text(checking) = %q, want %q", got, tt.want)
				}
				msg := eval[string](t, tb, `(function () { var d = document.getElementById("out");
					Healthgate.render(d, {outcome: "deny", message: {"zh-CN": "中文", en: "English"}}); return d.textContent; })()`)
				if zh := strings.HasPrefix(tt.want, "正"); zh != strings.Contains(msg, "中文") {
					t.Errorf("rendered %q in the wrong language", msg)
				}
			})
		}
	})

	t.Run("server text is text, never markup", func(t *testing.T) {
		tb := browsertest.Tab(t, alloc, page.URL+"/")
		const evil = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`
		for _, outcome := range []string{"allow", "warn", "step_up", "deny"} {
			got := eval[map[string]any](t, tb, `(function () {
				var d = document.getElementById("out"), e = `+jsString(evil)+`;
				Healthgate.init({lang: "en"}).render(d, {outcome: `+jsString(outcome)+`, message: {en: e}, agentUnavailable: true,
					remediation: [{title: {en: e}, steps: {en: [e, e]}}, {title: e, steps: {en: e}}]});
				return new Promise(function (r) { setTimeout(function () {
					r({markup: d.querySelectorAll("img, script").length, pwned: window.pwned || 0, text: d.textContent});
				}, 200); });
			})()`)
			if got["markup"] != 0.0 || got["pwned"] != 0.0 || !strings.Contains(got["text"].(string), evil) {
				t.Errorf("%s: %v", outcome, got)
			}
		}
	})

	t.Run("focus and keyboard", func(t *testing.T) {
		tb := browsertest.Tab(t, alloc, page.URL+"/")
		eval[bool](t, tb, `Healthgate.init({lang: "en"}) && true`)
		// A warning takes focus itself, not its "continue anyway"
		// button: a second press of Enter on Pay must not wave the risk
		// through unread.
		got := eval[map[string]any](t, tb, `(function () {
			var d = document.getElementById("out");
			var box = Healthgate.render(d, {outcome: "warn", message: {en: "Your firewall is off."},
				remediation: [{title: {en: "Turn on the firewall"}, steps: {en: ["Open Settings"]}}]});
			var a = document.activeElement;
			return {inBox: box.contains(a), isContinue: a.classList.contains("hg-continue"), role: box.getAttribute("role"),
				label: document.getElementById(box.getAttribute("aria-labelledby")).textContent};
		})()`)
		if got["inBox"] != true || got["isContinue"] != false || got["label"] != "Your device is at risk" {
			t.Errorf("warn focus: %v", got)
		}
		// Deny: the refusal itself gets focus.
		got = eval[map[string]any](t, tb, `(function () {
			var box = Healthgate.render(document.getElementById("out"), {outcome: "deny", message: {en: "Hijacked."}});
			return {focused: document.activeElement === box, role: box.getAttribute("role")};
		})()`)
		if got["focused"] != true || got["role"] != "alert" {
			t.Errorf("deny focus: %v", got)
		}
		// Step-up: focus on the code, and Enter in it confirms.
		eval[bool](t, tb, `(function () {
			window.code = null;
			Healthgate.render(document.getElementById("out"), {outcome: "step_up"}, {onStepUp: function (c) { window.code = c; }});
			return document.activeElement.id === "hg-code";
		})()`)
		if err := chromedp.Do(tb, chromedp.SendKeys(chromedp.CSS("#hg-code"), "123456\r")); err != nil {
			t.Fatal(err)
		}
		if code := eval[string](t, tb, `String(window.code)`); code != "123456" {
			t.Errorf("Enter in the code field gave onStepUp(%s), want 123456", code)
		}
	})
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// fakeMerchant serves the demo checkout page with a scripted backend.
type fakeMerchant struct {
	mu      sync.Mutex
	pay     func(w http.ResponseWriter) // answers POST /pay
	confirm string                      // answer to POST /pay/confirm
	rec     recorder
}

func (m *fakeMerchant) handler(t *testing.T, agentURL string) http.Handler {
	files := web.Checkout()
	sdk := web.SDK()
	tmpl, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.rec.add(r)
		switch {
		case r.URL.Path == "/":
			self := "http://" + r.Host
			io.WriteString(w, strings.NewReplacer("{{SERVER}}", self, "{{AGENT}}", agentURL, "{{LANG}}", "en",
				"{{ACCOUNT}}", "shopper-1").Replace(string(tmpl)))
		case r.URL.Path == "/sdk/healthgate.js":
			sdk.ServeHTTP(w, r)
		case r.URL.Path == "/pay":
			m.mu.Lock()
			pay := m.pay
			m.mu.Unlock()
			pay(w)
		case r.URL.Path == "/pay/confirm":
			w.Header().Set("Content-Type", "application/json")
			m.mu.Lock()
			io.WriteString(w, m.confirm)
			m.mu.Unlock()
		case r.URL.Path == "/pay/session":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"session":"s-1"}`)
		default:
			http.FileServerFS(files).ServeHTTP(w, r)
		}
	})
}

func TestCheckoutPageInBrowser(t *testing.T) {
	alloc := browsertest.Browser(t)
	agent, _ := fakeAgent(t)
	stepUp := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"decision_id":"d-1","outcome":"step_up","reasons":["certificate_missing"],"message":{"en":"We need one more check."}}`)
	}
	start := func(t *testing.T, agentURL string, pay func(http.ResponseWriter)) (*fakeMerchant, context.Context) {
		m := &fakeMerchant{pay: pay, confirm: `{"ok":false}`}
		hs := httptest.NewServer(m.handler(t, agentURL))
		t.Cleanup(hs.Close)
		return m, browsertest.Tab(t, alloc, hs.URL+"/")
	}

	t.Run("agent answer stalls: step-up with the reason, not a spinner", func(t *testing.T) {
		_, tb := start(t, agent.URL+"/hangbody", stepUp)
		browsertest.Click(t, tb, "#pay")
		browsertest.Eventually(t, tb, "#result", "could not check this device")
		browsertest.Eventually(t, tb, "#result", "allow it and pay again")
		// The step-up offers the path that needs no loopback call.
		browsertest.Click(t, tb, ".hg-open-app")
		browsertest.Eventually(t, tb, "#result", "The Healthgate app was asked to check this device")
	})

	t.Run("shop backend fails: the page says so", func(t *testing.T) {
		_, tb := start(t, agent.URL+"/ok", func(w http.ResponseWriter) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		})
		browsertest.Click(t, tb, "#pay")
		browsertest.Eventually(t, tb, "#result", "try again")
		if s := browsertest.Text(t, tb, "#result"); strings.Contains(s, "Checking") {
			t.Errorf("still checking: %q", s)
		}
	})

	t.Run("wrong SMS code is said in words", func(t *testing.T) {
		_, tb := start(t, agent.URL+"/ok", stepUp)
		browsertest.Click(t, tb, "#pay")
		if err := chromedp.Do(tb, chromedp.SendKeys(chromedp.CSS("#hg-code"), "000000")); err != nil {
			t.Fatal(err)
		}
		browsertest.Click(t, tb, ".hg-confirm")
		browsertest.Eventually(t, tb, "#result", "code is not right")
		got := eval[map[string]any](t, tb, `(function () { var i = document.getElementById("hg-code");
			var d = document.getElementById(i.getAttribute("aria-describedby") || "none");
			return {invalid: i.getAttribute("aria-invalid"), described: d ? d.textContent : "", focused: document.activeElement === i}; })()`)
		if got["invalid"] != "true" || !strings.Contains(got["described"].(string), "code is not right") || got["focused"] != true {
			t.Errorf("after a wrong code: %v", got)
		}
	})

	t.Run("Pay pressed twice asks once", func(t *testing.T) {
		m, tb := start(t, agent.URL+"/ok", func(w http.ResponseWriter) {
			time.Sleep(700 * time.Millisecond)
			stepUp(w)
		})
		eval[bool](t, tb, `(function () { var b = document.getElementById("pay"); b.click(); b.click(); return true; })()`)
		browsertest.Eventually(t, tb, "#result", "SMS")
		if n := m.rec.count("POST /pay"); n != 1 {
			t.Errorf("%d payments asked for, want 1", n)
		}
	})
}
