package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUsageErrors: a bad flag value, a missing or extra argument is a
// usage error (exit 2) with one clear line naming the problem, found before
// anything is opened, created or asked for.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	const data = "DATA" // a new directory per case
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"server port out of range", []string{"server", "--listen", "127.0.0.1:99999", "--data", data}, "--listen"},
		{"server negative port", []string{"server", "--listen", "127.0.0.1:-1", "--data", data}, "--listen"},
		{"server epsilon NaN", []string{"server", "--sighting-epsilon", "NaN", "--data", data}, "--sighting-epsilon"},
		{"agent extra argument", []string{"agent", "--server", "http://127.0.0.1:1", "--once", "--state", data, "now"}, "unexpected argument"},
		{"agent server not a URL", []string{"agent", "--server", "127.0.0.1:8080", "--once", "--state", data}, "--server"},
		{"version extra argument", []string{"version", "now"}, "unexpected argument"},
		{"agent state is a file", []string{"agent", "--server", "http://127.0.0.1:1", "--once", "--key", "file", "--state", file}, "--state"},
		{"simulate data is a file", []string{"simulate", "--devices", "5", "--days", "1", "--data", file}, "--data"},
		{"agent key mode", []string{"agent", "--server", "http://127.0.0.1:1", "--once", "--state", data, "--key", "hsm"}, "--key"},
		{"token negative leeway", []string{"token", "verify", "--jwks", file, "--leeway", "-1m", "a.b.c"}, "--leeway"},
		{"token leeway over 5m", []string{"token", "verify", "--jwks", file, "--leeway", "1h", "a.b.c"}, "--leeway"},
		{"token jwks and token both stdin", []string{"token", "verify", "--jwks", "-", "-"}, "standard input"},
		{"rp bad name", []string{"rp", "create", "bad name", "--data", data}, "name"},
		{"rp unknown scope", []string{"rp", "create", "shop", "--scopes", "root", "--data", data}, "scope"},
		{"rp negative lifetime", []string{"rp", "create", "shop", "--lifetime", "-1h", "--data", data}, "--lifetime"},
		{"rp rotate negative lifetime", []string{"rp", "rotate", "shop", "--lifetime", "-1h", "--data", data}, "--lifetime"},
		{"rp unknown db scheme", []string{"rp", "list", "--db", "mysql://u@h/x", "--data", data}, "--db"},
		{"intel negative limit", []string{"intel", "list", "--limit", "-1", "--data", data}, "--limit"},
		{"intel unknown db scheme", []string{"intel", "list", "--db", "postgress://u@h/x", "--data", data}, "--db"},
		{"partner unknown db scheme", []string{"partner", "list", "--db", "pg://u@h/x", "--data", data}, "--db"},
		{"demo extra argument", []string{"demo", "--exit", "now"}, "unexpected argument"},
		{"demo negative fleet", []string{"demo", "--exit", "--fleet", "-5"}, "--fleet"},
		{"demo port out of range", []string{"demo", "--exit", "--listen", "127.0.0.1:99999"}, "--listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			data := filepath.Join(t.TempDir(), "data")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "DATA", data)
			}
			var out, errb strings.Builder
			code := Run(ctx, args, &out, &errb)
			if got, want := code, exitUsage; got != want {
				t.Errorf("exit = %d, want %d\nstdout: %s\nstderr: %s", got, want, &out, &errb)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr = %q, want it to name %q", &errb, tt.want)
			}
			if _, err := os.Stat(data); err == nil {
				t.Errorf("a usage error created %s", data)
			}
		})
	}
}

// TestSubcommandHelp: -h after a command with subcommands prints its help
// and exits 0, like every other command.
func TestSubcommandHelp(t *testing.T) {
	for _, cmd := range []string{"rp", "intel", "partner", "token"} {
		for _, h := range []string{"-h", "--help", "help"} {
			code, _, errOut := runCLI(t, cmd, h)
			if code != exitOK || !strings.Contains(errOut, "usage: healthgate "+cmd) {
				t.Errorf("healthgate %s %s: exit %d, stderr:\n%s", cmd, h, code, errOut)
			}
		}
	}
}

// TestSecretsNotEchoed: the password of a --db URL shows in no message.
func TestSecretsNotEchoed(t *testing.T) {
	dir := t.TempDir()
	const pw = "s3cretPW"
	for _, args := range [][]string{
		{"server", "--db", "mysql://bob:" + pw + "@db.example/hg"},
		{"server", "--db", "postgres//bob:" + pw + "@db.example/hg"},
		{"rp", "list", "--db", "mysql://bob:" + pw + "@db.example/hg", "--data", dir},
		{"intel", "list", "--db", "mysql://bob:" + pw + "@db.example/hg", "--data", dir},
		{"partner", "list", "--db", "mysql://bob:" + pw + "@db.example/hg", "--data", dir},
		{"intel", "pull", "--server", "https://x.example/", "--token", "t", "--db", "mysql://bob:" + pw + "@db.example/hg", "--data", dir},
		{"server", "--taxii-pull", "partner=a,url=ftp://bob:" + pw + "@x.example/,token-file=/nonexistent"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code == exitOK || strings.Contains(out+errOut, pw) {
			t.Errorf("%v: exit %d, output shows the password:\n%s%s", args, code, out, errOut)
		}
	}
}

// TestServerConfigFileErrors: a config file that is wrong names the file
// and the field in plain words, not Go's types.
func TestServerConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"duration of the wrong type", `{"cert_ttl": 7200}`, []string{"cert_ttl"}},
		{"duration that does not parse", `{"nonce_ttl": "5 minutes"}`, []string{"nonce_ttl"}},
		{"number given as a string", `{"sighting_k": "50"}`, []string{"sighting_k", "number"}},
		{"string given as a list", `{"checkout_origins": "https://shop.example"}`, []string{"checkout_origins", "list"}},
		{"empty file", ``, []string{"empty"}},
		{"syntax error", "{\n  \"listen\": \"127.0.0.1:8080\",\n}\n", []string{"line 3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "server.json")
			if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, "server", "--config", p)
			if code != exitUsage {
				t.Errorf("exit = %d, want %d", code, exitUsage)
			}
			for _, w := range append(tt.want, p) {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr = %q, want it to name %q", errOut, w)
				}
			}
			if strings.Contains(errOut, "Go struct") || strings.Contains(errOut, "serverFile") {
				t.Errorf("stderr shows Go internals: %q", errOut)
			}
		})
	}
}

// TestDataDirProblems: a --data that is a file or cannot be written is
// named as such, not as a raw mkdir or SQLite error.
func TestDataDirProblems(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"rp", "list", "--data", file},
		{"server", "--listen", "127.0.0.1:0", "--data", file},
		{"demo", "--exit", "--fleet", "0", "--listen", "127.0.0.1:0", "--data", file},
	} {
		code, _, errOut := runCLI(t, args...)
		if code == exitOK || !strings.Contains(errOut, "--data") || !strings.Contains(errOut, "not a directory") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
	if os.Geteuid() == 0 {
		return // root writes anywhere
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "rp", "list", "--data", ro)
	if code == exitOK || !strings.Contains(errOut, "--data") || !strings.Contains(errOut, "writ") {
		t.Errorf("read-only --data: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestDemoKeepsExistingDatabase: the demo's simulated fleet must not
// replace a database already in --data.
func TestDemoKeepsExistingDatabase(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, "rp", "create", "bank", "--data", dir); code != exitOK {
		t.Fatalf("rp create: %d %s", code, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := Run(ctx, []string{"demo", "--exit", "--fleet", "20", "--listen", "127.0.0.1:0", "--data", dir}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--data") {
		t.Errorf("demo over an existing database: exit %d, stderr:\n%s", code, &errb)
	}
	if _, out, _ := runCLI(t, "rp", "list", "--data", dir); !strings.Contains(out, "bank") {
		t.Errorf("the existing database lost its relying party:\n%s", out)
	}
}

// TestDemoInterruptedWhileStarting: Ctrl-C while the demo simulates its
// fleet stops it with one plain line, not the error of a request the
// shutdown cut short.
func TestDemoInterruptedWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	var out, errb strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"demo", "--fleet", "5000", "--listen", "127.0.0.1:0", "--log-level", "error"}, &out, &errb)
	}()
	select {
	case code := <-done:
		msg := strings.TrimSpace(errb.String())
		if code == exitUsage || strings.Count(msg, "\n") > 0 || !strings.Contains(msg, "interrupted") {
			t.Errorf("exit %d, stderr:\n%s", code, msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop within 20s of the interrupt")
	}
}
