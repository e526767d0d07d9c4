package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/warning"
	"github.com/healthgate/healthgate/token"
)

// Limits of the decision API.
const (
	maxDecisionBody = 32 << 10
	maxAccountLen   = 256
	maxPayeeLen     = 256
	maxURLLen       = 2048
	maxProofLen     = 4096
	// maxAmount bounds amounts: nothing legitimate is larger, and it keeps
	// float sums exact enough.
	maxAmount   = 1e12
	certCacheMx = 100_000
)

var (
	events   = []string{"login", "payment", "register"}
	channels = []string{"web", "app", "third-party"}
	feedback = []string{"legitimate", "fraud", "chargeback"}
	// amountPattern: a plain non-negative decimal, at most 13 integer and
	// 6 fraction digits. No sign, exponent, NaN or Inf.
	amountPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,12})(\.[0-9]{1,6})?$`)
)

// decisions is the state of the decision API.
type decisions struct {
	policy  *risk.Policy
	tracker *risk.Tracker
	keys    *keyCache
	certs   *certCache
	hashKey []byte    // keys the hashes of accounts, payees and networks
	hmacs   sync.Pool // of HMAC-SHA-256 under hashKey, reused: keying costs two blocks
	batch   *decisionBatcher
	// accounts caches which accounts each device was seen with.
	accounts *accountSets
	// findings maps health-policy finding codes to their remediation.
	findings map[string]remediation
	// loadedAt is when the velocity windows were loaded from the store,
	// and loaded the ids of the decisions of the last moments before
	// then, for watchPeers to take up from there.
	loadedAt time.Time
	loaded   map[string]time.Time
	// The JSON of the fixed texts an answer carries, encoded once
	// (decisionjson.go): per warning code its message and remediation,
	// per finding its remediation.
	warningJSON map[string]warningJSON
	findingJSON map[string][]byte
}

func (s *Server) initDecisions(ctx context.Context) error {
	pol := s.opts.RiskPolicy
	if pol == nil {
		pol = risk.Default()
	}
	key, err := s.store.Secret(ctx, "decision-hash-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, k)
		return k, err
	})
	if err != nil {
		return fmt.Errorf("loading decision hash key: %w", err)
	}
	d := &decisions{
		policy: pol, tracker: risk.NewTracker(1_000_000, 256), keys: newKeyCache(s.store, s.opts.Now),
		certs: newCertCache(certCacheMx), hashKey: key, batch: newDecisionBatcher(s.store),
		findings: map[string]remediation{}, accounts: &accountSets{m: map[string]*accountSet{}},
	}
	for _, r := range s.policy.Rules() {
		d.findings[r.ID] = remediation{Code: r.ID, Severity: r.Tier, Title: r.Title,
			Steps: map[string][]string{"zh-CN": {r.Remediation["zh-CN"]}, "en": {r.Remediation["en"]}}}
	}
	if err := d.encodeTexts(); err != nil {
		return err
	}
	// Rebuild the velocity windows from the last day of decisions. On a
	// shared store, watchPeers goes on from here with the other nodes'
	// decisions; it needs to know which of the last ones are counted.
	d.loadedAt = s.opts.Now()
	d.loaded = map[string]time.Time{}
	if err := s.store.DecisionsSince(ctx, d.loadedAt.Add(-risk.LongWindow), func(dec store.Decision) error {
		d.tracker.Observe(activity(dec))
		if !dec.Created.Before(d.loadedAt.Add(-2 * store.WatchMargin)) {
			d.loaded[dec.ID] = dec.Created
		}
		return nil
	}); err != nil {
		return fmt.Errorf("loading recent decisions: %w", err)
	}
	s.dec = d
	return nil
}

func activity(d store.Decision) risk.Activity {
	a := risk.Activity{Account: d.RPID + "\x00" + d.Account, Payment: d.Event == "payment", Amount: d.AmountValue, At: d.Created}
	if d.DeviceID != "" {
		a.Device = d.RPID + "\x00" + d.DeviceID
	}
	return a
}

// decisionRoutes registers the relying-party API: transaction decisions.
func (s *Server) decisionRoutes(r chi.Router) {
	r.Post("/v1/decisions", s.wrap(s.authed(store.ScopeDecisions, s.handleDecide)))
	r.Get("/v1/decisions/{id}", s.wrap(s.authed(store.ScopeDecisions, s.handleGetDecision)))
	r.Post("/v1/decisions/{id}/feedback", s.wrap(s.authed(store.ScopeDecisions, s.handleFeedback)))
}

// DecisionRequest is the body of POST /v1/decisions.
type DecisionRequest struct {
	Certificate string `json:"certificate,omitempty"`
	Proof       string `json:"proof,omitempty"`
	// Session is a checkout session (POST /v1/sessions) whose device
	// reported through a healthgate:// link: the path without a loopback
	// call, used when there is no certificate.
	Session     string          `json:"session,omitempty"`
	Event       string          `json:"event"`
	Account     string          `json:"account"`
	Amount      json.RawMessage `json:"amount,omitempty"`
	Currency    string          `json:"currency,omitempty"`
	Payee       string          `json:"payee,omitempty"`
	MerchantURL string          `json:"merchant_url,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	IP          string          `json:"ip,omitempty"`
}

// DecisionResponse is a decision, as answered and as fetched.
type DecisionResponse struct {
	DecisionID  string            `json:"decision_id"`
	Outcome     string            `json:"outcome"`
	Reasons     []string          `json:"reasons"`
	Message     map[string]string `json:"message"`
	Remediation []remediation     `json:"remediation"`
	Signals     json.RawMessage   `json:"signals"`
	PolicyID    string            `json:"policy_id,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	Feedback    string            `json:"feedback,omitempty"`
	// messageRaw, when set, is Message encoded (decisionjson.go).
	messageRaw []byte
}

// remediation is one thing the person paying can do.
type remediation struct {
	Code     string              `json:"code"`
	Severity string              `json:"severity"`
	Title    map[string]string   `json:"title"`
	Steps    map[string][]string `json:"steps"`
	// raw, when set, is this remediation encoded (decisionjson.go).
	raw []byte
}

// validTx is a checked request.
type validTx struct {
	DecisionRequest
	amount    string // decimal text, as sent
	amountVal float64
	host      string
	ip        netip.Addr
}

func badInput(problems []string) error {
	return errorf(http.StatusBadRequest, "bad_request", "%s", strings.Join(problems, "; "))
}

// printable reports whether s is valid UTF-8 of at most max characters
// a person can see: no control characters, line or paragraph separators,
// nor invisible format characters (bidi overrides and isolates, zero-width
// space, byte order mark), which make two ids look alike or one look like
// another. The zero-width (non-)joiners stay: Persian and Indic text need
// them.
func printable(s string, max int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) ||
			unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d' {
			return false
		}
	}
	return true
}

// overMaxAmount reports whether a decimal amountPattern matches is over
// maxAmount, compared as text: as a float, 10¹² and a millionth is 10¹².
func overMaxAmount(raw string) bool {
	whole, frac, _ := strings.Cut(raw, ".")
	return len(whole) == 13 && (whole != "1000000000000" || strings.Trim(frac, "0") != "")
}

// validate checks every field and reports every problem at once.
func validate(req DecisionRequest) (validTx, error) {
	v := validTx{DecisionRequest: req}
	var p []string
	if !slices.Contains(events, req.Event) {
		p = append(p, fmt.Sprintf("event must be one of %s", strings.Join(events, ", ")))
	}
	switch {
	case strings.TrimSpace(req.Account) == "":
		p = append(p, "account is missing")
	case !printable(req.Account, maxAccountLen):
		p = append(p, fmt.Sprintf("account must be at most %d printable characters", maxAccountLen))
	}
	if len(req.Amount) > 0 && string(req.Amount) != "null" {
		raw := string(req.Amount)
		if strings.HasPrefix(raw, `"`) {
			if err := json.Unmarshal(req.Amount, &raw); err != nil {
				raw = "?"
			}
		}
		if !amountPattern.MatchString(raw) {
			p = append(p, "amount must be a plain non-negative decimal such as 12.50 (no sign, exponent, NaN or Inf)")
		} else if f, err := strconv.ParseFloat(raw, 64); err != nil || f > maxAmount || overMaxAmount(raw) {
			p = append(p, fmt.Sprintf("amount must be at most %.0f", maxAmount))
		} else {
			v.amount, v.amountVal = raw, f
		}
		if !risk.ValidCurrency(req.Currency) {
			p = append(p, "currency must be an ISO 4217 code such as CNY or USD")
		}
	} else {
		if req.Event == "payment" {
			p = append(p, "amount is required for a payment")
		}
		if req.Currency != "" && !risk.ValidCurrency(req.Currency) {
			p = append(p, "currency must be an ISO 4217 code such as CNY or USD")
		}
	}
	if !printable(req.Payee, maxPayeeLen) {
		p = append(p, fmt.Sprintf("payee must be at most %d printable characters", maxPayeeLen))
	}
	if req.MerchantURL != "" {
		u, err := url.Parse(req.MerchantURL)
		if err == nil {
			// A host name and a port a browser could have in an origin,
			// as proofs name it.
			_, err = evidence.URLOrigin(req.MerchantURL)
		}
		if len(req.MerchantURL) > maxURLLen || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			strings.Contains(u.Hostname(), "%") {
			p = append(p, "merchant_url must be an absolute http(s) URL of at most 2048 bytes")
		} else {
			v.host = strings.ToLower(u.Hostname())
		}
	}
	if req.Channel != "" && !slices.Contains(channels, req.Channel) {
		p = append(p, fmt.Sprintf("channel must be one of %s", strings.Join(channels, ", ")))
	}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil || ip.Zone() != "" {
			p = append(p, "ip must be an IPv4 or IPv6 address")
		}
		v.ip = ip
	}
	if len(req.Certificate) > token.MaxTokenSize {
		p = append(p, "certificate is too large")
	}
	if len(req.Proof) > maxProofLen {
		p = append(p, "proof is too large")
	}
	if len(req.Session) > 256 {
		p = append(p, "session is too large")
	}
	if len(p) > 0 {
		return v, badInput(p)
	}
	return v, nil
}

// hash is a keyed hash (HMAC-SHA-256, 128 bits, base64url) of a value
// scoped to a relying party: equal inputs can be matched, the raw value
// cannot be read back.
func (d *decisions) hash(kind, rpID, value string) string {
	if value == "" {
		return ""
	}
	m, _ := d.hmacs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, d.hashKey)
	}
	m.Reset()
	m.Write([]byte(kind + "\x00" + rpID + "\x00" + value))
	var sum [sha256.Size]byte
	s := base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:16])
	d.hmacs.Put(m)
	return s
}

// network returns the /24 (IPv4) or /48 (IPv6) prefix of an address.
func network(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request) error {
	rpID := relyingParty(r.Context())
	if err := requireType(r, "application/json"); err != nil {
		return err
	}
	body, err := readBody(w, r, maxDecisionBody)
	if err != nil {
		return err
	}
	var req DecisionRequest
	if !decodeDecisionFast(body, &req) {
		req = DecisionRequest{}
		if err := decodeStrict(body, &req); err != nil {
			return err
		}
	}
	tx, err := validate(req)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	d := s.dec
	// From here the decision is being computed: the committer waits for it.
	d.batch.begin()
	queued := false
	defer func() {
		if !queued {
			d.batch.abandon()
		}
	}()
	sig := risk.Signals{Event: tx.Event, Channel: tx.Channel, Amount: tx.amountVal, Currency: tx.Currency,
		Device: risk.DeviceSignals{Tier: token.TierNone, Findings: []string{}}}

	// The certificate: verified against this service's own keys. A forged
	// one, or one from another deployment, is refused; a missing or
	// expired one is a signal.
	var deviceID string
	if tx.Certificate != "" {
		sig.Certificate.Present = true
		claims, err := s.verifyCertificate(r.Context(), tx.Certificate, now)
		switch {
		case err == nil:
			sig.Certificate.Valid = true
			deviceID = claims.Subject
			sig.Device.Known = true
			sig.Device.Tier = claims.Tier()
			if claims.Findings != nil {
				sig.Device.Findings = claims.Findings
			}
		case errors.Is(err, token.ErrExpired):
			sig.Certificate.Expired = true
		case errors.Is(err, token.ErrUnknownKey), errors.Is(err, token.ErrSignature), errors.Is(err, token.ErrMalformed),
			errors.Is(err, token.ErrAlgorithm), errors.Is(err, token.ErrClaims), errors.Is(err, token.ErrNotYetValid):
			return &httpError{Status: http.StatusBadRequest, Code: "certificate_invalid",
				Message: "certificate is not a valid health certificate of this service (forged, damaged or from another deployment)", Err: err}
		default:
			return err
		}
		// The proof of possession: the certificate's device key signed
		// this very transaction, just now.
		if tx.Proof != "" && sig.Certificate.Valid {
			if err := s.checkProof(r.Context(), tx, claims, now); err != nil {
				return err
			}
			sig.Certificate.Bound = true
		}
	}

	if tx.Certificate == "" && tx.Session != "" {
		var err error
		if deviceID, err = s.sessionSignals(r.Context(), rpID, tx.Session, now, &sig); err != nil {
			return err
		}
	}

	acct := d.hash("account", rpID, tx.Account)
	pairKnown := false
	if deviceID != "" {
		seen, n, err := d.accounts.lookup(r.Context(), s.store, rpID, deviceID, acct, now)
		if err != nil {
			return err
		}
		pairKnown = seen
		sig.Account.NewDevice = !seen
		sig.Device.Accounts = n
		if !seen {
			sig.Device.Accounts++
		}
	} else {
		sig.Account.NewDevice = true
	}
	devKey := ""
	if deviceID != "" {
		devKey = rpID + "\x00" + deviceID
		sig.Device.NetworkEnrolmentsHour = s.traits.recent(deviceID, now)
		sig.Device.Virtual = s.traits.isVirtual(deviceID)
	}
	d.tracker.Fill(&sig, rpID+"\x00"+acct, devKey, now)
	sig.Intel = s.intelSignals(tx.host, tx.MerchantURL, tx.Payee)

	res := d.policy.Evaluate(&sig)
	for _, e := range res.Errors {
		s.log.Warn("risk rule failed", "err", e)
	}
	sigJSON, err := json.Marshal(sig)
	if err != nil {
		return err
	}
	id, err := newDecisionID(s.opts.Rand, now)
	if err != nil {
		return err
	}
	rec := store.Decision{
		ID: id, RPID: rpID, Created: now.UTC(), Event: tx.Event, Account: acct, DeviceID: deviceID,
		Amount: tx.amount, AmountValue: tx.amountVal, Currency: tx.Currency, Channel: tx.Channel,
		Payee: d.hash("payee", rpID, tx.Payee), MerchantHost: tx.host, IPNet: d.hash("ip", rpID, network(tx.ip)),
		Outcome: res.Outcome, Reasons: res.Reasons, Signals: sigJSON, PairKnown: pairKnown,
	}
	queued = true
	if err := d.batch.record(r.Context(), rec); err != nil {
		return err
	}
	d.tracker.Observe(activity(rec))
	if deviceID != "" {
		d.accounts.add(rpID, deviceID, acct)
	}
	out := d.response(rec, &sig, res.Warnings, res.PolicyID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	buf, _ := answerBuffers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	*buf = append(appendDecisionResponse((*buf)[:0], &out), '\n')
	_, err = w.Write(*buf) // copied into the connection's buffer or written out before it returns
	if cap(*buf) <= 64<<10 {
		answerBuffers.Put(buf)
	}
	return err
}

// answerBuffers holds the buffers answers are encoded into.
var answerBuffers sync.Pool

// sessionSignals fills the device signals from the report a device made
// for a checkout session, and returns the device id. A session of another
// relying party, or an expired one, is refused; a session the device has
// not reported for (yet) leaves the certificate missing: step-up.
func (s *Server) sessionSignals(ctx context.Context, rpID, session string, now time.Time, sig *risk.Signals) (string, error) {
	owner, err := s.sessions.check(session)
	if err != nil || owner != rpID {
		return "", errorf(http.StatusBadRequest, "session_invalid", "the checkout session is unknown, expired or not yours")
	}
	rep, err := s.store.SessionReport(ctx, session)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	sig.Certificate.Present = true
	if !now.Before(rep.CertExp) {
		sig.Certificate.Expired = true
		return "", nil
	}
	// The device signed a report for this one-time session: as good as a
	// certificate with a proof of possession, and, like a proof, good for
	// one decision (used_proofs, under a name of its own).
	sum := sha256.Sum256([]byte("checkout-session\x00" + session))
	if err := s.store.UseProof(ctx, sum, now.Add(SessionTTL+time.Minute)); errors.Is(err, store.ErrProofReplayed) {
		return "", errorf(http.StatusConflict, "session_used", "this checkout session was already used for a decision: start the payment again")
	} else if err != nil {
		return "", err
	}
	sig.Certificate.Valid, sig.Certificate.Bound = true, true
	sig.Device.Known, sig.Device.Tier = true, rep.Tier
	if rep.Findings != nil {
		sig.Device.Findings = rep.Findings
	}
	return rep.DeviceID, nil
}

// newDecisionID returns "dec_" and 16 bytes, base64url: 6 bytes of the
// time in milliseconds, then 10 random bytes. Time first keeps the ids of
// one batch close together in the primary-key index, so that it dirties
// few pages. (Close, not sorted: base64url's alphabet is not in ASCII
// order, so ids are not in time order as text.)
func newDecisionID(rnd io.Reader, now time.Time) (string, error) {
	b := make([]byte, 16)
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	if _, err := io.ReadFull(rnd, b[6:]); err != nil {
		return "", err
	}
	return "dec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// checkProof verifies a proof of possession against the device key the
// certificate names, and that it covers this transaction.
func (s *Server) checkProof(ctx context.Context, tx validTx, claims *token.Claims, now time.Time) error {
	bad := func(msg string, err error) error {
		return &httpError{Status: http.StatusBadRequest, Code: "proof_invalid", Message: msg, Err: err}
	}
	dev, err := s.devices.Device(ctx, claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return bad("the certificate's device is not enrolled here", err)
	} else if err != nil {
		return err
	}
	if dev.JKT != claims.Confirmation.JKT {
		return bad("the certificate is not bound to its device's key", nil)
	}
	var jwk devicekey.JWK
	if err := json.Unmarshal(dev.PublicKey, &jwk); err != nil {
		return err
	}
	pub, err := jwk.PublicKey()
	if err != nil {
		return err
	}
	p, err := evidence.VerifyProof([]byte(tx.Proof), pub, now)
	if err != nil {
		return bad("proof is not a fresh signature by the certificate's device key over this transaction", err)
	}
	want, err := evidence.TransactionHash(evidence.Transaction{Account: tx.Account, Amount: tx.amount, Currency: tx.Currency,
		Payee: tx.Payee, MerchantURL: tx.MerchantURL})
	if err != nil {
		return bad(err.Error(), err)
	}
	if !hmac.Equal([]byte(p.TxHash), []byte(want)) {
		return bad("proof was signed for a different transaction", nil)
	}
	// The agent signs for the page origin that asked it; a proof made for
	// one shop's page does not vouch for a payment at another, nor for one
	// that names no site.
	if p.Origin != "" || tx.MerchantURL != "" {
		if tx.MerchantURL == "" {
			return bad("proof was made for a page of "+p.Origin+": merchant_url must name that page", nil)
		}
		if o, err := evidence.URLOrigin(tx.MerchantURL); err != nil || o != p.Origin {
			return bad("proof was made for another site than merchant_url", err)
		}
	}
	// Last, once it is known good: a proof taken off the wire cannot buy
	// a second decision, at this node or another sharing the store. It is
	// kept until it no longer verifies (its age limit plus the leeway).
	expires := time.Unix(p.IssuedAt, 0).Add(evidence.MaxProofAge + time.Minute)
	if err := s.store.UseProof(ctx, sha256.Sum256([]byte(tx.Proof)), expires); errors.Is(err, store.ErrProofReplayed) {
		return bad("this proof was already used for a decision: ask the device for a new one", err)
	} else if err != nil {
		return err
	}
	return nil
}

// verifyCertificate verifies a certificate with the service's own signing
// keys and caches the verified claims until the certificate expires.
func (s *Server) verifyCertificate(ctx context.Context, cert string, now time.Time) (*token.Claims, error) {
	sum := sha256.Sum256([]byte(cert))
	if c, ok := s.dec.certs.get(sum, now); ok {
		return c, nil
	}
	keys, err := s.dec.certs.keys(s.issuer.JWKS())
	if err != nil {
		return nil, err
	}
	c, err := token.Verify(ctx, []byte(cert), keys, token.WithNow(func() time.Time { return now }), token.WithIssuer(s.opts.Issuer))
	if err != nil {
		return nil, err
	}
	s.dec.certs.put(sum, c)
	return c, nil
}

// certCache holds verified certificate claims by the certificate's hash
// until it expires, and the parsed JWKS of the issuer, re-parsed when the
// keys rotate. Bounded: when full, an arbitrary entry is forgotten.
type certCache struct {
	max     int
	mu      sync.RWMutex
	m       map[[32]byte]*token.Claims
	jwksRaw []byte
	jwks    *token.StaticJWKS
}

func newCertCache(max int) *certCache {
	return &certCache{max: max, m: make(map[[32]byte]*token.Claims)}
}

func (c *certCache) get(sum [32]byte, now time.Time) (*token.Claims, bool) {
	c.mu.RLock()
	cl, ok := c.m[sum]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	// Same leeway as token.Verify: after that the certificate has expired.
	if now.Unix()-int64(token.DefaultLeeway/time.Second) >= cl.Expiry {
		c.mu.Lock()
		delete(c.m, sum)
		c.mu.Unlock()
		return nil, false
	}
	return cl, true
}

func (c *certCache) put(sum [32]byte, cl *token.Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[sum] = cl
}

func (c *certCache) keys(raw []byte) (*token.StaticJWKS, error) {
	c.mu.RLock()
	if c.jwks != nil && bytes.Equal(raw, c.jwksRaw) {
		k := c.jwks
		c.mu.RUnlock()
		return k, nil
	}
	c.mu.RUnlock()
	k, err := token.ParseJWKS(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.jwks, c.jwksRaw = k, bytes.Clone(raw)
	c.mu.Unlock()
	return k, nil
}

var allowMessage = map[string]string{
	"zh-CN": "没有发现问题，可以继续。",
	"en":    "No problems were found. You can go ahead.",
}

// checkMessage is the message of an answer other than allow when none of
// its reasons has one.
var checkMessage = map[string]string{
	"zh-CN": "这笔交易需要进一步确认才能继续。",
	"en":    "This transaction needs a further check before it can go ahead.",
}

// response builds the answer: the message of the most severe fired rule
// and, after the warnings' steps, how to fix each finding on the device.
func (d *decisions) response(rec store.Decision, sig *risk.Signals, warnings []string, policyID string) DecisionResponse {
	out := DecisionResponse{DecisionID: rec.ID, Outcome: rec.Outcome, Reasons: rec.Reasons, Message: allowMessage,
		Remediation: []remediation{}, Signals: rec.Signals, PolicyID: policyID, CreatedAt: rec.Created, Feedback: rec.Feedback,
		messageRaw: allowMessageJSON}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	told := false // the message is the first warning's the catalog has
	for _, code := range warnings {
		w, ok := warning.Lookup(code)
		if !ok {
			continue
		}
		enc := d.warningJSON[code]
		if !told && rec.Outcome != risk.Allow {
			out.Message, out.messageRaw, told = w.Text, enc.message, true
		}
		out.Remediation = append(out.Remediation, remediation{Code: w.Code, Severity: w.Severity.String(), Title: w.Title, Steps: w.Steps,
			raw: enc.remediation})
	}
	if rec.Outcome != risk.Allow {
		if !told {
			// No reason has a text (a decision fetched after the policy
			// that made it was replaced): never "go ahead".
			out.Message, out.messageRaw = checkMessage, checkMessageJSON
		}
		for _, f := range sig.Device.Findings {
			if r, ok := d.findings[f]; ok {
				r.raw = d.findingJSON[f]
				out.Remediation = append(out.Remediation, r)
			}
		}
	}
	return out
}

func (s *Server) handleGetDecision(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.store.Decision(r.Context(), relyingParty(r.Context()), chi.URLParam(r, "id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no such decision")
	} else if err != nil {
		return err
	}
	var sig risk.Signals
	if err := json.Unmarshal(rec.Signals, &sig); err != nil {
		return err
	}
	// The warnings of the reasons, by the current policy's rules.
	byID := map[string]string{}
	for _, ru := range s.dec.policy.Rules() {
		byID[ru.ID] = ru.Warning
	}
	var warnings []string
	for _, reason := range rec.Reasons {
		if wc, ok := byID[reason]; ok {
			warnings = append(warnings, wc)
		} else if _, ok := warning.Lookup(reason); ok {
			warnings = append(warnings, reason)
		}
	}
	return writeJSON(w, http.StatusOK, s.dec.response(rec, &sig, warnings, ""))
}

type feedbackRequest struct {
	Outcome string `json:"outcome"`
}

func (s *Server) handleFeedback(w http.ResponseWriter, r *http.Request) error {
	var req feedbackRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	if !slices.Contains(feedback, req.Outcome) {
		return errorf(http.StatusBadRequest, "bad_request", "outcome must be one of %s", strings.Join(feedback, ", "))
	}
	id := chi.URLParam(r, "id")
	err := s.store.RecordFeedback(r.Context(), relyingParty(r.Context()), id, req.Outcome, s.opts.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no such decision")
	} else if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"decision_id": id, "feedback": req.Outcome})
}

// decisionBatcher commits decisions in groups. It knows how many
// decisions are being computed (begin) and not yet queued (record or
// abandon): those are about to join. The first decision queued starts a
// committer, which commits what is queued when decisionBatchTarget
// decisions wait, or when nothing is being computed any more and the first
// of them has waited decisionMinWait, or at the latest after
// decisionWindow; it goes on while more arrive and exits when the queue is
// empty. Alone, a decision waits decisionMinWait; under load each
// transaction carries tens of decisions, which is what makes the durable
// write affordable.
type decisionBatcher struct {
	store    store.Store
	mu       sync.Mutex
	pending  []pendingDecision
	deciding int // decisions begun and neither queued nor abandoned
	leading  bool
	ready    chan struct{} // nothing is being computed any more, or a batch is full
}

func newDecisionBatcher(st store.Store) *decisionBatcher {
	return &decisionBatcher{store: st, ready: make(chan struct{}, 1)}
}

type pendingDecision struct {
	d   store.Decision
	err chan error
}

// Batch bounds. In the store a decision costs about 44 µs alone, 15 µs in
// batches of 8 and 9–10 µs in batches of 32–64 (BenchmarkRecordDecisions
// in internal/store/sqlite: the commit is most of the difference); over
// HTTP with 32 connections, committing as soon as no decision was being
// computed made batches too small to amortise it (docs/BENCHMARKS.md,
// "Decisions").
const (
	maxDecisionBatch    = 512
	decisionBatchTarget = 32
	decisionMinWait     = 300 * time.Microsecond
	decisionWindow      = time.Millisecond
)

// begin notes that a decision is being computed. Each begin is followed by
// exactly one record or abandon.
func (b *decisionBatcher) begin() {
	b.mu.Lock()
	b.deciding++
	b.mu.Unlock()
}

// abandon ends a begun decision that will not be recorded.
func (b *decisionBatcher) abandon() {
	b.mu.Lock()
	b.deciding--
	b.signalLocked()
	b.mu.Unlock()
}

func (b *decisionBatcher) signalLocked() {
	if len(b.pending) == 0 || (b.deciding > 0 && len(b.pending) < decisionBatchTarget) {
		return
	}
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// record queues a begun decision and waits until it is committed.
func (b *decisionBatcher) record(ctx context.Context, d store.Decision) error {
	p := pendingDecision{d, make(chan error, 1)}
	b.mu.Lock()
	b.deciding--
	b.pending = append(b.pending, p)
	lead := !b.leading
	b.leading = true
	b.signalLocked()
	b.mu.Unlock()
	if lead {
		go b.run()
	}
	select {
	case err := <-p.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *decisionBatcher) run() {
	timer := time.NewTimer(decisionWindow)
	defer timer.Stop()
	first := time.Now() // since when the batch has waited
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.leading = false
			b.mu.Unlock()
			return
		}
		if wait := b.waitLocked(time.Since(first)); wait > 0 {
			b.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-b.ready:
			case <-timer.C:
			}
			continue
		}
		n := min(len(b.pending), maxDecisionBatch)
		batch := slices.Clone(b.pending[:n])
		rest := copy(b.pending, b.pending[n:])
		clear(b.pending[rest:])
		b.pending = b.pending[:rest]
		b.mu.Unlock()
		b.commit(batch)
		first = time.Now()
	}
}

// commit stores a batch in one transaction and answers its decisions. One
// bad decision must not fail its neighbours: a failed batch is split in
// halves and each half tried again, so that the bad one fails alone after
// about 2·log2(n) transactions instead of the n it would take to store
// every decision of the batch on its own.
func (b *decisionBatcher) commit(batch []pendingDecision) {
	ds := make([]store.Decision, len(batch))
	for i, p := range batch {
		ds[i] = p.d
	}
	err := b.store.RecordDecisions(context.Background(), ds)
	if err != nil && len(batch) > 1 {
		b.commit(batch[:len(batch)/2])
		b.commit(batch[len(batch)/2:])
		return
	}
	for _, p := range batch {
		p.err <- err
	}
}

// waitLocked returns how much longer the committer should wait for
// company, given how long the batch has waited; 0 means commit now.
func (b *decisionBatcher) waitLocked(waited time.Duration) time.Duration {
	switch {
	case len(b.pending) >= decisionBatchTarget || waited >= decisionWindow:
		return 0
	case b.deciding > 0:
		return decisionWindow - waited // woken early once they are queued
	case waited >= decisionMinWait:
		return 0
	}
	return decisionMinWait - waited
}

// Bounds of accountSets.
const (
	accountSetDevices = 200_000         // devices cached
	accountSetLimit   = 1_000           // accounts kept per device; beyond, the store is asked each time
	accountSetTTL     = 5 * time.Minute // how long a set read from the store is trusted
)

// accountSets caches, per relying party and device, the accounts seen with
// the device, so that "new device for this account" and "accounts per
// device" cost no store read for a device seen recently. A set is read from
// the store on first use and then kept up to date by this server's own
// decisions; it is re-read after accountSetTTL so that decisions made by
// other nodes count too. Bounded: an arbitrary device is forgotten when
// full; devices with more than accountSetLimit accounts are not cached.
type accountSets struct {
	mu sync.Mutex
	m  map[string]*accountSet
}

type accountSet struct {
	accounts map[string]struct{}
	loaded   time.Time
}

func (c *accountSets) lookup(ctx context.Context, st store.Store, rpID, deviceID, account string, now time.Time) (bool, int, error) {
	key := rpID + "\x00" + deviceID
	c.mu.Lock()
	if e := c.m[key]; e != nil && now.Sub(e.loaded) < accountSetTTL && !now.Before(e.loaded) {
		_, seen := e.accounts[account]
		n := len(e.accounts)
		c.mu.Unlock()
		return seen, n, nil
	}
	c.mu.Unlock()
	list, err := st.DeviceAccountList(ctx, rpID, deviceID, accountSetLimit+1)
	if err != nil {
		return false, 0, err
	}
	if len(list) > accountSetLimit {
		return st.DeviceAccounts(ctx, rpID, deviceID, account)
	}
	set := make(map[string]struct{}, len(list))
	for _, a := range list {
		set[a] = struct{}{}
	}
	_, seen := set[account]
	n := len(set)
	c.mu.Lock()
	if len(c.m) >= accountSetDevices {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = &accountSet{accounts: set, loaded: now}
	c.mu.Unlock()
	return seen, n, nil
}

// add records that the device was seen with the account.
func (c *accountSets) add(rpID, deviceID, account string) {
	key := rpID + "\x00" + deviceID
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		return
	}
	e.accounts[account] = struct{}{}
	if len(e.accounts) > accountSetLimit {
		delete(c.m, key)
	}
}
