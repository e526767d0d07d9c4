package main_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
)

// buildBinary builds the real healthgate binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "healthgate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `healthgate server` on a random loopback port and returns
// its base URL. The server is stopped with SIGTERM when the test ends, and
// must exit cleanly.
func startServer(t *testing.T, bin string) string {
	t.Helper()
	return startServerData(t, bin, filepath.Join(t.TempDir(), "data"))
}

// startServerData is startServer with the data directory given.
func startServerData(t *testing.T, bin, data string) string {
	t.Helper()
	return startServerArgs(t, bin, "--data", data)
}

// startServerArgs is startServer with the store flags given.
func startServerArgs(t *testing.T, bin string, storeArgs ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0", "--log-level", "info"}, storeArgs...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	var logs bytes.Buffer
	go func() {
		re := regexp.MustCompile(`server listening" url=(http://[0-9.:]+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server did not exit cleanly: %v\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("server did not stop within 15s of SIGINT")
		}
	})
	select {
	case u := <-urlc:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", logs.String())
		return ""
	}
}

func run(t *testing.T, bin string, args ...string) (stdout string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String() + errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// tree returns a testdata device tree. Its update stamps and antivirus
// signature files carry the checkout time as mtime, so on a fresh clone the
// healthy tree reads as recently patched, as the collectors intend.
func tree(name string) string {
	return filepath.Join("..", "..", "internal", "posture", "testdata", name)
}

type answer struct {
	DeviceID    string `json:"device_id"`
	Tier        string `json:"tier"`
	Score       int    `json:"score"`
	Certificate string `json:"certificate"`
	ExpiresAt   string `json:"expires_at"`
	Findings    []struct {
		Code string `json:"code"`
	} `json:"findings"`
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	base := startServer(t, bin)
	jwks := base + "/.well-known/jwks.json"

	cases := []struct {
		name         string
		tree         string
		wantTier     string
		wantFindings []string
	}{
		{"healthy device", "healthy", "affirming", nil},
		{"infected device", "infected", "contraindicated", []string{"hosts_payment_hijack", "rogue_root_ca", "remote_control_tool", "known_malware"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			out, code := run(t, bin, "agent", "--server", base, "--state", state, "--once", "--json", "--root", tree(tc.tree))
			if code != 0 {
				t.Fatalf("agent exited %d: %s", code, out)
			}
			var a answer
			if err := json.Unmarshal([]byte(out), &a); err != nil {
				t.Fatalf("agent --json printed %q: %v", out, err)
			}
			if got, want := a.Tier, tc.wantTier; got != want {
				t.Errorf("tier = %q, want %q (findings %+v)", got, want, a.Findings)
			}
			var codes []string
			for _, f := range a.Findings {
				codes = append(codes, f.Code)
			}
			for _, want := range tc.wantFindings {
				if !slices.Contains(codes, want) {
					t.Errorf("findings %v lack %q", codes, want)
				}
			}
			if a.Certificate == "" || a.ExpiresAt == "" {
				t.Fatalf("answer lacks certificate or expires_at: %s", out)
			}
			stored, err := os.ReadFile(filepath.Join(state, "certificate.jwt"))
			if err != nil || strings.TrimSpace(string(stored)) != a.Certificate {
				t.Errorf("certificate not stored in the state dir: %v", err)
			}
			// Offline verification with the real CLI.
			vout, code := run(t, bin, "token", "verify", "--jwks", jwks, filepath.Join(state, "certificate.jwt"))
			if code != 0 {
				t.Fatalf("token verify exited %d: %s", code, vout)
			}
			var claims struct {
				Sub     string `json:"sub"`
				Submods map[string]struct {
					Status string `json:"ear.status"`
				} `json:"submods"`
			}
			if err := json.Unmarshal([]byte(vout), &claims); err != nil {
				t.Fatalf("token verify printed %q: %v", vout, err)
			}
			if claims.Sub != a.DeviceID || claims.Submods["device"].Status != tc.wantTier {
				t.Errorf("verified claims %+v do not match the answer %+v", claims, a)
			}
			// Without --json the agent prints the tier alone.
			plain, code := run(t, bin, "agent", "--server", base, "--state", state, "--once", "--root", tree(tc.tree))
			if code != 0 || strings.TrimSpace(plain) != tc.wantTier {
				t.Errorf("agent --once printed %q (exit %d), want %q", plain, code, tc.wantTier)
			}
			// A tampered certificate is refused.
			tampered := []byte(a.Certificate)
			tampered[len(tampered)/2] ^= 0x01
			tf := filepath.Join(t.TempDir(), "tampered.jwt")
			os.WriteFile(tf, tampered, 0o600)
			if out, code := run(t, bin, "token", "verify", "--jwks", jwks, tf); code == 0 {
				t.Errorf("tampered certificate verified: %s", out)
			}
		})
	}

	t.Run("replayed and foreign-key reports are refused", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		if out, code := run(t, bin, "agent", "--server", base, "--state", state, "--once", "--root", tree("healthy")); code != 0 {
			t.Fatalf("agent: %s", out)
		}
		key, err := devicekey.LoadOrCreateFile(filepath.Join(state, "device.key"))
		if err != nil {
			t.Fatal(err)
		}
		var enr struct {
			DeviceID string `json:"device_id"`
		}
		b, _ := os.ReadFile(filepath.Join(state, "enrolment.json"))
		if err := json.Unmarshal(b, &enr); err != nil {
			t.Fatal(err)
		}
		report := func(signer ed25519.PrivateKey) []byte {
			nonce := challenge(t, base, enr.DeviceID)
			c := &evidence.Claims{Nonce: nonce, UEID: enr.DeviceID, IssuedAt: time.Now().Unix(), SWName: "attacker",
				SWVersion: "1", Platform: "linux"}
			tok, err := evidence.Sign(c, signer)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		own := report(deviceKey(t, key))
		if status, body := postReport(t, base, own); status != http.StatusOK {
			t.Fatalf("first submission: %d %s", status, body)
		}
		if status, body := postReport(t, base, own); status != http.StatusConflict || !strings.Contains(body, "nonce_replayed") {
			t.Errorf("replay: %d %s, want 409 nonce_replayed", status, body)
		}
		_, stranger, _ := ed25519.GenerateKey(rand.Reader)
		if status, body := postReport(t, base, report(stranger)); status != http.StatusUnauthorized || !strings.Contains(body, "bad_signature") {
			t.Errorf("foreign key: %d %s, want 401 bad_signature", status, body)
		}
	})
}

func deviceKey(t *testing.T, k devicekey.Key) ed25519.PrivateKey {
	t.Helper()
	priv, ok := k.(interface{ Seed() []byte })
	if !ok {
		t.Fatalf("device key %T is not an Ed25519 file key", k)
	}
	return ed25519.NewKeyFromSeed(priv.Seed())
}

func challenge(t *testing.T, base, id string) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/challenge", "application/json", strings.NewReader(`{"device_id":"`+id+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct{ Nonce string }
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Nonce == "" {
		t.Fatalf("challenge: %d %v", resp.StatusCode, err)
	}
	return m.Nonce
}

func postReport(t *testing.T, base string, tok []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/v1/reports", evidence.MediaType, bytes.NewReader(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
