package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/httpsafe"
)

// Outcomes.
const (
	Allow  = "allow"
	Warn   = "warn"
	StepUp = "step_up"
	Deny   = "deny"
)

// Transaction is what a relying party asks about. Amount is a decimal
// string ("12.50"); Currency an ISO 4217 code; Event login, payment or
// register; Channel web, app or third-party.
type Transaction struct {
	Certificate string `json:"certificate,omitempty"`
	Proof       string `json:"proof,omitempty"`
	Event       string `json:"event"`
	Account     string `json:"account"`
	Amount      string `json:"amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Payee       string `json:"payee,omitempty"`
	MerchantURL string `json:"merchant_url,omitempty"`
	Channel     string `json:"channel,omitempty"`
	IP          string `json:"ip,omitempty"`
}

// Remediation is one thing the person paying can do, per language.
type Remediation struct {
	Code     string              `json:"code"`
	Severity string              `json:"severity"`
	Title    map[string]string   `json:"title"`
	Steps    map[string][]string `json:"steps"`
}

// Decision is the service's answer.
type Decision struct {
	ID          string            `json:"decision_id"`
	Outcome     string            `json:"outcome"`
	Reasons     []string          `json:"reasons"`
	Message     map[string]string `json:"message"`
	Remediation []Remediation     `json:"remediation"`
	Signals     json.RawMessage   `json:"signals"`
	PolicyID    string            `json:"policy_id,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	Feedback    string            `json:"feedback,omitempty"`
}

// Error is an error answered by the service.
type Error struct {
	Status  int
	Code    string // stable, e.g. "unauthorized", "bad_request", "certificate_invalid"
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("healthgate: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches the sentinel errors by status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrBadRequest:
		return e.Status >= 400 && e.Status < 500 && e.Status != 401 && e.Status != 403 && e.Status != 404
	case ErrUnavailable:
		return e.Status >= 500
	}
	return false
}

// Sentinels for errors.Is.
var (
	ErrUnauthorized = errors.New("API key missing, unknown, revoked or expired")
	ErrForbidden    = errors.New("API key lacks the scope")
	ErrNotFound     = errors.New("no such decision")
	ErrBadRequest   = errors.New("request refused as malformed")
	ErrUnavailable  = errors.New("service unavailable")
)

// Client talks to one Healthgate server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	key  string
	http *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: 10 s timeout, redirects
// not followed, so the API key goes to the base URL's host only).
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// New returns a client for the server at baseURL, authenticating with
// apiKey. The URL must be https, or http to a loopback host, with no query
// or fragment.
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("healthgate: base URL %q is not an absolute URL", baseURL)
	}
	if !httpsafe.Secure(u) {
		return nil, fmt.Errorf("healthgate: base URL %q must be https (or http to loopback)", baseURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("healthgate: base URL %q must not have a query or fragment", baseURL)
	}
	if apiKey == "" {
		return nil, errors.New("healthgate: API key is empty")
	}
	if strings.IndexFunc(apiKey, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return nil, errors.New("healthgate: API key has white space or control characters (copied with a line break?)")
	}
	c := &Client{base: u, key: apiKey, http: &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the API never redirects; the key stays with the base URL
		},
	}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 1 << 20

// checkOutcome refuses an answer with no known outcome: a caller must
// never read it as "no objection".
func checkOutcome(d *Decision) error {
	switch d.Outcome {
	case Allow, Warn, StepUp, Deny:
		return nil
	}
	return fmt.Errorf("healthgate: answer has no known outcome (%q)", d.Outcome)
}

// Decide asks for a decision on a transaction.
func (c *Client) Decide(ctx context.Context, tx Transaction) (*Decision, error) {
	var d Decision
	if err := c.do(ctx, http.MethodPost, "/v1/decisions", tx, &d); err != nil {
		return nil, err
	}
	if err := checkOutcome(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Decision fetches an earlier decision.
func (c *Client) Decision(ctx context.Context, id string) (*Decision, error) {
	var d Decision
	if err := c.do(ctx, http.MethodGet, "/v1/decisions/"+url.PathEscape(id), nil, &d); err != nil {
		return nil, err
	}
	if err := checkOutcome(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Feedback records what became of a decided transaction: legitimate, fraud
// or chargeback.
func (c *Client) Feedback(ctx context.Context, decisionID, outcome string) error {
	return c.do(ctx, http.MethodPost, "/v1/decisions/"+url.PathEscape(decisionID)+"/feedback",
		map[string]string{"outcome": outcome}, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return err
	}
	tooLarge := len(raw) > maxAnswer
	if tooLarge {
		raw = raw[:maxAnswer]
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error.Code == "" {
			e.Error.Code, e.Error.Message = "http_error", http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil {
		return nil
	}
	if tooLarge {
		return fmt.Errorf("healthgate: answer larger than %d bytes", maxAnswer)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("healthgate: decoding answer: %w", err)
	}
	return nil
}
