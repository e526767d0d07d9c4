package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/healthgate/healthgate/internal/agent"
)

func defaultStateDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "healthgate")
	}
	return ".healthgate"
}

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("agent", stderr)
	serverURL := fs.String("server", "", "health service base URL (required)")
	state := fs.String("state", defaultStateDir(), "state directory: device key, enrolment, certificate")
	once := fs.Bool("once", false, "enrol if needed, report once, print the tier and exit")
	asJSON := fs.Bool("json", false, "with --once: print the server's whole answer as JSON")
	root := fs.String("root", "/", "read the device's files under this directory")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	keyMode := fs.String("key", string(agent.KeyAuto), "device key: auto (the TPM if there is one, else a key file), file or tpm")
	tpmAddr := fs.String("tpm", "", "TPM simulator command port host:port (swtpm); default: the system TPM")
	interval := fs.Duration("interval", agent.DefaultInterval, "without --once: time between reports (1m to 24h, ±10% jitter)")
	asService := fs.Bool("service", false, "without --once: run under the Windows service control manager")
	localAddr := fs.String("local", agent.DefaultLocalAddr, "without --once: loopback address where checkout pages ask for proofs (\"off\" to disable)")
	openURL := fs.String("open-url", "", "report once for the checkout session in a healthgate://report link (the OS URL handler runs this)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate agent: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *serverURL == "" {
		fmt.Fprintln(stderr, "healthgate agent: --server is required")
		return exitUsage
	}
	if u, err := url.Parse(*serverURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthgate agent: --server %q: want the service's http(s)://host[:port]\n", redactURL(*serverURL))
		return exitUsage
	}
	if m := agent.KeyMode(*keyMode); m != agent.KeyAuto && m != agent.KeyFile && m != agent.KeyTPM {
		fmt.Fprintf(stderr, "healthgate agent: --key %q: want auto, file or tpm\n", *keyMode)
		return exitUsage
	}
	daemonCfg := agent.DaemonConfig{Interval: *interval}
	if err := daemonCfg.Validate(); !*once && err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitUsage
	}
	if fi, err := os.Stat(*state); err == nil && !fi.IsDir() {
		fmt.Fprintf(stderr, "healthgate agent: --state %q is not a directory\n", *state)
		return exitUsage
	}
	if fi, err := os.Stat(*root); err != nil || !fi.IsDir() {
		fmt.Fprintf(stderr, "healthgate agent: --root %q is not a directory\n", *root)
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitUsage
	}
	key, err := agent.OpenKey(agent.KeyMode(*keyMode), *tpmAddr, *state, log)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
	}
	if c, ok := key.(io.Closer); ok {
		defer c.Close() // unload the TPM key
	}
	a, err := agent.New(agent.Config{Server: *serverURL, StateDir: *state, Root: *root, Version: Version(), Logger: log, Key: key})
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
	}
	if *openURL != "" {
		session, err := a.SessionLink(*openURL)
		if err != nil {
			fmt.Fprintln(stderr, "healthgate agent:", err)
			return exitUsage
		}
		res, err := a.ReportSession(ctx, session)
		if err != nil {
			fmt.Fprintln(stderr, "healthgate agent:", err)
			return exitFail
		}
		fmt.Fprintln(stdout, res.Tier)
		return exitOK
	}
	if !*once {
		return runAgentDaemon(ctx, a, daemonCfg, *asService, *localAddr, stderr)
	}
	res, err := a.ReportOnce(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
	}
	if *asJSON {
		stdout.Write(res.Raw)
		if len(res.Raw) > 0 && res.Raw[len(res.Raw)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
		return exitOK
	}
	fmt.Fprintln(stdout, res.Tier)
	return exitOK
}

// runAgentDaemon reports until ctx is cancelled (SIGINT, SIGTERM) or, with
// asService, until the Windows service control manager stops the service.
func runAgentDaemon(ctx context.Context, a *agent.Agent, cfg agent.DaemonConfig, asService bool, localAddr string, stderr io.Writer) int {
	d, err := agent.NewDaemon(a, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
	}
	if localAddr != "off" {
		stop, err := serveCheckout(ctx, a, localAddr)
		if err != nil {
			// Checkout falls back to step-up without it: say so, go on.
			fmt.Fprintln(stderr, "healthgate agent: checkout endpoint not started:", err)
		} else {
			defer stop()
		}
	}
	if asService {
		err = agent.RunService(agent.ServiceName, d.Run)
	} else {
		err = d.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
	}
	return exitOK
}

// serveCheckout serves the loopback checkout endpoint for the page origins
// the server publishes. Only loopback addresses are accepted.
func serveCheckout(ctx context.Context, a *agent.Agent, addr string) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--local %s is not a loopback address", addr)
	}
	origins, err := a.CheckoutOrigins(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the allowed page origins: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	local := a.LocalHandler(agent.LocalOptions{Origins: origins})
	hs := &http.Server{Handler: local, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	go func() { // the server's allowlist changes: follow it
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-refreshCtx.Done():
				return
			case <-t.C:
				if o, err := a.CheckoutOrigins(refreshCtx); err == nil {
					local.SetOrigins(o)
				}
			}
		}
	}()
	return func() { stopRefresh(); hs.Close() }, nil
}
