package demo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/healthgate/healthgate/internal/web"
)

// SMSCode is the step-up code the demo merchant "sends".
const SMSCode = "123456"

// Merchant is the demo shop: its checkout page includes the SDK from the
// health service, and its backend asks the health service for a decision
// with its relying-party API key, as a real platform would.
type Merchant struct {
	HealthURL string // the health service
	APIKey    string // the merchant's relying-party key
	AgentURL  string // where the page finds the agent by default
	Lang      string // "zh-CN" or "en"
	Account   string // the shopper's account at this merchant
	Client    *http.Client
	Logger    *slog.Logger // where the merchant logs what goes wrong

	mu        sync.Mutex
	decisions map[string]*stepUp // by decision id, for the step-up
}

// Handler serves the checkout.
func (m *Merchant) Handler() http.Handler {
	if m.Client == nil {
		m.Client = &http.Client{Timeout: 10 * time.Second}
	}
	m.decisions = make(map[string]*stepUp)
	files := web.Checkout()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", m.page(files))
	mux.Handle("GET /checkout.js", http.FileServerFS(files))
	mux.Handle("GET /checkout.css", http.FileServerFS(files))
	mux.HandleFunc("POST /pay", m.pay)
	mux.HandleFunc("POST /pay/confirm", m.confirm)
	mux.HandleFunc("POST /pay/session", m.session)
	return mux
}

// page renders the checkout. ?agent=URL (a loopback http URL) and
// ?lang=en|zh-CN let the walkthrough switch between simulated devices.
func (m *Merchant) page(files fs.FS) http.HandlerFunc {
	tmpl, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(w http.ResponseWriter, r *http.Request) {
		agent, lang := m.AgentURL, m.Lang
		if a := r.URL.Query().Get("agent"); a != "" {
			u, err := url.Parse(a)
			if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
				http.Error(w, "agent must be a loopback http URL", http.StatusBadRequest)
				return
			}
			agent = u.Scheme + "://" + u.Host
		}
		if l := r.URL.Query().Get("lang"); l == "en" || l == "zh-CN" {
			lang = l
		}
		page := strings.NewReplacer("{{SERVER}}", m.HealthURL, "{{AGENT}}", agent, "{{LANG}}", lang,
			"{{ACCOUNT}}", m.Account).Replace(string(tmpl))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, page)
	}
}

type payRequest struct {
	Transaction struct {
		Account     string `json:"account"`
		Amount      string `json:"amount"`
		Currency    string `json:"currency"`
		Payee       string `json:"payee"`
		MerchantURL string `json:"merchant_url"`
	} `json:"transaction"`
	Certificate string `json:"certificate"`
	Proof       string `json:"proof"`
	Agent       string `json:"agent"`
	Session     string `json:"session"`
}

// The demo shop's one order, as its page shows it.
const (
	orderAmount   = "128.00"
	orderCurrency = "CNY"
	orderPayee    = "demo-shop"
)

// maxCodeTries is how many wrong SMS codes a step-up takes before it is
// spent: a six-digit code must not be guessable.
const maxCodeTries = 5

// stepUp is a decision the shopper may still confirm with the SMS code.
type stepUp struct {
	outcome string
	tries   int // wrong codes so far
}

// pay asks the health service for a decision on the shopper's payment.
func (m *Merchant) pay(w http.ResponseWriter, r *http.Request) {
	var req payRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	// The shop pays for its own order only: the page's copy of it must
	// be the order, or the decision would be about another payment.
	tx := req.Transaction
	if tx.Amount != orderAmount || tx.Currency != orderCurrency || tx.Payee != orderPayee ||
		tx.Account != m.Account || tx.MerchantURL != "http://"+r.Host+"/" {
		http.Error(w, "this is not the order on the page", http.StatusBadRequest)
		return
	}
	body := map[string]any{
		"account": tx.Account, "amount": tx.Amount, "currency": tx.Currency,
		"payee": tx.Payee, "merchant_url": tx.MerchantURL,
		"channel": "web", "event": "payment", "ip": "127.0.0.1",
	}
	if req.Certificate != "" {
		body["certificate"] = req.Certificate
	}
	if req.Proof != "" {
		body["proof"] = req.Proof
	}
	if req.Session != "" {
		body["session"] = req.Session
	}
	b, _ := json.Marshal(body)
	hreq, err := http.NewRequestWithContext(r.Context(), http.MethodPost, m.HealthURL+"/v1/decisions", bytes.NewReader(b))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+m.APIKey)
	resp, err := m.Client.Do(hreq)
	if err != nil {
		// The platform cannot reach the health service: ask for more proof.
		m.logger().Warn("decision request failed", "err", err)
		m.stepUp(w, "health_service_unreachable")
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var d struct {
		ID      string `json:"decision_id"`
		Outcome string `json:"outcome"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &d) != nil || d.ID == "" || d.Outcome == "" {
		// The error is written for the merchant, not the shopper: log it
		// and ask the shopper for more proof instead.
		m.logger().Warn("decision request refused", "status", resp.StatusCode, "body", clip(raw))
		m.stepUp(w, "decision_unavailable")
		return
	}
	m.mu.Lock()
	m.decisions[d.ID] = &stepUp{outcome: d.Outcome}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(raw)
}

// stepUp answers the page with the merchant's own step-up decision.
func (m *Merchant) stepUp(w http.ResponseWriter, reason string) {
	id := newID()
	m.mu.Lock()
	m.decisions[id] = &stepUp{outcome: "step_up"}
	m.mu.Unlock()
	writeJSON(w, map[string]any{"decision_id": id, "outcome": "step_up", "reasons": []string{reason}})
}

func (m *Merchant) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// clip shortens an answer for the log.
func clip(b []byte) string {
	if len(b) > 512 {
		return string(b[:512]) + "…"
	}
	return string(b)
}

// session asks the health service for a one-time checkout session, for
// the healthgate:// path.
func (m *Merchant) session(w http.ResponseWriter, r *http.Request) {
	hreq, err := http.NewRequestWithContext(r.Context(), http.MethodPost, m.HealthURL+"/v1/sessions", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hreq.Header.Set("Authorization", "Bearer "+m.APIKey)
	resp, err := m.Client.Do(hreq)
	if err != nil {
		http.Error(w, "health service unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

// confirm checks the step-up code. A denied payment cannot be confirmed.
func (m *Merchant) confirm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DecisionID string `json:"decision_id"`
		Code       string `json:"code"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	s, ok := m.decisions[req.DecisionID]
	ok = ok && s.outcome != "deny"
	if ok && req.Code != SMSCode {
		ok = false
		if s.tries++; s.tries >= maxCodeTries {
			delete(m.decisions, req.DecisionID) // spent: pay again for a new code
		}
	}
	if ok {
		delete(m.decisions, req.DecisionID) // one time only
	}
	m.mu.Unlock()
	writeJSON(w, map[string]bool{"ok": ok})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
