package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/healthgate/healthgate/internal/agent"
	"github.com/healthgate/healthgate/internal/demo"
	"github.com/healthgate/healthgate/token"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address for the demo service (a free port is used if it is taken)")
	dataDir := fs.String("data", "", "data directory (default: a new temporary directory)")
	lang := fs.String("lang", "zh-CN", "checkout language: zh-CN or en")
	exit := fs.Bool("exit", false, "exit after the walkthrough instead of serving until interrupted")
	logLevel := fs.String("log-level", "warn", "server log level")
	fleet := fs.Int("fleet", 150, "simulate this many devices over the last two weeks first, with an outbreak (0: none)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *lang != "zh-CN" && *lang != "en" {
		fmt.Fprintln(stderr, "healthgate demo: --lang must be zh-CN or en")
		return exitUsage
	}
	if *fleet < 0 {
		fmt.Fprintf(stderr, "healthgate demo: --fleet %d: want 0 (none) or more devices\n", *fleet)
		return exitUsage
	}
	if err := checkListen("--listen", *listen); err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitUsage
	}
	if *dataDir != "" {
		if err := checkStore(*dataDir, ""); err != nil {
			fmt.Fprintln(stderr, "healthgate demo:", err)
			return exitUsage
		}
		// The simulated fleet's database replaces the one in --data.
		if _, err := os.Stat(filepath.Join(*dataDir, "healthgate.db")); err == nil && *fleet > 0 {
			fmt.Fprintf(stderr, "healthgate demo: --data %q holds a database already, which the simulated fleet would replace: use an empty directory, or --fleet 0 to keep it\n", *dataDir)
			return exitUsage
		}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitUsage
	}
	d, err := demo.Start(ctx, demo.Options{Listen: *listen, AgentAddr: agent.DefaultLocalAddr, DataDir: *dataDir,
		Lang: *lang, Version: Version(), Logger: log, ThisComputer: true, FleetDevices: *fleet, FleetDays: 14})
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while starting: what failed is what the interrupt cut short.
		fmt.Fprintln(stderr, "healthgate demo: interrupted before the demo was ready")
		return exitFail
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthgate demo:", err)
		return exitFail
	}
	defer d.Close()

	p := &printer{w: stdout}
	p.title("Healthgate demo")
	p.line("Health service running at %s", d.HealthURL)
	jwks := token.NewRemoteJWKS(d.HealthURL + "/.well-known/jwks.json")
	for i, dev := range d.Devices {
		res := dev.Result
		p.title(fmt.Sprintf("Device %d: %s", i+1, dev.Name))
		p.line("(%s)", dev.Story)
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
			fmt.Fprintf(stderr, "healthgate demo: certificate of %s does not verify: %v\n", dev.Name, err)
			return exitFail
		}
		p.line("health certificate (verified offline against the JWKS):")
		b, _ := json.MarshalIndent(claims, "    ", "  ")
		p.line("    %s", b)
	}
	if f := d.Fleet; f != nil {
		p.title("Two weeks of a simulated fleet")
		p.line("%d devices reported daily through the real agent and server code; on day %d a new", f.Devices, f.OutbreakDay)
		p.line("piece of malware (SHA-256 %s…) started spreading.", f.OutbreakHash[:16])
		if f.FirstOutbreakAlert > 0 {
			p.line("Surveillance raised its first alert on it on day %d, %d day(s) after it appeared (%d alerts in all).",
				f.FirstOutbreakAlert, f.FirstOutbreakAlert-f.OutbreakDay, len(f.Alerts))
			if d.OutbreakIndicator != "" {
				p.line("The hash is now an indicator with status %s.", d.OutbreakIndicator)
			}
		} else {
			p.line("Surveillance raised %d alerts, none yet on the outbreak hash.", len(f.Alerts))
		}
		p.line("  outbreak alerts      curl -H 'Authorization: Bearer %s' %s/v1/surveillance/alerts", d.AdminKey, d.HealthURL)
		p.line("  pending indicators   curl -H 'Authorization: Bearer %s' '%s/v1/admin/indicators?status=pending_review'", d.AdminKey, d.HealthURL)
	}
	p.title("Pay at the demo shop")
	p.line("Open a checkout as each device; the page asks that device's agent for proof,")
	p.line("the shop asks Healthgate for a decision, and the page shows it (SMS code %s):", demo.SMSCode)
	for _, dev := range d.Devices {
		p.line("  %-24s %s/?agent=%s", dev.Name, d.MerchantURL, dev.AgentURL)
	}
	p.line("  %-24s %s/?agent=%s", "a PC without the agent", d.MerchantURL, d.NoAgentURL)
	p.title("Where to look")
	p.line("  operator dashboard        %s/ui/  (operator key: %s)", d.HealthURL, d.AdminKey)
	p.line("  certificate signing keys  %s/.well-known/jwks.json", d.HealthURL)
	p.line("  Prometheus metrics        %s/metrics", d.HealthURL)
	p.line("  liveness                  %s/healthz", d.HealthURL)
	p.line("  checkout SDK              %s/sdk/healthgate.js", d.HealthURL)
	p.line("  report this machine       healthgate agent --server %s --once --json", d.HealthURL)
	if *exit {
		return exitOK
	}
	p.line("")
	p.line("Serving until you press Ctrl-C.")
	if err := d.Wait(ctx); err != nil {
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
