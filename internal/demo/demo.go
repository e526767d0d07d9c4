package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/simulate"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// Options configure a demo run.
type Options struct {
	Listen    string // health service address; a free port when taken or empty
	AgentAddr string // this computer's agent endpoint; a free port when taken or empty
	DataDir   string // SQLite data; a temporary directory when empty
	Lang      string // checkout language, "zh-CN" (default) or "en"
	Version   string
	Logger    *slog.Logger
	// ThisComputer adds an agent reading this machine's real files.
	ThisComputer bool
	// FleetDevices, when positive, first simulates that many devices over
	// FleetDays days ending yesterday, with an outbreak, into the data
	// directory (internal/simulate), so surveillance has history to show.
	FleetDevices, FleetDays int
}

// Device is one simulated (or real) device in the demo.
type Device struct {
	Name, Story string
	Root        string        // the file tree its collectors read
	AgentURL    string        // its checkout endpoint on loopback
	Result      *agent.Result // its first report
	Agent       *agent.Agent
}

// Demo is a running walkthrough. Close stops everything.
type Demo struct {
	HealthURL   string
	MerchantURL string
	NoAgentURL  string // an agent address where nothing listens
	Devices     []*Device
	// Fleet is the simulated history, when one was asked for.
	Fleet *simulate.Summary
	// OutbreakIndicator is the status of the outbreak hash's indicator in
	// the store ("" when there is none).
	OutbreakIndicator string
	// AdminKey is an operator API key (scope admin) for the surveillance
	// and indicator endpoints.
	AdminKey string

	work    string
	store   store.Store
	servers []*http.Server
	cancel  context.CancelFunc
	served  chan error    // a server failed
	health  chan struct{} // the health service has shut down
}

func listen(addr string) (net.Listener, error) {
	if addr != "" {
		if ln, err := net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// Start runs the health service, the simulated devices' agents and the demo
// merchant, all on loopback.
func Start(ctx context.Context, opts Options) (_ *Demo, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Lang == "" {
		opts.Lang = "zh-CN"
	}
	d := &Demo{served: make(chan error, 8), health: make(chan struct{})}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.work, err = os.MkdirTemp("", "healthgate-demo-"); err != nil {
		return nil, err
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(d.work, "data")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if opts.FleetDevices > 0 {
		today := time.Now().UTC().Truncate(24 * time.Hour)
		days := max(opts.FleetDays, 10)
		cfg := simulate.Default()
		cfg.Devices, cfg.Days, cfg.OutbreakDay = opts.FleetDevices, days, simulate.AutoOutbreakDay(days)
		cfg.OutbreakDevices, cfg.Seed = max(3, opts.FleetDevices/20), 1
		cfg.Start, cfg.DataDir, cfg.Logger = today.AddDate(0, 0, -days), filepath.Join(d.work, "fleet"), opts.Logger
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		// The fleet's database becomes the demo's: its history, alerts
		// and signing keys are what the service starts from.
		if d.Fleet, err = simulate.Run(ctx, cfg); err != nil {
			return nil, fmt.Errorf("simulating the fleet: %w", err)
		}
		if err := moveFile(filepath.Join(cfg.DataDir, "healthgate.db"), filepath.Join(dataDir, "healthgate.db")); err != nil {
			return nil, err
		}
	}
	if d.store, err = sqlite.Open(ctx, filepath.Join(dataDir, "healthgate.db")); err != nil {
		return nil, err
	}
	merchantLn, err := listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.MerchantURL = "http://" + merchantLn.Addr().String()
	srv, err := server.New(ctx, server.Options{Store: d.store, Logger: opts.Logger, Version: opts.Version,
		CheckoutOrigins: []string{d.MerchantURL}})
	if err != nil {
		merchantLn.Close()
		return nil, err
	}
	healthLn, err := listen(opts.Listen)
	if err != nil {
		return nil, err
	}
	d.HealthURL = "http://" + healthLn.Addr().String()
	srvCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.health)
		if err := srv.Serve(srvCtx, healthLn); err != nil {
			d.served <- err
		}
	}()

	key, err := createMerchant(ctx, d.store)
	if err != nil {
		return nil, err
	}
	if d.AdminKey, err = createKey(ctx, d.store, "rp_demo_operator", "Demo operator", store.ScopeAdmin); err != nil {
		return nil, err
	}
	if d.Fleet != nil && d.Fleet.OutbreakHash != "" {
		if in, err := d.store.Indicator(ctx, "", "sha256", d.Fleet.OutbreakHash); err == nil {
			d.OutbreakIndicator = in.Status
		}
	}
	now := time.Now()
	kinds := []struct {
		name, story string
		kind        Kind
	}{
		{"simulated healthy PC", "antivirus running with fresh signatures, firewall on, patched two days ago", Healthy},
		{"simulated PC at risk", "like the healthy PC, but its firewall is switched off", AtRisk},
		{"simulated infected PC", "payment site hijacked in the hosts file, rogue root CA, TeamViewer running, no antivirus or firewall", Infected},
	}
	var devices []*Device
	if opts.ThisComputer {
		devices = append(devices, &Device{Name: "this computer", Story: "the agent reads this machine's real configuration", Root: "/"})
	}
	for i, k := range kinds {
		root := filepath.Join(d.work, fmt.Sprintf("device-%d", i))
		if err := WriteDevice(root, k.kind, now); err != nil {
			return nil, err
		}
		devices = append(devices, &Device{Name: k.name, Story: k.story, Root: root})
	}
	for i, dev := range devices {
		a, err := agent.New(agent.Config{Server: d.HealthURL, StateDir: filepath.Join(d.work, fmt.Sprintf("agent-%d", i)),
			Root: dev.Root, Version: opts.Version, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		dev.Agent = a
		if dev.Result, err = a.ReportOnce(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", dev.Name, err)
		}
		addr := ""
		if i == 0 {
			addr = opts.AgentAddr // the first device answers on the default port
		}
		ln, err := listen(addr)
		if err != nil {
			return nil, err
		}
		dev.AgentURL = "http://" + ln.Addr().String()
		origins, err := a.CheckoutOrigins(ctx) // the allowlist the server publishes
		if err != nil {
			ln.Close()
			return nil, err
		}
		d.serve(ln, a.LocalHandler(agent.LocalOptions{Origins: origins}))
	}
	d.Devices = devices

	// An address where no agent answers: the page must fall back to step-up.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		d.NoAgentURL = "http://" + ln.Addr().String()
		ln.Close()
	}
	m := &Merchant{HealthURL: d.HealthURL, APIKey: key, AgentURL: devices[0].AgentURL, Lang: opts.Lang, Account: "demo-shopper-1",
		Logger: opts.Logger}
	d.serve(merchantLn, m.Handler())
	return d, nil
}

func (d *Demo) serve(ln net.Listener, h http.Handler) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.servers = append(d.servers, hs)
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.served <- err
		}
	}()
}

// Wait blocks until ctx ends or a server fails.
func (d *Demo) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-d.served:
		return err
	}
}

// Close stops the servers and removes the demo's temporary files.
func (d *Demo) Close() error {
	for _, hs := range d.servers {
		hs.Close()
	}
	if d.cancel != nil {
		d.cancel()
		<-d.health // graceful: requests in flight finish before the store closes
	}
	var err error
	if d.store != nil {
		err = d.store.Close()
	}
	if d.work != "" {
		os.RemoveAll(d.work)
	}
	return err
}

// moveFile renames src to dst, or copies it when they are on different
// filesystems (a --data directory outside the temporary one).
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	return os.Remove(src)
}

// createMerchant registers the demo shop as a relying party and returns its
// API key.
func createMerchant(ctx context.Context, st store.Store) (string, error) {
	return createKey(ctx, st, "rp_demo_shop", "Demo Shop", store.ScopeDecisions)
}

// createKey registers a relying party (or reuses it in a kept data
// directory) and returns a new API key with one scope.
func createKey(ctx context.Context, st store.Store, id, name, scope string) (string, error) {
	now := time.Now()
	key, k, err := server.NewAPIKey(id, []string{scope}, 0, now, rand.Reader)
	if err != nil {
		return "", err
	}
	if err := st.CreateRelyingParty(ctx, store.RelyingParty{ID: id, Name: name, Created: now.UTC()}, k); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return "", err
		}
		// A kept --data dir already has it: give it a fresh key.
		if err := st.AddAPIKey(ctx, k, time.Time{}); err != nil {
			return "", err
		}
	}
	return key, nil
}
