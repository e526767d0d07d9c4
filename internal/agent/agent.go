// Package agent is the device side of Healthgate: it enrols the device key,
// asks for a challenge, collects posture, signs the evidence, submits it and
// keeps the certificate the server issues. It never imports server code.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/posture"
)

// SWName is the evidence swname of this agent.
const SWName = "healthgate-agent"

// Config configures an Agent.
type Config struct {
	Server   string // base URL of the health service
	StateDir string // device key, enrolment and current certificate
	Root     string // collectors read the device's files under Root ("/" by default)
	Version  string
	Client   *http.Client
	Logger   *slog.Logger
	Now      func() time.Time
	// Key is the device key; nil means the Ed25519 key file in StateDir.
	// OpenKey opens a TPM key (tpm.go).
	Key devicekey.Key
}

// Agent reports a device's health.
type Agent struct {
	cfg  Config
	base *url.URL
	key  devicekey.Key
	jwk  devicekey.JWK
	log  *slog.Logger
	// enrolMu makes concurrent reports (daemon, checkout endpoint) enrol
	// once.
	enrolMu sync.Mutex
	// hardware is whether the server enrolled the key as hardware-bound.
	hardware atomic.Bool
	// protect holds the protective feed (protect.go).
	protect *protection
}

// Files in the state directory.
const (
	keyFile         = "device.key"
	enrolmentFile   = "enrolment.json"
	certificateFile = "certificate.jwt"
	lastReportFile  = "last-report.json"
	matchesFile     = "matches.json" // feed matches remembered for incidence (protect.go)
)

// New validates the configuration and loads (or creates) the device key.
func New(cfg Config) (*Agent, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must be http(s)://host[:port]", cfg.Server)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("state directory is required")
	}
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	// The feed's snapshot can take minutes to download: without a client
	// of the caller's, the feed keeps its own, longer timeout.
	feedClient := cfg.Client
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	key := cfg.Key
	if key == nil {
		k, err := devicekey.LoadOrCreateFile(filepath.Join(cfg.StateDir, keyFile))
		if err != nil {
			return nil, err
		}
		key = k
	}
	jwk, err := devicekey.PublicJWK(key.Public())
	if err != nil {
		return nil, err
	}
	feed, err := NewFeedSync(FeedConfig{Server: cfg.Server, StateDir: cfg.StateDir, Version: cfg.Version,
		Client: feedClient, Logger: cfg.Logger, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, base: u, key: key, jwk: jwk, log: cfg.Logger, protect: &protection{feed: feed}}, nil
}

// Enrolment is what the agent remembers about its registration.
type Enrolment struct {
	Server   string `json:"server"`
	DeviceID string `json:"device_id"`
	JKT      string `json:"jkt"`
	Hardware bool   `json:"hardware"`
	// Quotes is true when a TPM key was enrolled by an agent that binds its
	// reports to TPM quotes, so the server holds the attestation key. A
	// TPM key's enrolment without it is made again, once (tpm.go).
	Quotes bool `json:"quotes,omitempty"`
}

// APIError is an error answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// Enroll registers the device key with the server unless this state
// directory is already enrolled there, and returns the device id.
func (a *Agent) Enroll(ctx context.Context) (string, error) {
	a.enrolMu.Lock()
	defer a.enrolMu.Unlock()
	var e Enrolment
	if err := readJSON(filepath.Join(a.cfg.StateDir, enrolmentFile), &e); err == nil &&
		e.Server == a.cfg.Server && e.JKT == a.jwk.Thumbprint() && e.DeviceID != "" && (e.Quotes || !a.quotes()) {
		a.hardware.Store(e.Hardware)
		return e.DeviceID, nil
	}
	var resp enrollAnswer
	if err := a.enroll(ctx, map[string]any{"public_key": a.jwk, "platform": posture.Platform()}, &resp); err != nil { // tpm.go
		return "", fmt.Errorf("enrolling: %w", err)
	}
	if resp.JKT != a.jwk.Thumbprint() {
		return "", fmt.Errorf("enrolling: server registered key %s, not ours", resp.JKT)
	}
	e = Enrolment{Server: a.cfg.Server, DeviceID: resp.DeviceID, JKT: resp.JKT, Hardware: resp.Hardware, Quotes: resp.Hardware && a.quotes()}
	if err := writeFileAtomic(filepath.Join(a.cfg.StateDir, enrolmentFile), mustJSON(e), 0o600); err != nil {
		return "", err
	}
	a.log.Info("enrolled", slog.String("device_id", e.DeviceID), slog.Bool("hardware", e.Hardware))
	if a.key.Hardware() && !e.Hardware {
		a.log.Warn("the server did not record the device key as hardware-bound", slog.String("device_id", e.DeviceID))
	}
	a.hardware.Store(e.Hardware)
	return e.DeviceID, nil
}

// Result is the server's answer to a report. Raw keeps it verbatim.
type Result struct {
	DeviceID    string    `json:"device_id"`
	ReportID    string    `json:"report_id"`
	Tier        string    `json:"tier"`
	Score       int       `json:"score"`
	Findings    []Finding `json:"findings"`
	PolicyID    string    `json:"policy_id"`
	Certificate string    `json:"certificate"`
	ExpiresAt   time.Time `json:"expires_at"`

	Raw json.RawMessage `json:"-"`
}

// Finding is one problem the server found, with text for the user.
type Finding struct {
	Code        string            `json:"code"`
	Tier        string            `json:"tier"`
	Category    string            `json:"category"`
	Title       map[string]string `json:"title"`
	Remediation map[string]string `json:"remediation"`
}

// Collect gathers the device's posture under the configured root.
func (a *Agent) Collect(ctx context.Context) evidence.Facts {
	return posture.Collect(ctx, posture.Options{Root: a.cfg.Root, Now: a.cfg.Now})
}

// ReportOnce enrols if needed, asks for a challenge, collects posture, signs
// and submits the evidence, and stores the certificate it gets back.
func (a *Agent) ReportOnce(ctx context.Context) (*Result, error) {
	id, err := a.Enroll(ctx)
	if err != nil {
		return nil, err
	}
	facts := a.Collect(ctx)
	tok, err := a.Evidence(ctx, id, facts, a.localFindings(ctx, facts))
	if err != nil {
		return nil, err
	}
	res, err := a.Submit(ctx, tok)
	if err != nil {
		return nil, err
	}
	res.Raw = withHardware(res.Raw, a.hardware.Load()) // tpm.go
	return res, nil
}

// ReportSession reports for a checkout session a payment page started with
// a healthgate:// link; the relying party's decision picks the report up.
func (a *Agent) ReportSession(ctx context.Context, session string) (*Result, error) {
	id, err := a.Enroll(ctx)
	if err != nil {
		return nil, err
	}
	facts := a.Collect(ctx)
	tok, err := a.evidence(ctx, id, facts, a.localFindings(ctx, facts), session)
	if err != nil {
		return nil, err
	}
	return a.Submit(ctx, tok)
}

// SessionLink parses a healthgate://report?server=URL&session=ID link and
// returns the session id. The link's server must be the agent's own: a
// link naming another server would send this device's facts to whoever
// wrote the link.
func (a *Agent) SessionLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "healthgate" || u.Host != "report" {
		return "", errors.New("not a healthgate://report link")
	}
	q := u.Query()
	if srv := strings.TrimRight(q.Get("server"), "/"); srv != strings.TrimRight(a.cfg.Server, "/") {
		return "", fmt.Errorf("the link names server %q, but this agent reports to %q: ignored", srv, a.cfg.Server)
	}
	session := q.Get("session")
	if session == "" || len(session) > 256 {
		return "", errors.New("the link has no valid session")
	}
	return session, nil
}

// Evidence asks the server for a challenge and signs a report of facts for it.
func (a *Agent) Evidence(ctx context.Context, deviceID string, facts evidence.Facts, findings []evidence.Finding) ([]byte, error) {
	return a.evidence(ctx, deviceID, facts, findings, "")
}

func (a *Agent) evidence(ctx context.Context, deviceID string, facts evidence.Facts, findings []evidence.Finding, session string) ([]byte, error) {
	// The report itself is checked first, with stand-ins for what the
	// server provides: an evidence.ErrSchema from here on is the server's
	// doing (its nonce or device id), not the report's, and must not make
	// the daemon drop the report as refused for good.
	claims := &evidence.Claims{
		Nonce: "placeholder-nonce", UEID: "placeholder-device", IssuedAt: a.cfg.Now().Unix(), SWName: SWName, SWVersion: a.cfg.Version,
		Platform: posture.Platform(), Facts: facts, Findings: findings, Session: session,
	}
	if err := claims.Validate(); err != nil {
		return nil, err
	}
	var ch struct {
		Nonce string `json:"nonce"`
	}
	if _, err := a.post(ctx, "/v1/challenge", "application/json", map[string]string{"device_id": deviceID}, &ch); err != nil {
		return nil, fmt.Errorf("asking for a challenge: %w", err)
	}
	claims.Nonce, claims.UEID, claims.IssuedAt = ch.Nonce, deviceID, a.cfg.Now().Unix()
	if err := a.addQuote(claims); err != nil { // tpm.go
		return nil, err
	}
	tok, err := evidence.Sign(claims, a.key)
	if errors.Is(err, evidence.ErrSchema) {
		return nil, fmt.Errorf("the server's challenge or device id does not fit the evidence: %v", err)
	}
	return tok, err
}

// Submit sends signed evidence and stores the certificate it gets back.
func (a *Agent) Submit(ctx context.Context, tok []byte) (*Result, error) {
	var res Result
	raw, err := a.post(ctx, "/v1/reports", evidence.MediaType, tok, &res)
	if err != nil {
		return nil, fmt.Errorf("submitting report: %w", err)
	}
	res.Raw = raw
	if err := writeFileAtomic(filepath.Join(a.cfg.StateDir, certificateFile), []byte(res.Certificate+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(a.cfg.StateDir, lastReportFile), raw, 0o600); err != nil {
		return nil, err
	}
	return &res, nil
}

// Certificate returns the stored certificate, if any.
func (a *Agent) Certificate() (string, error) {
	b, err := os.ReadFile(filepath.Join(a.cfg.StateDir, certificateFile))
	return strings.TrimSpace(string(b)), err
}

// post sends body (bytes as is, anything else as JSON) and decodes a 2xx
// answer into out. It returns the raw answer.
func (a *Agent) post(ctx context.Context, path, contentType string, body any, out any) ([]byte, error) {
	var payload []byte
	switch b := body.(type) {
	case []byte:
		payload = b
	default:
		payload = mustJSON(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base.JoinPath(path).String(), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", SWName+"/"+a.cfg.Version)
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp.StatusCode, raw) // feed.go
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("server answer is not the expected JSON: %w", err)
	}
	return raw, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with types that always marshal
	}
	return b
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeFileAtomic writes via a temporary file and rename, so a crash never
// leaves a half-written state file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
