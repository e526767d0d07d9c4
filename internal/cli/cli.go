// Package cli implements the healthgate command line: one file per
// subcommand. Configuration is read here and only here; the packages below
// take plain structs.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"server", "run the health service", runServer},
		{"agent", "enrol this device, report its health and keep its certificate", runAgent},
		{"scan", "check this device locally: a score and how to fix each problem", runScan},
		{"rp", "manage relying parties and their API keys (rp create|list|rotate|revoke)", runRP},
		{"intel", "manage threat indicators (intel add|import|list|show|retire|pull)", runIntel},
		{"token", "verify a health certificate offline (token verify --jwks URL|FILE TOKEN)", runToken},
		{"partner", "manage partner organisations' TAXII tokens (partner create NAME --read/--write COLL)", runPartner},
		{"simulate", "run a simulated fleet with an outbreak through the real agent and server code", runSimulate},
		{"demo", "run the service and an agent on loopback and show what happens", runDemo},
		{"version", "print the version", runVersion},
	}
}

// Run runs the command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "healthgate: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: healthgate <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'healthgate <command> -h' for the flags of a command.")
}

// Version is the build's module version, or "dev".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	fmt.Fprintln(stdout, "healthgate", Version())
	return exitOK
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("healthgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args; it returns the exit code to use when parsing
// stopped (help or a usage error) and ok=false.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// newLogger returns a text logger at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// usageError is a bad argument found only when it is used (a --db URL of
// no known kind, a --data that is a file): exit 2, like a flag error.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitCode is the exit code for err: 2 for a usageError, else 1.
func exitCode(err error) int {
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFail
}

var urlPassword = regexp.MustCompile(`(?i)(password=)[^&\s]*`)

// redactURL returns a URL fit for a message: its password, in the user
// part or a password= parameter, replaced, even when it does not parse.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		s = u.Redacted()
	} else if at := strings.LastIndex(s, "@"); at >= 0 {
		start := strings.Index(s, "//") + 2
		if start < 2 || start > at {
			start = 0
		}
		s = s[:start] + "xxxxx" + s[at:]
	}
	return urlPassword.ReplaceAllString(s, "${1}xxxxx")
}

// checkListen checks a host:port to listen on: the host an IP address or
// localhost (or empty: every interface), the port a number up to 65535.
func checkListen(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port, e.g. 127.0.0.1:8080", flag, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: the port must be a number from 0 to 65535", flag, addr)
	}
	if _, err := netip.ParseAddr(host); host != "" && host != "localhost" && err != nil {
		return fmt.Errorf("%s %q: host must be an IP address", flag, addr)
	}
	return nil
}
