package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/httpsafe"
	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/policy"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/postgres"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/internal/verify"
)

// ServerConfig is the configuration of `healthgate server`.
type ServerConfig struct {
	Listen     string
	DataDir    string
	DB         string // empty: SQLite under DataDir
	PolicyFile string
	LogLevel   string
	Lifetimes  issuer.Lifetimes
	NonceTTL   time.Duration
	MaxSkew    time.Duration

	// RiskPolicyFile is the transaction risk policy (default: embedded).
	RiskPolicyFile string
	// CheckoutOrigins are the merchant page origins agents answer.
	CheckoutOrigins []string
	// SightingK is how many distinct devices must stand behind a sighting
	// count before it is shared (never below 11); SightingEpsilon the
	// Laplace noise on shared counts (0: none).
	SightingK       int
	SightingEpsilon float64
	// PartnerPulls are partner TAXII collections pulled on a schedule.
	PartnerPulls []server.PartnerPull
	// TPMEKCAs is a PEM file of the TPM manufacturers' EK CA certificates
	// (self-signed ones are roots, the others intermediates). When set, a
	// TPM-bound key is taken only from a TPM whose EK certificate chains
	// to them (docs/TPM.md).
	TPMEKCAs string

	// pullErrs are --taxii-pull values that did not parse; Validate
	// reports them (the flag package would echo the value, URL
	// credentials and all).
	pullErrs []error
}

// DefaultServerConfig returns the defaults of design.md.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Listen:    "127.0.0.1:8080",
		DataDir:   "./healthgate-data",
		LogLevel:  "info",
		SightingK: 50,
		Lifetimes: issuer.DefaultLifetimes(),
		NonceTTL:  verify.DefaultNonceTTL,
		MaxSkew:   verify.DefaultMaxSkew,
	}
}

// Validate reports every problem at once.
func (c ServerConfig) Validate() error {
	var errs []error
	if err := checkListen("--listen", c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.DB == "" && c.DataDir == "" {
		errs = append(errs, errors.New("--data must name a directory"))
	}
	if err := checkStore(c.DataDir, c.DB); err != nil {
		errs = append(errs, err)
	}
	if err := c.Lifetimes.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.NonceTTL < verify.MinNonceTTL || c.NonceTTL > verify.MaxNonceTTL {
		errs = append(errs, fmt.Errorf("--nonce-ttl %v is outside [%v, %v]", c.NonceTTL, verify.MinNonceTTL, verify.MaxNonceTTL))
	}
	if c.MaxSkew < time.Second || c.MaxSkew > time.Hour {
		errs = append(errs, fmt.Errorf("--max-skew %v is outside [1s, 1h]", c.MaxSkew))
	}
	if c.SightingK < 11 {
		errs = append(errs, fmt.Errorf("--sighting-k %d: never below 11", c.SightingK))
	}
	if c.SightingEpsilon != 0 && !(c.SightingEpsilon >= 0.01 && c.SightingEpsilon <= 10) { // NaN too
		errs = append(errs, fmt.Errorf("--sighting-epsilon %v: 0 (no noise) or 0.01 to 10", c.SightingEpsilon))
	}
	errs = append(errs, c.pullErrs...)
	for _, p := range c.PartnerPulls {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--taxii-pull %s: %w", p.Partner, err))
		}
	}
	if c.TPMEKCAs != "" {
		if _, _, err := loadEKCAs(c.TPMEKCAs); err != nil {
			errs = append(errs, fmt.Errorf("--tpm-ek-cas: %w", err))
		}
	}
	for _, o := range c.CheckoutOrigins {
		if _, err := checkoutOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("--checkout-origin %q: want scheme://host[:port], nothing after", o))
		}
	}
	if _, err := newLogger(io.Discard, c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *ServerConfig) flags(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	Func(string, string, func(string) error)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.Func("taxii-pull", "pull a partner's indicators on a schedule: partner=NAME,url=URL,token-file=PATH[,collection=indicators][,trust=50][,every=1h]; repeat for more", func(v string) error {
		p, err := parsePull(v)
		if err != nil {
			c.pullErrs = append(c.pullErrs, fmt.Errorf("--taxii-pull: %w", err))
			return nil
		}
		c.PartnerPulls = append(c.PartnerPulls, p)
		return nil
	})
	fs.IntVar(&c.SightingK, "sighting-k", c.SightingK, "distinct devices needed behind a shared sighting count (at least 11)")
	fs.Float64Var(&c.SightingEpsilon, "sighting-epsilon", c.SightingEpsilon, "Laplace noise ε on shared sighting counts (0: none)")
	fs.Func("checkout-origin", "a merchant page origin (https://shop.example) agents may answer; repeat for more", func(v string) error {
		c.CheckoutOrigins = append(c.CheckoutOrigins, v)
		return nil
	})
	fs.StringVar(&c.TPMEKCAs, "tpm-ek-cas", c.TPMEKCAs, "PEM file of TPM manufacturers' EK CA certificates: TPM-bound keys only from TPMs whose EK certificate chains to them")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve HTTP on")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data directory (SQLite database)")
	fs.StringVar(&c.DB, "db", c.DB, "database URL: postgres://… for the scale path (default: SQLite under --data)")
	fs.StringVar(&c.PolicyFile, "policy", c.PolicyFile, "health policy YAML file (default: the embedded policy)")
	fs.StringVar(&c.RiskPolicyFile, "risk-policy", c.RiskPolicyFile, "transaction risk policy YAML file (default: the embedded policy)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.DurationVar(&c.Lifetimes.Affirming, "cert-ttl", c.Lifetimes.Affirming, "certificate lifetime for a healthy device")
	fs.DurationVar(&c.Lifetimes.Warning, "cert-ttl-warning", c.Lifetimes.Warning, "certificate lifetime for a device at risk")
	fs.DurationVar(&c.NonceTTL, "nonce-ttl", c.NonceTTL, "challenge nonce lifetime")
	fs.DurationVar(&c.MaxSkew, "max-skew", c.MaxSkew, "allowed difference between device and server clocks")
}

// storeFlags adds --data and --db to a command that works on the store
// directly (rp, intel, partner, intel pull) and returns the opener.
func storeFlags(fs interface {
	String(name, value, usage string) *string
}) func(context.Context) (store.Store, error) {
	dataDir := fs.String("data", DefaultServerConfig().DataDir, "data directory (SQLite database)")
	db := fs.String("db", "", "database URL (default: SQLite under --data)")
	return func(ctx context.Context) (store.Store, error) { return openStore(ctx, *dataDir, *db) }
}

// checkStore checks --data and --db without creating anything: --db is
// postgres://…, sqlite:PATH or empty, and --data, when it is used and
// exists, is a directory. Errors are usageErrors and show no password.
func checkStore(dataDir, db string) error {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return nil
	case strings.HasPrefix(db, "sqlite:"):
		if sqlitePath(db) == "" {
			return usageError{errors.New("--db sqlite:PATH needs the path of the database file")}
		}
		return nil
	case db != "":
		return usageError{fmt.Errorf("--db %q: want postgres://… or sqlite:PATH", redactURL(db))}
	}
	if fi, err := os.Stat(dataDir); err == nil && !fi.IsDir() {
		return usageError{fmt.Errorf("--data %q is not a directory", dataDir)}
	}
	return nil
}

func sqlitePath(db string) string {
	return strings.TrimPrefix(strings.TrimPrefix(db, "sqlite:"), "//")
}

// openStore opens the configured backend.
func openStore(ctx context.Context, dataDir, db string) (store.Store, error) {
	if err := checkStore(dataDir, db); err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return postgres.Open(ctx, db)
	case strings.HasPrefix(db, "sqlite:"):
		path := sqlitePath(db)
		if err := makeDataDir("--db", filepath.Dir(path)); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	default:
		if err := makeDataDir("--data", dataDir); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "healthgate.db"))
	}
}

// makeDataDir creates dir if need be and checks that this user can write
// there, so that SQLite's "unable to open database file" is not all an
// operator is told.
func makeDataDir(flag, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s %q: cannot create the directory: %w", flag, dir, pathCause(err))
	}
	f, err := os.CreateTemp(dir, ".healthgate-write-check-*")
	if err != nil {
		return fmt.Errorf("%s %q: this user cannot write there: %w", flag, dir, pathCause(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// pathCause is the cause inside an *fs.PathError ("permission denied"),
// whose path the caller names already.
func pathCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := DefaultServerConfig()
	if path := configPath(args); path != "" {
		if err := loadServerFile(path, &cfg); err != nil {
			fmt.Fprintf(stderr, "healthgate server: config: %v\n", err)
			return exitUsage
		}
	}
	fs := newFlagSet("server", stderr)
	fs.String("config", "", "JSON configuration file (flags given here win over it)")
	cfg.flags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate server: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "healthgate server: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	log, _ := newLogger(stderr, cfg.LogLevel)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", slog.String("addr", cfg.Listen), slog.Any("err", err))
		return exitFail
	}
	srv, closeStore, err := startServer(ctx, cfg, log)
	if err != nil {
		ln.Close()
		log.Error("cannot start", slog.Any("err", err))
		return exitFail
	}
	defer closeStore()
	log.Info("healthgate server listening", slog.String("url", "http://"+ln.Addr().String()), slog.String("version", Version()))
	if err := srv.Serve(ctx, ln); err != nil {
		log.Error("server stopped", slog.Any("err", err))
		return exitFail
	}
	log.Info("stopped")
	return exitOK
}

// loadEKCAs reads a PEM file of EK CA certificates: the self-signed ones
// are roots, the others intermediates. A file with no certificate, or a
// block that is not one, is an error.
func loadEKCAs(path string) (roots, intermediates *x509.CertPool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	roots, intermediates = x509.NewCertPool(), x509.NewCertPool()
	n, nroots := 0, 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("%s: a %s block, want only CERTIFICATE", path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
			roots.AddCert(cert)
			nroots++
		} else {
			intermediates.AddCert(cert)
		}
		n++
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	if nroots == 0 {
		return nil, nil, fmt.Errorf("%s holds no self-signed (root) certificate", path)
	}
	return roots, intermediates, nil
}

// checkoutOrigin returns a page origin the way browsers write it in the
// Origin header (lower case, no default port, no trailing slash), which is
// how agents compare the allowlist the server publishes.
func checkoutOrigin(o string) (string, error) { return evidence.ParseOrigin(o) }

// startServer opens the store and builds the server.
func startServer(ctx context.Context, cfg ServerConfig, log *slog.Logger) (*server.Server, func(), error) {
	pol := policy.Default()
	if cfg.PolicyFile != "" {
		var err error
		if pol, err = policy.LoadFile(cfg.PolicyFile); err != nil {
			return nil, nil, fmt.Errorf("policy %s: %w", cfg.PolicyFile, err)
		}
	}
	riskPol := risk.Default()
	if cfg.RiskPolicyFile != "" {
		var err error
		if riskPol, err = risk.LoadFile(cfg.RiskPolicyFile); err != nil {
			return nil, nil, err
		}
	}
	origins := make([]string, len(cfg.CheckoutOrigins))
	for i, o := range cfg.CheckoutOrigins {
		var err error
		if origins[i], err = checkoutOrigin(o); err != nil { // Validate refused it already
			return nil, nil, fmt.Errorf("--checkout-origin %q: %w", o, err)
		}
	}
	st, err := openStore(ctx, cfg.DataDir, cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	var ekRoots, ekIntermediates *x509.CertPool
	if cfg.TPMEKCAs != "" {
		if ekRoots, ekIntermediates, err = loadEKCAs(cfg.TPMEKCAs); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("--tpm-ek-cas: %w", err)
		}
	}
	srv, err := server.New(ctx, server.Options{
		Store: st, Policy: pol, RiskPolicy: riskPol, CheckoutOrigins: origins, EKRoots: ekRoots, EKIntermediates: ekIntermediates,
		SightingK: cfg.SightingK, SightingEpsilon: cfg.SightingEpsilon, PartnerPulls: cfg.PartnerPulls, Lifetimes: cfg.Lifetimes, NonceTTL: cfg.NonceTTL, MaxSkew: cfg.MaxSkew,
		Version: Version(), Logger: log,
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return srv, func() {
		if err := st.Close(); err != nil {
			log.Warn("closing store", slog.Any("err", err))
		}
	}, nil
}

// parsePull reads one --taxii-pull value. The token is read from a file so
// that it never shows in the process list.
func parsePull(v string) (server.PartnerPull, error) {
	p := server.PartnerPull{Collection: "indicators", Trust: 50, Every: server.DefaultPullEvery}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return p, fmt.Errorf("%q is not key=value", kv)
		}
		switch k {
		case "partner":
			p.Partner = val
		case "url":
			u, err := url.Parse(val)
			if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && httpsafe.Loopback(u.Hostname()))) {
				return p, fmt.Errorf("url %q: https, or http only to loopback", redactURL(val))
			}
			p.URL = val
		case "token-file":
			b, err := os.ReadFile(val)
			if err != nil {
				return p, err
			}
			p.Token = strings.TrimSpace(string(b))
		case "collection":
			p.Collection = val
		case "trust":
			n, err := strconv.Atoi(val)
			if err != nil {
				return p, fmt.Errorf("trust %q is not a number", val)
			}
			p.Trust = n
		case "every":
			d, err := time.ParseDuration(val)
			if err != nil {
				return p, err
			}
			p.Every = d
		default:
			return p, fmt.Errorf("unknown key %q", k)
		}
	}
	return p, nil
}
