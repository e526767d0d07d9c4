package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *serverURL == "" {
		fmt.Fprintln(stderr, "healthgate agent: --server is required")
		return exitUsage
	}
	if !*once {
		fmt.Fprintln(stderr, "healthgate agent: only --once is available in this version; run it from a timer")
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
	a, err := agent.New(agent.Config{Server: *serverURL, StateDir: *state, Root: *root, Version: Version(), Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "healthgate agent:", err)
		return exitFail
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
