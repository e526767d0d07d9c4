package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     testing.TB
	srv   *server.Server
	http  *httptest.Server
	clock *clock
	db    *sql.DB // a second, read-only view of the same database
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with options changed by set.
func newEnvWith(t testing.TB, set func(*server.Options)) *env {
	t.Helper()
	return newEnvAt(t, time.Now().Truncate(time.Second), set)
}

// newEnvAt is newEnvWith with the clock starting at start.
func newEnvAt(t testing.TB, start time.Time, set func(*server.Options)) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hg.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: start}
	opts := server.Options{Store: st, Now: clk.Now}
	if set != nil {
		set(&opts)
	}
	srv, err := server.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close(); ro.Close(); st.Close() })
	return &env{t: t, srv: srv, http: hs, clock: clk, db: ro}
}

func (e *env) post(path, contentType string, body []byte) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.Post(e.http.URL+path, contentType, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s answered non-JSON %q", path, raw)
	}
	return resp.StatusCode, m
}

type device struct {
	id   string
	key  ed25519.PrivateKey
	jkt  string
	envr *env
}

func (e *env) enroll() *device {
	e.t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk, _ := devicekey.PublicJWK(priv.Public())
	body, _ := json.Marshal(map[string]any{"public_key": jwk})
	status, m := e.post("/v1/enroll", "application/json", body)
	if status != http.StatusCreated {
		e.t.Fatalf("enroll: %d %v", status, m)
	}
	return &device{id: m["device_id"].(string), key: priv, jkt: m["jkt"].(string), envr: e}
}

func (d *device) nonce() string {
	status, m := d.envr.post("/v1/challenge", "application/json", []byte(`{"device_id":"`+d.id+`"}`))
	if status != http.StatusOK {
		d.envr.t.Fatalf("challenge: %d %v", status, m)
	}
	return m["nonce"].(string)
}

func (d *device) claims(nonce string) *evidence.Claims {
	return &evidence.Claims{
		Nonce: nonce, UEID: d.id, IssuedAt: d.envr.clock.Now().Unix(), SWName: "test-agent", SWVersion: "1",
		Platform: "linux", Facts: healthyFacts(d.envr.clock.Now()),
	}
}

func (d *device) sign(c *evidence.Claims, key ed25519.PrivateKey) []byte {
	tok, err := evidence.Sign(c, key)
	if err != nil {
		d.envr.t.Fatal(err)
	}
	return tok
}

func healthyFacts(now time.Time) evidence.Facts {
	updated := now.Add(-24 * time.Hour)
	return evidence.Facts{
		OS:         &evidence.OSFacts{Name: "debian", Version: "12", LastUpdate: &updated},
		Firewall:   &evidence.FirewallFacts{Enabled: true, Backend: "nftables"},
		Antivirus:  &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{{Name: "ClamAV", Enabled: true, SignaturesUpdated: &updated}}},
		Hosts:      &evidence.HostsFacts{Entries: []evidence.HostEntry{}},
		DNS:        &evidence.DNSFacts{Servers: []string{"1.1.1.1"}},
		Proxy:      &evidence.ProxyFacts{},
		TrustStore: &evidence.TrustStoreFacts{Added: []evidence.Certificate{}},
		Processes:  &evidence.ProcessFacts{Running: []evidence.Process{{Name: "sshd"}}},
	}
}

// rows counts what the store holds, to show a refusal left it unchanged.
func (e *env) rows() [2]int {
	e.t.Helper()
	var r [2]int
	for i, table := range []string{"reports", "used_nonces"} {
		if err := e.db.QueryRow("SELECT count(*) FROM " + table).Scan(&r[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return r
}

func TestReportHealthyDevice(t *testing.T) {
	e := newEnv(t)
	d := e.enroll()
	status, m := e.post("/v1/reports", evidence.MediaType, d.sign(d.claims(d.nonce()), d.key))
	if status != http.StatusOK {
		t.Fatalf("report: %d %v", status, m)
	}
	if got, want := m["tier"], token.TierAffirming; got != want {
		t.Errorf("tier = %v, want %v (findings %v)", got, want, m["findings"])
	}
	jwks, err := token.ParseJWKS(e.srv.Issuer().JWKS())
	if err != nil {
		t.Fatal(err)
	}
	claims, err := token.Verify(context.Background(), []byte(m["certificate"].(string)), jwks, token.WithNow(e.clock.Now))
	if err != nil {
		t.Fatalf("certificate does not verify: %v", err)
	}
	if got, want := claims.Subject, d.id; got != want {
		t.Errorf("sub = %q, want %q", got, want)
	}
	if got, want := claims.Confirmation.JKT, d.jkt; got != want {
		t.Errorf("cnf.jkt = %q, want %q", got, want)
	}
	if got, want := claims.Tier(), token.TierAffirming; got != want {
		t.Errorf("certificate tier = %q, want %q", got, want)
	}
	if got, want := e.rows(), [2]int{1, 1}; got != want {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestEnrollIsIdempotent(t *testing.T) {
	e := newEnv(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk, _ := devicekey.PublicJWK(priv.Public())
	body, _ := json.Marshal(map[string]any{"public_key": jwk})
	s1, m1 := e.post("/v1/enroll", "application/json", body)
	s2, m2 := e.post("/v1/enroll", "application/json", body)
	if s1 != http.StatusCreated || s2 != http.StatusOK {
		t.Fatalf("statuses %d, %d; want 201, 200", s1, s2)
	}
	if m1["device_id"] != m2["device_id"] {
		t.Errorf("device id changed: %v then %v", m1["device_id"], m2["device_id"])
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestBadInput sends every kind of bad report and checks that each gets a
// 4xx with a clear code and leaves the store as it was.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	d := e.enroll()
	other := e.enroll()
	// A report that was accepted once, for the replay case.
	replayed := d.sign(d.claims(d.nonce()), d.key)
	if status, m := e.post("/v1/reports", evidence.MediaType, replayed); status != http.StatusOK {
		t.Fatalf("first report: %d %v", status, m)
	}
	payload, _ := json.Marshal(d.claims(d.nonce()))
	pub := d.key.Public().(ed25519.PublicKey)
	mac := hmac.New(sha256.New, pub)
	hsHeader := b64([]byte(`{"alg":"HS256","typ":"eat+jwt"}`))
	mac.Write([]byte(hsHeader + "." + b64(payload)))
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)

	expiredNonce := d.nonce()
	skewed := d.claims(d.nonce())
	skewed.IssuedAt = e.clock.Now().Add(-time.Hour).Unix()

	good := d.sign(d.claims(d.nonce()), d.key)
	tests := []struct {
		name        string
		contentType string
		body        func() []byte
		status      int
		code        string
	}{
		{"garbage", evidence.MediaType, func() []byte { return []byte("not a jws at all") }, 400, "evidence_malformed"},
		{"truncated", evidence.MediaType, func() []byte { return good[:len(good)/2] }, 400, "evidence_malformed"},
		{"empty", evidence.MediaType, func() []byte { return nil }, 400, "evidence_malformed"},
		{"oversized", evidence.MediaType, func() []byte { return bytes.Repeat([]byte("a"), evidence.MaxSize+1) }, 413, "too_large"},
		{"wrong content type", "text/plain", func() []byte { return good }, 415, "unsupported_media_type"},
		{"json instead of jws", "application/json", func() []byte { return payload }, 415, "unsupported_media_type"},
		{"alg none", evidence.MediaType, func() []byte {
			return []byte(b64([]byte(`{"alg":"none"}`)) + "." + b64(payload) + ".")
		}, 400, "evidence_algorithm"},
		{"HS256 with the public key as secret", evidence.MediaType, func() []byte {
			return []byte(hsHeader + "." + b64(payload) + "." + b64(mac.Sum(nil)))
		}, 400, "evidence_algorithm"},
		{"unknown device", evidence.MediaType, func() []byte {
			c := d.claims(d.nonce())
			c.UEID = "AQAAAAAAAAAAAAAAAAAAAAAA"
			return d.sign(c, d.key)
		}, 404, "unknown_device"},
		{"signed by a different key", evidence.MediaType, func() []byte { return d.sign(d.claims(d.nonce()), strangerKey) }, 401, "bad_signature"},
		{"nonce from another device", evidence.MediaType, func() []byte { return d.sign(d.claims(other.nonce()), d.key) }, 401, "nonce_unknown"},
		{"made-up nonce", evidence.MediaType, func() []byte { return d.sign(d.claims("AAAAAAAAAAAAAAAAAAAAAAAAAAAA"), d.key) }, 401, "nonce_unknown"},
		{"replayed report", evidence.MediaType, func() []byte { return replayed }, 409, "nonce_replayed"},
		{"clock skew", evidence.MediaType, func() []byte { return d.sign(skewed, d.key) }, 400, "clock_skew"},
		{"schema: unknown claim", evidence.MediaType, func() []byte {
			return signRaw(t, d.key, strings.Replace(string(payload), `"eat_nonce"`, `"surprise":1,"eat_nonce"`, 1))
		}, 400, "evidence_schema"},
		{"schema: bad platform", evidence.MediaType, func() []byte {
			return signRaw(t, d.key, strings.Replace(string(payload), `"platform":"linux"`, `"platform":"toaster"`, 1))
		}, 400, "evidence_schema"},
		// Last: it moves the clock past every nonce's expiry.
		{"expired nonce", evidence.MediaType, func() []byte {
			tok := d.sign(d.claims(expiredNonce), d.key)
			e.clock.Add(6 * time.Minute)
			return tok
		}, 401, "nonce_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body()
			before := e.rows()
			status, m := e.post("/v1/reports", tt.contentType, body)
			if got, want := status, tt.status; got != want {
				t.Errorf("status = %d, want %d (%v)", got, want, m)
			}
			errObj, _ := m["error"].(map[string]any)
			if got, want := errObj["code"], tt.code; got != want {
				t.Errorf("error code = %v, want %v (%v)", got, want, m)
			}
			if msg, _ := errObj["message"].(string); msg == "" {
				t.Error("error has no message")
			}
			if _, ok := m["certificate"]; ok {
				t.Error("a refused report got a certificate")
			}
			if got := e.rows(); got != before {
				t.Errorf("store changed from %v to %v", before, got)
			}
		})
	}
}

// signRaw signs an arbitrary payload as evidence would be, bypassing the
// schema check that evidence.Sign does.
func signRaw(t *testing.T, key ed25519.PrivateKey, payload string) []byte {
	t.Helper()
	in := b64([]byte(`{"alg":"EdDSA","typ":"eat+jwt"}`)) + "." + b64([]byte(payload))
	return []byte(in + "." + b64(ed25519.Sign(key, []byte(in))))
}

func TestEndpointErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path, contentType, body string
		status                        int
		code                          string
	}{
		{"enroll garbage", "/v1/enroll", "application/json", "{", 400, "bad_json"},
		{"enroll unknown field", "/v1/enroll", "application/json", `{"public_key":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},"admin":true}`, 400, "bad_json"},
		{"enroll RSA key", "/v1/enroll", "application/json", `{"public_key":{"kty":"RSA","crv":"","x":""}}`, 400, "bad_public_key"},
		{"enroll short key", "/v1/enroll", "application/json", `{"public_key":{"kty":"OKP","crv":"Ed25519","x":"AAAA"}}`, 400, "bad_public_key"},
		{"enroll wrong type", "/v1/enroll", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"challenge unknown device", "/v1/challenge", "application/json", `{"device_id":"nope"}`, 404, "unknown_device"},
		{"challenge no device", "/v1/challenge", "application/json", `{}`, 400, "bad_device_id"},
		{"challenge trailing data", "/v1/challenge", "application/json", `{"device_id":"x"} {}`, 400, "bad_json"},
		{"no such endpoint", "/v1/nothing", "application/json", `{}`, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.post(tt.path, tt.contentType, []byte(tt.body))
			if got, want := status, tt.status; got != want {
				t.Errorf("status = %d, want %d (%v)", got, want, m)
			}
			errObj, _ := m["error"].(map[string]any)
			if got, want := errObj["code"], tt.code; got != want {
				t.Errorf("code = %v, want %v", got, want)
			}
		})
	}
}

func TestHealthzMetricsJWKS(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ path, want string }{
		{"/healthz", `"status":"ok"`},
		{"/metrics", "healthgate_http_request_duration_seconds"},
		{"/.well-known/jwks.json", `"kty":"OKP"`},
	} {
		resp, err := http.Get(e.http.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tt.want) {
			t.Errorf("GET %s = %d %.200s, want 200 containing %s", tt.path, resp.StatusCode, body, tt.want)
		}
	}
}
