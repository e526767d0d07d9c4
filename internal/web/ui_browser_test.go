// These tests drive the operator dashboard (/ui/) in headless Chromium
// against a real server over a SQLite store.
package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/healthgate/healthgate/internal/browsertest"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// Markup that server values carry in these tests: rendered as HTML, it
// would set window.pwned.
const (
	xssValue  = `<img src=x onerror="window.pwned=1">evil.example`
	xssSource = `<b onmouseover="window.pwned=2">partner</b>`
	xssKey    = `sha256:<svg onload="window.pwned=3">`
)

type dash struct {
	url       string
	admin     string // admin-scope key
	decisions string // decisions-scope key
	logs      *syncBuffer
	// mode, when set, makes API calls fail: "drop" closes the
	// connection, "html502" answers a proxy's HTML error page.
	mode atomic.Value
	mu   sync.Mutex
	urls []string // every request URI
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newDash starts a server; seed, when true, stores pending indicators and
// an alert whose values hold markup.
func newDash(t *testing.T, seed bool) *dash {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &dash{logs: &syncBuffer{}}
	d.mode.Store("")
	srv, err := server.New(ctx, server.Options{Store: st, Logger: slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, rp := range []struct {
		name  string
		scope string
		key   *string
	}{{"ops", store.ScopeAdmin, &d.admin}, {"shop", store.ScopeDecisions, &d.decisions}} {
		secret, k, err := server.NewAPIKey("rp-"+rp.name, []string{rp.scope}, 0, now, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateRelyingParty(ctx, store.RelyingParty{ID: "rp-" + rp.name, Name: rp.name, Created: now}, k); err != nil {
			t.Fatal(err)
		}
		*rp.key = secret
	}
	if seed {
		if _, err := st.PutIndicators(ctx, []store.Indicator{{
			ID: "ind_x1", Type: "domain", Value: xssValue, Source: xssSource, Confidence: 50, Status: "pending_review",
			FirstSeen: now, LastSeen: now, Expires: now.Add(24 * time.Hour),
		}}, store.Change{Actor: "test", Reason: "seed", At: now}); err != nil {
			t.Fatal(err)
		}
		day := now.Unix() / 86400
		if _, err := st.PutSurveillanceAlerts(ctx, []store.SurveillanceAlert{{
			ID: "al_1", Day: day - 1, Key: xssKey, Method: `C3<i>x</i>`, Observed: 12, Expected: 1.5, Statistic: 4, Created: now,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.urls = append(d.urls, r.URL.RequestURI())
		d.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			switch d.mode.Load().(string) {
			case "drop":
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
			case "html502":
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	d.url = hs.URL
	return d
}

// open opens /ui/ in a new tab, in English unless lang says otherwise,
// and collects what the page logs to the console.
func (d *dash) open(t *testing.T, lang string) (context.Context, *syncBuffer) {
	t.Helper()
	tab, cancel := chromedp.NewContext(browsertest.Browser(t))
	t.Cleanup(cancel)
	tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancelTimeout)
	console := &syncBuffer{}
	if err := chromedp.Listen(tab, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			for _, a := range ev.Args {
				fmt.Fprintf(console, "%s %s\n", a.Value, a.Description)
			}
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(console, "exception %v\n", ev.ExceptionDetails)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if lang == "" {
		lang = "en"
	}
	if err := chromedp.Do(tab, chromedp.Navigate(d.url+"/ui/")); err != nil {
		t.Fatal(err)
	}
	jsEval[any](t, tab, `localStorage.setItem("hg-lang", `+fmt.Sprintf("%q", lang)+`)`)
	if err := chromedp.Do(tab, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#key"))); err != nil {
		t.Fatal(err)
	}
	return tab, console
}

func login(t *testing.T, tab context.Context, key string) {
	t.Helper()
	// Enter in the key field submits the form.
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#key"), key+"\r")); err != nil {
		t.Fatal(err)
	}
}

func jsEval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 8*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func waitTrue(t *testing.T, tab context.Context, js string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if jsEval[bool](t, tab, js) {
			return
		}
	}
	t.Errorf("never true: %s", js)
}

func TestDashboardRendersServerValuesAsText(t *testing.T) {
	d := newDash(t, true)
	tab, console := d.open(t, "en")
	login(t, tab, d.admin)
	browsertest.Eventually(t, tab, "#review", xssValue)
	browsertest.Eventually(t, tab, "#review", xssSource)
	browsertest.Eventually(t, tab, "#alerts", xssKey)
	browsertest.Eventually(t, tab, "#alerts", "C3<i>x</i>")
	// The operator plots a key holding markup too.
	jsEval[any](t, tab, `document.getElementById("prev-key").value = ""`)
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#prev-key"), `sha256:<img src=y onerror="window.pwned=4">`+"\r"),
	); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := jsEval[int](t, tab, `document.querySelectorAll("main img, main b, main i, main svg svg").length`); got != 0 {
		t.Errorf("%d elements were made from server values", got)
	}
	if got := jsEval[string](t, tab, `String(window.pwned)`); got != "undefined" {
		t.Errorf("window.pwned = %s: markup ran", got)
	}
	if c := console.String(); strings.Contains(c, "exception") {
		t.Errorf("page threw: %s", c)
	}
}

func TestDashboardKeyStaysOutOfURLStorageAndLogs(t *testing.T) {
	d := newDash(t, true)
	tab, console := d.open(t, "en")
	login(t, tab, d.admin)
	browsertest.Eventually(t, tab, "#review", "evil.example")
	// Activate the indicator: a POST with the key too.
	browsertest.Click(t, tab, "#review button.activate")
	browsertest.Eventually(t, tab, "#review", "Nothing to review.")
	if href := jsEval[string](t, tab, `location.href`); strings.Contains(href, d.admin) {
		t.Errorf("key in the URL %s", href)
	}
	if ls := jsEval[string](t, tab, `JSON.stringify(localStorage)`); strings.Contains(ls, d.admin) {
		t.Errorf("key in localStorage: %s", ls)
	}
	if c := console.String(); strings.Contains(c, d.admin) {
		t.Errorf("key logged to the console: %s", c)
	}
	d.mu.Lock()
	for _, u := range d.urls {
		if strings.Contains(u, d.admin) {
			t.Errorf("key in a request URL: %s", u)
		}
	}
	d.mu.Unlock()
	if strings.Contains(d.logs.String(), d.admin) {
		t.Error("key in the server's log")
	}
	// Log out: the key is forgotten and the login form is back, empty.
	browsertest.Click(t, tab, "#logout")
	waitTrue(t, tab, `!document.getElementById("login").hidden && document.getElementById("alerts-section").hidden`)
	if ss := jsEval[string](t, tab, `JSON.stringify(sessionStorage)`); strings.Contains(ss, d.admin) {
		t.Errorf("key still in sessionStorage after logout: %s", ss)
	}
	if v := jsEval[string](t, tab, `document.getElementById("key").value`); v != "" {
		t.Errorf("key field still holds %q after logout", v)
	}
	if got := jsEval[int](t, tab, `document.querySelectorAll("#review tbody tr, #alerts tbody tr").length`); got != 0 {
		t.Errorf("%d rows of data still on the page after logout", got)
	}
	// A reload after logout does not log in again.
	if err := chromedp.Do(tab, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#key"))); err != nil {
		t.Fatal(err)
	}
	if hidden := jsEval[bool](t, tab, `document.getElementById("alerts-section").hidden`); !hidden {
		t.Error("reload after logout shows the data again")
	}
}

func TestDashboardRefusedKey(t *testing.T) {
	d := newDash(t, true)
	tests := []struct {
		name, key, lang, want string
	}{
		{"unknown key", "hg_nope_not-a-key", "en", "refused"},
		{"decisions scope", d.decisions, "en", "admin"},
		{"unknown key zh-CN", "hg_nope_not-a-key", "zh-CN", "密钥"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, _ := d.open(t, tt.lang)
			login(t, tab, tt.key)
			browsertest.Eventually(t, tab, "#message", tt.want)
			waitTrue(t, tab, `!document.getElementById("login").hidden && document.getElementById("alerts-section").hidden && document.getElementById("review-section").hidden`)
			if ss := jsEval[string](t, tab, `JSON.stringify(sessionStorage)`); strings.Contains(ss, tt.key) {
				t.Errorf("refused key kept in sessionStorage: %s", ss)
			}
			if id := jsEval[string](t, tab, `document.activeElement.id`); id != "key" {
				t.Errorf("focus is on %q, want the key field", id)
			}
			// One message, not one per failed request.
			if n := jsEval[int](t, tab, `document.querySelectorAll("[role=alert]:not([hidden])").length`); n != 1 {
				t.Errorf("%d alerts shown, want 1", n)
			}
		})
	}
}

func TestDashboardNetworkErrorsInWords(t *testing.T) {
	d := newDash(t, true)
	tests := []struct{ mode, want string }{
		{"drop", "could not reach"},
		{"html502", "502"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			tab, _ := d.open(t, "en")
			login(t, tab, d.admin)
			browsertest.Eventually(t, tab, "#review", "evil.example")
			d.mode.Store(tt.mode)
			defer d.mode.Store("")
			browsertest.Click(t, tab, "#prev-form button")
			browsertest.Eventually(t, tab, "#message", tt.want)
			msg := browsertest.Text(t, tab, "#message")
			for _, bad := range []string{"Failed to fetch", "Unexpected token", "JSON", "undefined"} {
				if strings.Contains(msg, bad) {
					t.Errorf("message %q shows a raw error (%q)", msg, bad)
				}
			}
			// A network failure is not a refused key: the operator stays in.
			if hidden := jsEval[bool](t, tab, `document.getElementById("alerts-section").hidden`); hidden {
				t.Error("a network error logged the operator out")
			}
		})
	}
}

func TestDashboardEmptyDataInWords(t *testing.T) {
	d := newDash(t, false)
	tab, _ := d.open(t, "en")
	login(t, tab, d.admin)
	browsertest.Eventually(t, tab, "#alerts tbody", "No alerts")
	browsertest.Eventually(t, tab, "#review tbody", "Nothing to review")
	browsertest.Eventually(t, tab, "#ccm tbody", "No closed days yet")
	browsertest.Eventually(t, tab, "#prevalence-section", "No data")
	// The empty row spans the whole table.
	for _, id := range []string{"alerts", "review", "ccm"} {
		js := fmt.Sprintf(`(function(){var t=document.getElementById(%q);return t.querySelector("tbody td").colSpan===t.querySelectorAll("thead th").length})()`, id)
		if !jsEval[bool](t, tab, js) {
			t.Errorf("the empty row of #%s does not span its columns", id)
		}
	}
}

func TestDashboardAccessible(t *testing.T) {
	d := newDash(t, true)
	tab, _ := d.open(t, "en")
	login(t, tab, d.admin)
	browsertest.Eventually(t, tab, "#review", "evil.example")
	for _, id := range []string{"alerts", "review", "ccm"} {
		if got := jsEval[string](t, tab, fmt.Sprintf(`(document.querySelector("#%s caption")||{}).textContent||""`, id)); strings.TrimSpace(got) == "" {
			t.Errorf("table #%s has no caption", id)
		}
		if n := jsEval[int](t, tab, fmt.Sprintf(`document.querySelectorAll("#%s thead th:not([scope=col])").length`, id)); n != 0 {
			t.Errorf("table #%s: %d header cells without scope=col", id, n)
		}
		if n := jsEval[int](t, tab, fmt.Sprintf(`[].filter.call(document.querySelectorAll("#%s thead th"),function(th){return !th.textContent.trim()}).length`, id)); n != 0 {
			t.Errorf("table #%s: %d empty header cells", id, n)
		}
	}
	if got := jsEval[string](t, tab, `document.getElementById("prev-chart").getAttribute("aria-label")||""`); got == "" {
		t.Error("the chart has no aria-label")
	}
	// Keyboard focus is visible on every control.
	n := jsEval[int](t, tab, `document.querySelectorAll("main button, main input, header button, header select").length`)
	for i := 0; i < n; i++ {
		js := fmt.Sprintf(`(function(){var els=[].filter.call(document.querySelectorAll("main button, main input, header button, header select"),function(e){return e.offsetParent!==null});var e=els[%d];if(!e)return "";e.focus();var s=getComputedStyle(e);return s.outlineStyle+" "+s.outlineWidth})()`, i)
		got := jsEval[string](t, tab, js)
		if got != "" && (strings.HasPrefix(got, "none") || strings.HasSuffix(got, " 0px")) {
			t.Errorf("control %d shows no focus outline (%s)", i, got)
		}
	}
}

var (
	cjk       = regexp.MustCompile(`\p{Han}`)
	longLatin = regexp.MustCompile(`[A-Za-z]{3,}`)
	// untranslated are names the page shows as they are in every language.
	untranslated = regexp.MustCompile(`\b(Healthgate|API|admin|ok|dev|finding:known_malware|sha256|English)\b`)
)

// visibleText is the page's text, without server values and code.
const visibleText = `(function(){
  var out=[];
  var w=document.createTreeWalker(document.body,NodeFilter.SHOW_TEXT);
  for(var n;(n=w.nextNode());){
    var e=n.parentElement, skip=false;
    for(var p=e;p;p=p.parentElement){ if(p.hidden||p.tagName==="CODE"||p.tagName==="SCRIPT"||p.tagName==="OPTION"||p.tagName==="TD"||p.tagName==="title"){skip=true;break} }
    if(!skip) out.push(n.textContent);
  }
  out.push(document.title);
  document.querySelectorAll("[aria-label],[placeholder],[title]").forEach(function(e){
    if(e.tagName!=="BUTTON"||!e.closest("td")) { out.push(e.getAttribute("aria-label")||""); out.push(e.getAttribute("placeholder")||""); }
  });
  return out.join("\n");
})()`

func TestDashboardSpeaksBothLanguages(t *testing.T) {
	d := newDash(t, false)
	for _, lang := range []string{"zh-CN", "en"} {
		t.Run(lang, func(t *testing.T) {
			tab, _ := d.open(t, lang)
			if got := jsEval[string](t, tab, `document.documentElement.lang`); got != lang {
				t.Errorf("html lang = %q, want %q", got, lang)
			}
			check := func(stage string) {
				t.Helper()
				text := jsEval[string](t, tab, visibleText)
				// Names that are not translated.
				text = untranslated.ReplaceAllString(text, "")
				if lang == "zh-CN" {
					if w := longLatin.FindAllString(text, -1); len(w) > 0 {
						t.Errorf("%s: English left on the zh-CN page: %q", stage, w)
					}
				} else if c := cjk.FindAllString(text, -1); len(c) > 0 {
					t.Errorf("%s: Chinese on the English page: %q", stage, c)
				}
			}
			browsertest.Eventually(t, tab, "#service", "dev")
			check("login")
			login(t, tab, d.admin)
			browsertest.Eventually(t, tab, "#prevalence-section", map[string]string{"en": "No data", "zh-CN": "没有数据"}[lang])
			check("dashboard")
		})
	}
	// Switching language on the page changes it at once.
	tab, _ := d.open(t, "en")
	jsEval[any](t, tab, `var s=document.getElementById("lang");s.value="zh-CN";s.dispatchEvent(new Event("change"))`)
	if got := browsertest.Text(t, tab, "#login label"); !cjk.MatchString(got) {
		t.Errorf("after switching to zh-CN the key label says %q", got)
	}
}

func TestDashboardLoadsNothingFromElsewhere(t *testing.T) {
	d := newDash(t, false)
	resp, err := http.Get(d.url + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, f := range []string{"index.html", "ui.js", "ui.css"} {
		resp, err := http.Get(d.url + "/ui/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		body := strings.ReplaceAll(b.String(), "http://www.w3.org/2000/svg", "")
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|<script>|\son[a-z]+=|style=`).FindString(body); m != "" {
			t.Errorf("%s: %q: loads from elsewhere or needs what the CSP refuses", f, m)
		}
	}
}
