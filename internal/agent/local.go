package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/httpsafe"
)

// DefaultLocalAddr is where the agent answers checkout pages: loopback only,
// on a fixed port so a page knows where to ask.
const DefaultLocalAddr = "127.0.0.1:17853"

// LocalOptions configure the checkout endpoint.
type LocalOptions struct {
	// Origins are the page origins allowed to ask, as the server publishes
	// them (GET /v1/agent/config). Anyone else gets 403 and no CORS headers.
	Origins []string
	// RatePerMinute bounds proofs per origin (default 30).
	RatePerMinute int
	Now           func() time.Time
}

// CheckoutOrigins fetches the page origins the server allows to ask this
// agent for proofs (GET /v1/agent/config).
func (a *Agent) CheckoutOrigins(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base.JoinPath("/v1/agent/config").String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent config: server answered %s", resp.Status)
	}
	var cfg struct {
		CheckoutOrigins []string `json:"checkout_origins"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	return cfg.CheckoutOrigins, nil
}

// LocalHandler serves the checkout endpoint a payment page calls on
// loopback:
//
//	POST /v1/proof {"transaction": {account, amount, currency, payee, merchant_url}}
//	  → {"certificate", "proof", "expires_at", "tier"}
//
// The proof is a JWS by the device key over the transaction hash and the
// page's origin, so a certificate copied off this device is useless
// elsewhere; merchant_url must be a page of that origin. Only allowlisted
// origins are answered, the Host header must be a loopback address and the
// listening port (DNS rebinding), requests are rate-limited per origin,
// and nothing but the certificate (which the origin's platform receives
// anyway) leaves the device.
func (a *Agent) LocalHandler(opts LocalOptions) *Local {
	if opts.RatePerMinute <= 0 {
		opts.RatePerMinute = 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &local{a: a, opts: opts, buckets: make(map[string]*bucket)}
	l.SetOrigins(opts.Origins)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/proof", l.proof)
	mux.HandleFunc("POST /v1/check-url", l.checkURL)
	mux.HandleFunc("GET /v1/status", l.status)
	l.handler = l.guard(mux)
	return &Local{l}
}

// Local is the checkout endpoint: an http.Handler whose allowlist can be
// replaced while it serves (the daemon refreshes it from the server).
type Local struct{ l *local }

func (h *Local) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.l.handler.ServeHTTP(w, r) }

// SetOrigins replaces the allowed page origins.
func (h *Local) SetOrigins(origins []string) { h.l.SetOrigins(origins) }

func (l *local) SetOrigins(origins []string) {
	o := make([]string, 0, len(origins))
	for _, s := range origins {
		if w := webOrigin(s); w != "" {
			o = append(o, w)
		}
	}
	l.origins.Store(&o)
}

// webOrigin returns an allowlist entry as a browser serialises it in the
// Origin header (lower-case scheme and host, no default port, no path), or
// "" when it is not an http(s) origin; "null" never is.
func webOrigin(s string) string {
	o, err := evidence.ParseOrigin(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return o
}

type local struct {
	a       *Agent
	opts    LocalOptions
	origins atomic.Pointer[[]string]
	handler http.Handler

	mu      sync.Mutex
	buckets map[string]*bucket
	report  sync.Mutex // one refresh at a time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *local) allowed(origin string) bool {
	return origin != "" && slices.Contains(*l.origins.Load(), origin)
}

// take spends one token of the origin's bucket.
func (l *local) take(origin string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	b, ok := l.buckets[origin]
	if !ok {
		b = &bucket{tokens: float64(l.opts.RatePerMinute), last: now}
		l.buckets[origin] = b
	}
	b.tokens = min(float64(l.opts.RatePerMinute), b.tokens+now.Sub(b.last).Minutes()*float64(l.opts.RatePerMinute))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// loopbackHost reports whether the Host header names this endpoint: a
// loopback address or "localhost", and the port the request came in on. A
// page that reached the agent by DNS rebinding sends its own host name.
func loopbackHost(r *http.Request) bool {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	if !httpsafe.Loopback(host) {
		return false
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, want, err := net.SplitHostPort(addr.String()); err == nil && port != want {
			return false
		}
	}
	return true
}

func (l *local) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r) {
			localError(w, http.StatusForbidden, "bad_host", "the agent answers only on loopback")
			return
		}
		origin := r.Header.Get("Origin")
		if !l.allowed(origin) {
			localError(w, http.StatusForbidden, "origin_not_allowed", "this page is not allowed to ask the Healthgate agent")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			// Chrome's Private Network Access preflight, and the same
			// under its Local Network Access name.
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			if r.Header.Get("Access-Control-Request-Local-Network") == "true" {
				h.Set("Access-Control-Allow-Local-Network", "true")
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !l.take(origin) {
			localError(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this page")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkURL answers whether a URL the page is about to send the person to
// (a payment link, a merchant) is on the protective feed. The URL is looked
// up locally by prefix; the server sees at most the hitting 4-byte prefixes.
//
//	POST /v1/check-url {"url": "https://…"} → {"listed": bool}
func (l *local) checkURL(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&req); err != nil || req.URL == "" {
		localError(w, http.StatusBadRequest, "bad_request", "body must be {\"url\": \"…\"}")
		return
	}
	if l.a.protect == nil {
		localError(w, http.StatusServiceUnavailable, "no_feed", "the agent has no protective feed")
		return
	}
	l.a.syncFeedIfDue(r.Context())
	v, err := l.a.protect.feed.CheckURL(r.Context(), req.URL)
	if err != nil {
		localError(w, http.StatusBadRequest, "bad_url", err.Error())
		return
	}
	writeLocal(w, http.StatusOK, map[string]bool{"listed": v.Listed})
}

func (l *local) status(w http.ResponseWriter, r *http.Request) {
	writeLocal(w, http.StatusOK, map[string]string{"agent": SWName, "version": l.a.cfg.Version})
}

type proofRequest struct {
	Transaction evidence.Transaction `json:"transaction"`
}

type proofResponse struct {
	Certificate string    `json:"certificate"`
	Proof       string    `json:"proof"`
	ExpiresAt   time.Time `json:"expires_at"`
	Tier        string    `json:"tier"`
}

// maxProofBody bounds a proof request.
const maxProofBody = 16 << 10

func (l *local) proof(w http.ResponseWriter, r *http.Request) {
	var req proofRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxProofBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			err = errors.New("something follows the object")
			if next != nil {
				err = next
			}
		}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		localError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", maxProofBody))
		return
	}
	if err != nil {
		localError(w, http.StatusBadRequest, "bad_request", "body must be one object {\"transaction\": {…}} with nothing after it: "+err.Error())
		return
	}
	// The proof's audience is the asking page, so the payment must be on
	// that page's site (the service checks the same): a page cannot have
	// the device vouch for a payment elsewhere or for one naming no site.
	origin := r.Header.Get("Origin")
	if o, err := evidence.URLOrigin(req.Transaction.MerchantURL); err != nil || o != origin {
		localError(w, http.StatusBadRequest, "bad_transaction", "transaction merchant_url must be a page of "+origin+", the page asking")
		return
	}
	hash, err := evidence.TransactionHash(req.Transaction)
	if err != nil {
		localError(w, http.StatusBadRequest, "bad_transaction", err.Error())
		return
	}
	res, err := l.current(r)
	if err != nil {
		localError(w, http.StatusServiceUnavailable, "no_certificate", "the agent could not get a health certificate: "+err.Error())
		return
	}
	proof, err := evidence.SignProof(evidence.Proof{TxHash: hash, Origin: origin, IssuedAt: l.opts.Now().Unix()}, l.a.key)
	if err != nil {
		localError(w, http.StatusInternalServerError, "sign_failed", "the device key could not sign")
		return
	}
	writeLocal(w, http.StatusOK, proofResponse{Certificate: res.Certificate, Proof: string(proof), ExpiresAt: res.ExpiresAt, Tier: res.Tier})
}

// current returns the stored certificate, reporting first when there is
// none or it expires within a minute.
func (l *local) current(r *http.Request) (*Result, error) {
	l.report.Lock()
	defer l.report.Unlock()
	var res Result
	raw, err := os.ReadFile(filepath.Join(l.a.cfg.StateDir, lastReportFile))
	if err == nil && json.Unmarshal(raw, &res) == nil && res.ExpiresAt.After(l.opts.Now().Add(time.Minute)) {
		return &res, nil
	}
	fresh, err := l.a.ReportOnce(r.Context())
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return nil, errors.New(apiErr.Message)
		}
		return nil, errors.New("the health service is unreachable")
	}
	return fresh, nil
}

func writeLocal(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func localError(w http.ResponseWriter, status int, code, msg string) {
	writeLocal(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
