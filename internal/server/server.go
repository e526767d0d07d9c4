// Package server is the Healthgate service's composition root: it wires the
// store, the evidence verifier, the policy and the certificate issuer behind
// the HTTP API of design.md.
package server

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/policy"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/verify"
)

// Options configure a Server. Zero values take defaults.
type Options struct {
	Store     store.Store
	Policy    *policy.Policy // default: the embedded policy
	Lifetimes issuer.Lifetimes
	NonceTTL  time.Duration
	MaxSkew   time.Duration
	// KeyMaxAge is how long a certificate signing key signs before it is
	// rotated automatically.
	KeyMaxAge time.Duration
	Issuer    string // iss claim
	Version   string
	Logger    *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
	// RiskPolicy decides transactions (POST /v1/decisions); default: the
	// embedded risk policy.
	RiskPolicy *risk.Policy
	// EKRoots, when set, are the TPM manufacturer CAs an endorsement key
	// certificate must chain to (through EKIntermediates) for a TPM-bound
	// key to be enrolled; when nil, any TPM is accepted (docs/TPM.md).
	// PartnerPulls are partner TAXII collections pulled on a schedule
	// (pulls.go).
	PartnerPulls []PartnerPull
	// CheckoutOrigins are the merchant page origins that agents answer on
	// loopback (published at GET /v1/agent/config).
	CheckoutOrigins []string
	EKRoots         *x509.CertPool
	EKIntermediates *x509.CertPool
	// SurveillanceRegion, when set, names the coarse region (a province,
	// never finer) a report's sightings are counted in; "" when unknown
	// (docs/SURVEILLANCE.md).
	SurveillanceRegion func(*http.Request) string
	// SightingK is the k-anonymity threshold of sightings shared with
	// partners: 0 means 50; below 11 New fails. SightingEpsilon is their
	// Laplace noise budget per device, key and day: 0 turns noise off,
	// otherwise it must lie in [0.01, 10].
	SightingK       int
	SightingEpsilon float64
}

// Server is the running service.
type Server struct {
	opts    Options
	log     *slog.Logger
	store   store.Store
	policy  *policy.Policy
	issuer  *issuer.Issuer
	nonces  *verify.Nonces
	verify  *verify.Verifier
	devices *deviceCache
	// sessions mints checkout session ids (sessions.go).
	sessions *sessionMinter
	// traits are what decisions know about devices beyond their
	// certificates: enrolment bursts per network, virtualisation
	// (devicetraits.go).
	traits *deviceTraits
	// peers is the store as other nodes share it, or nil (peers.go).
	peers store.Peers
	// enrolLimit bounds unauthenticated enrolments per network
	// (ratelimit.go).
	enrolLimit *enrolLimiter
	// intelLists are the domain and payee lists decisions check
	// (intelsignals.go).
	intelLists intelLists
	metrics    *metrics
	dec        *decisions // decisions.go
	feed       *feedCache // intel.go
	surv       *sightings // surveillance.go
	handler    http.Handler
}

// New builds a server over an open store.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: no store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.KeyMaxAge == 0 {
		opts.KeyMaxAge = 30 * 24 * time.Hour
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	for _, p := range opts.PartnerPulls {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("partner pull %q: %w", p.Partner, err)
		}
	}
	s := &Server{opts: opts, log: opts.Logger, store: opts.Store, policy: opts.Policy}
	s.peers, _ = opts.Store.(store.Peers)
	key, err := opts.Store.Secret(ctx, "nonce-hmac-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading nonce key: %w", err)
	}
	if s.nonces, err = verify.NewNonces(key, opts.NonceTTL, opts.Now, opts.Rand); err != nil {
		return nil, err
	}
	s.devices = newDeviceCache(opts.Store, 100_000)
	s.traits = newDeviceTraits()
	s.enrolLimit = newEnrolLimiter(opts.Now)
	if s.sessions, err = newSessionMinter(ctx, opts.Store, opts.Now, opts.Rand); err != nil {
		return nil, fmt.Errorf("loading checkout session key: %w", err)
	}
	s.verify = &verify.Verifier{Devices: s.devices, AKs: opts.Store, Nonces: s.nonces, Now: opts.Now, MaxSkew: opts.MaxSkew}
	s.issuer, err = issuer.New(ctx, opts.Store, issuer.Options{
		Issuer: opts.Issuer, Build: "healthgate/" + opts.Version, Lifetimes: opts.Lifetimes, Now: opts.Now, Rand: opts.Rand,
		Logf: func(format string, args ...any) { s.log.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, err
	}
	s.metrics = newMetrics()
	if err := s.initDecisions(ctx); err != nil {
		return nil, err
	}
	if err := s.initSurveillance(); err != nil { // surveillance.go
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Issuer returns the certificate issuer (for key rotation and tests).
func (s *Server) Issuer() *issuer.Issuer { return s.issuer }

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.metrics.middleware)
	r.Use(middleware.GetHead) // HEAD is GET without the body (RFC 9110)
	r.Get("/healthz", s.wrap(s.handleHealthz))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	r.Get("/.well-known/jwks.json", s.wrap(s.handleJWKS))
	r.Post("/v1/enroll", s.wrap(s.handleEnroll))
	r.Post("/v1/enroll/activate", s.wrap(s.handleEnrollActivate)) // attest.go
	r.Post("/v1/challenge", s.wrap(s.handleChallenge))
	r.Post("/v1/reports", s.wrap(s.handleReport))
	s.decisionRoutes(r)     // decisions.go
	s.intelRoutes(r)        // intel.go
	s.intelAdminRoutes(r)   // intel_admin.go
	s.taxiiRoutes(r)        // taxii.go
	s.checkoutRoutes(r)     // checkout.go
	s.surveillanceRoutes(r) // surveillance.go
	r.NotFound(s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "not_found", "no such endpoint: %q", r.URL.Path)
	}))
	r.MethodNotAllowed(s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %q", r.Method, r.URL.Path)
	}))
	return r
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully: it
// stops accepting, lets requests in flight finish (up to 10 s) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go s.background(bgCtx)
	if s.peers != nil {
		go s.watchPeers(bgCtx) // peers.go
	}
	for _, p := range s.opts.PartnerPulls {
		go s.pullLoop(bgCtx, p)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// background purges spent nonces, rotates the signing key when it is old,
// and reloads keys other nodes may have rotated.
func (s *Server) background(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		s.maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// TAXIIStatusRetention is how long the status resource of a partner's
// POST stays readable. Every POST is complete when answered, so the status
// only confirms what the answer said; each POST adds one, so they cannot
// be kept forever.
const TAXIIStatusRetention = 7 * 24 * time.Hour

// Maintain runs one maintenance pass now: what the background loop does
// every minute (expire indicators, reload lists, purge spent nonces and
// proofs and old TAXII statuses, rotate and reload signing keys).
func (s *Server) Maintain(ctx context.Context) { s.maintain(ctx) }

func (s *Server) maintain(ctx context.Context) {
	now := s.opts.Now()
	s.maintainIntel(ctx)        // intel.go
	s.maintainIntelLists(ctx)   // intelsignals.go
	s.maintainSurveillance(ctx) // surveillance.go
	if n, err := s.store.PurgeNonces(ctx, now); err != nil {
		s.log.Warn("purging nonces", slog.Any("err", err))
	} else if n > 0 {
		s.log.Debug("purged spent nonces", slog.Int64("count", n))
	}
	if n, err := s.store.PurgeProofs(ctx, now); err != nil {
		s.log.Warn("purging proofs of possession", slog.Any("err", err))
	} else if n > 0 {
		s.log.Debug("purged spent proofs of possession", slog.Int64("count", n))
	}
	if n, err := s.store.PurgeTAXIIStatus(ctx, now.Add(-TAXIIStatusRetention)); err != nil {
		s.log.Warn("purging TAXII statuses", slog.Any("err", err))
	} else if n > 0 {
		s.log.Debug("purged TAXII statuses", slog.Int64("count", n))
	}
	if err := s.issuer.Refresh(ctx); err != nil {
		s.log.Warn("reloading signing keys", slog.Any("err", err))
		return
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return
	}
	for _, k := range keys {
		if k.Retired.IsZero() && now.Sub(k.Created) > s.opts.KeyMaxAge {
			if err := s.issuer.Rotate(ctx); err != nil {
				s.log.Warn("rotating signing key", slog.Any("err", err))
			}
			return
		}
	}
}

// deviceCache keeps enrolled devices in memory. A device's key never changes
// (its id is derived from the key), so entries never go stale; the cache is
// bounded and forgets an arbitrary entry when full.
type deviceCache struct {
	store store.Store
	max   int
	mu    sync.RWMutex
	m     map[string]store.Device
}

func newDeviceCache(s store.Store, max int) *deviceCache {
	return &deviceCache{store: s, max: max, m: make(map[string]store.Device)}
}

func (c *deviceCache) Device(ctx context.Context, id string) (store.Device, error) {
	c.mu.RLock()
	d, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return d, nil
	}
	d, err := c.store.Device(ctx, id)
	if err != nil {
		return d, err
	}
	c.put(d)
	return d, nil
}

func (c *deviceCache) put(d store.Device) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[d.ID] = d
}

type metrics struct {
	reg      *prometheus.Registry
	reports  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	requests *prometheus.HistogramVec
	// What this node took in from other nodes sharing its store, and
	// whether it is listening to them (peers.go).
	peerDecisions     prometheus.Counter
	peerAnnouncements *prometheus.CounterVec
	peerWatch         prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthgate_reports_total", Help: "Evidence reports appraised, by tier.",
		}, []string{"tier"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthgate_evidence_rejected_total", Help: "Evidence that failed verification, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "healthgate_http_request_duration_seconds", Help: "HTTP request latency by route and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route", "code"}),
		peerDecisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "healthgate_peer_decisions_total", Help: "Decisions made by other nodes sharing the database, counted in this node's velocity windows.",
		}),
		peerAnnouncements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthgate_peer_announcements_total", Help: "What other nodes sharing the database announced (enrolment networks, virtual machines), by kind.",
		}, []string{"kind"}),
		peerWatch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "healthgate_peer_watch_up", Help: "1 while this node listens to the other nodes sharing its database.",
		}),
	}
	m.reg.MustRegister(m.reports, m.rejected, m.requests, m.peerDecisions, m.peerAnnouncements, m.peerWatch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// statusClass returns "2xx" for 200 and so on.
func statusClass(status int) string {
	if c := status / 100; c >= 1 && c <= 5 {
		return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[c-1]
	}
	return strconv.Itoa(status/100) + "xx"
}

func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, statusClass(rec.status)).Observe(time.Since(start).Seconds())
	})
}
