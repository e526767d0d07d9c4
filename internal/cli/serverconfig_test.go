package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServerConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("secret\n"), 0o600)

	p := write(`{"listen": "127.0.0.1:9999", "cert_ttl": "2h", "checkout_origins": ["https://shop.example"],
		"sighting_k": 60, "taxii_pulls": ["partner=org-a,url=https://taxii.example/taxii2/,token-file=` + tok + `,every=2h"]}`)
	c := DefaultServerConfig()
	if err := loadServerFile(p, &c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Lifetimes.Affirming != 2*time.Hour || c.SightingK != 60 ||
		len(c.CheckoutOrigins) != 1 || len(c.PartnerPulls) != 1 || c.PartnerPulls[0].Token != "secret" || c.PartnerPulls[0].Every != 2*time.Hour {
		t.Errorf("config = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, tt := range []struct{ name, body, want string }{
		{"unknown key", `{"listen": "x", "admin": true}`, "unknown field"},
		{"bad duration", `{"cert_ttl": 7200}`, "duration"},
		{"trailing data", `{} {}`, "after the JSON"},
		{"bad pull", `{"taxii_pulls": ["partner"]}`, "key=value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultServerConfig()
			if err := loadServerFile(write(tt.body), &c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", "a.json"}, "a.json"},
		{[]string{"--listen", "x", "-config=b.json"}, "b.json"},
		{[]string{"--listen", "x"}, ""},
	} {
		if got := configPath(tt.args); got != tt.want {
			t.Errorf("configPath(%v) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestCheckoutOrigins: origins are published to agents as browsers write
// them, whatever the operator's spelling; what is not an origin is refused.
func TestCheckoutOrigins(t *testing.T) {
	cfg := DefaultServerConfig()
	cfg.DataDir = t.TempDir()
	cfg.CheckoutOrigins = []string{"HTTPS://Shop.Example:443/", "http://localhost:8080", "https://[::1]:8443"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, closeStore, err := startServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/agent/config", nil))
	want := `{"checkout_origins":["https://shop.example","http://localhost:8080","https://[::1]:8443"]}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Errorf("agent config = %s, want %s", got, want)
	}
	for _, bad := range []string{"null", "shop.example", "https://user@shop.example", "https://shop.example/pay", "https://shop.example#x", "ftp://shop.example", "https://shop.example:99999"} {
		cfg.CheckoutOrigins = []string{bad}
		if err := cfg.Validate(); err == nil {
			t.Errorf("--checkout-origin %q accepted", bad)
		}
	}
}

// TestLoadEKCAs: a PEM bundle of EK CAs splits into roots (self-signed)
// and intermediates that verify a chain; files that hold no root, no
// certificate, or something else are refused, naming the flag.
func TestLoadEKCAs(t *testing.T) {
	dir := t.TempDir()
	newCert := func(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	root, rootKey, rootPEM := newCert("EK root", nil, nil, true)
	inter, interKey, interPEM := newCert("EK intermediate", root, rootKey, true)
	leaf, _, _ := newCert("an EK", inter, interKey, false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	roots, inters, err := loadEKCAs(write("bundle.pem", append(interPEM, rootPEM...)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("an EK certificate under the bundle does not verify: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Error("the intermediate was taken for a root (the chain verified without intermediates)")
	}
	for name, content := range map[string][]byte{
		"empty.pem":   nil,
		"no-root.pem": interPEM,
		"key.pem":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"garbage.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
		"missing.pem": nil,
	} {
		path := filepath.Join(dir, name)
		if name != "missing.pem" {
			path = write(name, content)
		}
		cfg := DefaultServerConfig()
		cfg.DataDir, cfg.TPMEKCAs = t.TempDir(), path
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--tpm-ek-cas") {
			t.Errorf("%s: Validate = %v, want a --tpm-ek-cas error", name, err)
		}
	}
}
