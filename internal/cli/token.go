package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/healthgate/healthgate/token"
)

// stdin is where "token verify -" reads the certificate; tests replace it.
var stdin io.Reader = os.Stdin

const tokenUsage = `usage: healthgate token verify --jwks URL|FILE TOKEN

Verifies a health certificate offline and prints its claims as JSON.
TOKEN is the certificate itself, a file holding it, or - for standard input.
Exit status: 0 valid, 1 invalid, 2 usage error.`

// runToken implements "healthgate token ...".
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return runTokenVerify(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, tokenUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "healthgate token: unknown subcommand %q\n%s\n", args[0], tokenUsage)
		return exitUsage
	}
}

func runTokenVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token verify", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, tokenUsage)
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	jwks := fs.String("jwks", "", "the service's JWKS: an https URL (http only to loopback) or a file")
	iss := fs.String("issuer", "", "require this iss claim")
	leeway := fs.Duration("leeway", token.DefaultLeeway, "clock skew tolerated on iat and exp (at most 5m)")
	// Flags may come before or after TOKEN.
	var pos []string
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if *jwks == "" || len(pos) != 1 {
		fmt.Fprintln(stderr, "healthgate token verify: need --jwks and exactly one TOKEN")
		fmt.Fprintln(stderr, tokenUsage)
		return exitUsage
	}
	if *leeway < 0 || *leeway > token.MaxLeeway {
		fmt.Fprintf(stderr, "healthgate token verify: --leeway %v is outside [0, %v]\n", *leeway, token.MaxLeeway)
		return exitUsage
	}
	if *jwks == "-" && pos[0] == "-" {
		fmt.Fprintln(stderr, "healthgate token verify: --jwks and TOKEN cannot both be read from standard input")
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	keys, err := keySource(*jwks)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate token verify: %v\n", err)
		return exitFail
	}
	tok, err := readToken(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "healthgate token verify: %v\n", err)
		return exitFail
	}
	opts := []token.Option{token.WithLeeway(*leeway)}
	if *iss != "" {
		opts = append(opts, token.WithIssuer(*iss))
	}
	c, err := token.Verify(ctx, tok, keys, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "healthgate token verify: invalid: %v\n", err)
		return exitFail
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "healthgate token verify: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return exitOK
}

// keySource returns the JWKS at an http(s) URL or in a file.
func keySource(where string) (token.KeySource, error) {
	if strings.HasPrefix(where, "https://") || strings.HasPrefix(where, "http://") {
		return token.NewRemoteJWKS(where), nil
	}
	data, err := readBounded(where, stdin, token.MaxJWKSSize)
	if err != nil {
		return nil, fmt.Errorf("reading jwks: %w", err)
	}
	keys, err := token.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return keys, nil
}

// readToken returns the certificate named by arg: "-" for standard input,
// the compact token itself, or a file holding it.
func readToken(arg string) ([]byte, error) {
	if arg != "-" && looksLikeToken(arg) {
		return []byte(arg), nil
	}
	tok, err := readBounded(arg, stdin, token.MaxTokenSize)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	return bytes.TrimSpace(tok), nil
}

// looksLikeToken reports whether s is shaped like a compact JWS rather
// than a file name.
func looksLikeToken(s string) bool {
	if strings.Count(s, ".") != 2 || strings.HasPrefix(s, ".") {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	_, err := os.Stat(s)
	return err != nil // a file that happens to have such a name is read
}

// readBounded reads at most limit bytes from the file at path, or from in
// when path is "-", and fails if there is more.
func readBounded(path string, in io.Reader, limit int64) ([]byte, error) {
	r := in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
