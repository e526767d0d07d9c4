package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/token"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address for the demo service (a free port is used if it is taken)")
	dataDir := fs.String("data", "", "data directory (default: a new temporary directory)")
	exit := fs.Bool("exit", false, "exit after the walkthrough instead of serving until interrupted")
	logLevel := fs.String("log-level", "warn", "server log level")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	work, err := os.MkdirTemp("", "healthgate-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	defer os.RemoveAll(work)
	cfg := DefaultServerConfig()
	cfg.DataDir = filepath.Join(work, "data")
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	cfg.LogLevel = *logLevel
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthgate demo: cannot listen:", err)
		return exitFail
	}
	log, _ := newLogger(stderr, cfg.LogLevel)
	srv, closeStore, err := startServer(ctx, cfg, log)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	defer closeStore()
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, ln) }()
	base := "http://" + ln.Addr().String()

	p := &printer{w: stdout}
	p.title("Healthgate demo")
	p.line("Health service running at %s (SQLite under %s)", base, cfg.DataDir)
	p.line("")

	now := time.Now()
	devices := []struct{ name, story, root string }{
		{"this computer", "the agent reads this machine's real configuration", "/"},
		{"simulated healthy PC", "antivirus running with fresh signatures, firewall on, patched two days ago", filepath.Join(work, "healthy")},
		{"simulated infected PC", "payment site hijacked in the hosts file, rogue root CA, TeamViewer running, no antivirus or firewall", filepath.Join(work, "infected")},
	}
	if err := demoDevice(devices[1].root, false, now); err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	if err := demoDevice(devices[2].root, true, now); err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	jwks := token.NewRemoteJWKS(base + "/.well-known/jwks.json")
	var lastCert string
	for i, d := range devices {
		state := filepath.Join(work, fmt.Sprintf("agent-%d", i))
		a, err := agent.New(agent.Config{Server: base, StateDir: state, Root: d.root, Version: Version(),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			fmt.Fprintln(stderr, "healthgate demo:", err)
			return exitFail
		}
		res, err := a.ReportOnce(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate demo: %s: %v\n", d.name, err)
			return exitFail
		}
		p.title(fmt.Sprintf("Device %d: %s", i+1, d.name))
		p.line("(%s)", d.story)
		p.line("enrolled as %s, reported signed evidence, appraised by policy %s", res.DeviceID, res.PolicyID)
		p.line("tier: %s   score: %d/100", strings.ToUpper(res.Tier), res.Score)
		for _, f := range res.Findings {
			p.line("  - [%s] %s / %s", f.Tier, f.Title["en"], f.Title["zh-CN"])
			p.line("      fix: %s", f.Remediation["en"])
		}
		if len(res.Findings) == 0 {
			p.line("  no problems found")
		}
		claims, err := token.Verify(ctx, []byte(res.Certificate), jwks)
		if err != nil {
			fmt.Fprintf(stderr, "healthgate demo: certificate of %s does not verify: %v\n", d.name, err)
			return exitFail
		}
		p.line("health certificate (verified offline against the JWKS):")
		b, _ := json.MarshalIndent(claims, "    ", "  ")
		p.line("    %s", b)
		lastCert = filepath.Join(state, "certificate.jwt")
	}
	p.title("Where to look")
	p.line("  certificate signing keys  %s/.well-known/jwks.json", base)
	p.line("  Prometheus metrics        %s/metrics", base)
	p.line("  liveness                  %s/healthz", base)
	p.line("  verify a certificate      healthgate token verify --jwks %s/.well-known/jwks.json %s", base, lastCert)
	p.line("  report this machine       healthgate agent --server %s --once --json", base)
	if *exit {
		stopServer()
		if err := <-served; err != nil {
			fmt.Fprintln(stderr, "healthgate demo:", err)
			return exitFail
		}
		return exitOK
	}
	p.line("")
	p.line("Serving until you press Ctrl-C.")
	if err := <-served; err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	return exitOK
}

type printer struct{ w io.Writer }

func (p *printer) title(s string) {
	fmt.Fprintf(p.w, "\n== %s ==\n", s)
}

func (p *printer) line(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}
