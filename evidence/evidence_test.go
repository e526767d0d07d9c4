package evidence_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

func claims() *evidence.Claims {
	t := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	return &evidence.Claims{
		Nonce: "AAAAAGsLwdv2R3Mpj7p2shzE_e1Xz0XUFq-UpCrEkWBIiUSplf4pdw", UEID: "AcTQfQHdsGERoKHn_DRuJO8",
		IssuedAt: t.Unix(), SWName: "healthgate-agent", SWVersion: "1.0.0", Platform: "linux",
		Facts: evidence.Facts{
			OS:       &evidence.OSFacts{Name: "debian", Version: "12", LastUpdate: &t},
			Firewall: &evidence.FirewallFacts{Enabled: true, Backend: "ufw"},
			Hosts:    &evidence.HostsFacts{Entries: []evidence.HostEntry{{Host: "nas.lan", IP: "192.168.1.10"}}},
		},
		Findings: []evidence.Finding{{Code: "malware", Subject: strings.Repeat("ab", 32)}},
	}
}

func TestSignVerify(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name    string
		alg     string
		sign    func(*evidence.Claims) ([]byte, error)
		pub     any
		wrongTo any
	}{
		{name: "ed25519", alg: "EdDSA", sign: func(c *evidence.Claims) ([]byte, error) { return evidence.Sign(c, edKey) }, pub: edKey.Public(), wrongTo: ecKey.Public()},
		{name: "p256", alg: "ES256", sign: func(c *evidence.Claims) ([]byte, error) { return evidence.Sign(c, ecKey) }, pub: ecKey.Public(), wrongTo: edKey.Public()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.sign(claims())
			if err != nil {
				t.Fatal(err)
			}
			header, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(tok), ".")[0])
			if !strings.Contains(string(header), `"alg":"`+tt.alg+`"`) || !strings.Contains(string(header), `"typ":"eat+jwt"`) {
				t.Errorf("header = %s, want alg %s and typ eat+jwt", header, tt.alg)
			}
			got, err := evidence.Verify(tok, tt.pub)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UEID != claims().UEID || got.Facts.Firewall == nil || !got.Facts.Firewall.Enabled || len(got.Findings) != 1 {
				t.Errorf("claims did not round-trip: %+v", got)
			}
			// A key of the other type pins the other algorithm: refused
			// before any signature check.
			if _, err := evidence.Verify(tok, tt.wrongTo); !errors.Is(err, evidence.ErrAlgorithm) {
				t.Errorf("Verify with a key of another type: err = %v, want ErrAlgorithm", err)
			}
			parsed, err := evidence.Parse(tok)
			if err != nil || parsed.Nonce != claims().Nonce {
				t.Errorf("Parse = %+v, %v", parsed, err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	tok, err := evidence.Sign(claims(), key)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(tok), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "debian", "ubuntu", 1))) + "." + parts[2]
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		tok  string
		pub  any
		want error
	}{
		{"other key", string(tok), other.Public(), evidence.ErrBadSignature},
		{"tampered payload", tampered, key.Public(), evidence.ErrBadSignature},
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", key.Public(), evidence.ErrAlgorithm},
		{"HS256", b64([]byte(`{"alg":"HS256"}`)) + "." + parts[1] + "." + parts[2], key.Public(), evidence.ErrAlgorithm},
		{"two dots missing", "abc", key.Public(), evidence.ErrMalformed},
		{"wrong typ", b64([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], key.Public(), evidence.ErrMalformed},
		{"too large", strings.Repeat("a", evidence.MaxSize+1), key.Public(), evidence.ErrTooLarge},
		{"RSA-sized garbage signature", parts[0] + "." + parts[1] + "." + b64(make([]byte, 256)), key.Public(), evidence.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := evidence.Verify([]byte(tt.tok), tt.pub); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	hex := strings.Repeat("0", 64)
	tests := []struct {
		name   string
		mutate func(c *evidence.Claims)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(c *evidence.Claims) {}, ""},
		{"short nonce", func(c *evidence.Claims) { c.Nonce = "abc" }, "eat_nonce"},
		{"no ueid", func(c *evidence.Claims) { c.UEID = "" }, "ueid is missing"},
		{"no iat", func(c *evidence.Claims) { c.IssuedAt = 0 }, "iat is missing"},
		{"unknown platform", func(c *evidence.Claims) { c.Platform = "toaster" }, "platform"},
		{"long string", func(c *evidence.Claims) { c.SWVersion = strings.Repeat("x", 300) }, "swversion is longer"},
		{"bad process hash", func(c *evidence.Claims) {
			c.Facts.Processes = &evidence.ProcessFacts{Running: []evidence.Process{{Name: "x", SHA256: "XYZ"}}}
		}, "sha256 is not 64 hex digits"},
		{"upper-case hash", func(c *evidence.Claims) {
			c.Facts.TrustStore = &evidence.TrustStoreFacts{Added: []evidence.Certificate{{SHA256: strings.ToUpper(strings.Repeat("ab", 32))}}}
		}, "sha256 is not 64 hex digits"},
		{"too many hosts", func(c *evidence.Claims) {
			c.Facts.Hosts.Entries = make([]evidence.HostEntry, 513)
		}, "more than 512 hosts entries"},
		{"extension without id", func(c *evidence.Claims) {
			c.Facts.Browsers = &evidence.BrowserFacts{Extensions: []evidence.BrowserExtension{{Browser: "chrome"}}}
		}, "extensions[0].id is missing"},
		{"good hash", func(c *evidence.Claims) {
			c.Facts.Processes = &evidence.ProcessFacts{Running: []evidence.Process{{Name: "x", SHA256: hex}}}
		}, ""},
		{"every problem at once", func(c *evidence.Claims) { c.UEID, c.SWName = "", "" }, "ueid is missing; swname is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims()
			tt.mutate(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, evidence.ErrSchema)):
				t.Errorf("Validate = %v, want ErrSchema containing %q", err, tt.want)
			}
		})
	}
}

func TestSignRefusesInvalidClaims(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := claims()
	c.Platform = ""
	if _, err := evidence.Sign(c, key); !errors.Is(err, evidence.ErrSchema) {
		t.Errorf("Sign of invalid claims: err = %v, want ErrSchema", err)
	}
	// A NUL in any text claim is refused (no name or version has one, and
	// PostgreSQL cannot store it).
	c = claims()
	c.SWVersion = "1.0\x00"
	if _, err := evidence.Sign(c, key); !errors.Is(err, evidence.ErrSchema) || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("Sign with a NUL in swversion: err = %v, want ErrSchema naming the NUL", err)
	}
}

// TestSignRefusesTooLarge: claims valid field by field can still add up to
// more than a report may carry; the error says so (ErrTooLarge), so that
// the agent drops such a report instead of retrying it forever.
func TestSignRefusesTooLarge(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := claims()
	c.Facts.Processes = &evidence.ProcessFacts{}
	for i := range 4096 {
		c.Facts.Processes.Running = append(c.Facts.Processes.Running, evidence.Process{Name: fmt.Sprintf("%0200d", i)})
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("claims not valid: %v", err)
	}
	if _, err := evidence.Sign(c, key); !errors.Is(err, evidence.ErrTooLarge) {
		t.Errorf("Sign of %d processes: err = %v, want ErrTooLarge", len(c.Facts.Processes.Running), err)
	}
}

func TestVerifyLookup(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tok, err := evidence.Sign(claims(), key)
	if err != nil {
		t.Fatal(err)
	}
	notFound := errors.New("no such device")
	lookup := func(ueid string) (crypto.PublicKey, error) {
		if ueid != claims().UEID {
			return nil, notFound
		}
		return key.Public(), nil
	}
	c, pub, err := evidence.VerifyLookup(tok, lookup)
	if err != nil || c.UEID != claims().UEID || pub == nil {
		t.Fatalf("VerifyLookup = %+v, %v", c, err)
	}
	other := claims()
	other.UEID = "someone-else"
	tok2, _ := evidence.Sign(other, key)
	if _, _, err := evidence.VerifyLookup(tok2, lookup); !errors.Is(err, notFound) {
		t.Errorf("unknown device: err = %v, want the lookup's error", err)
	}
}

func TestRunsTool(t *testing.T) {
	for _, tt := range []struct {
		name, tool string
		want       bool
	}{
		{"ToDesk.exe", "todesk", true},
		{"ToDesk_Service.exe", "todesk", true},
		{"/opt/todesk/bin/todesk", "todesk", true},
		{"todesk", "todesk", true},
		{"com.teamviewer.service", "teamviewer", true},
		{"AutodeskDesktopApp.exe", "todesk", false},
		{"autodesk", "todesk", false},
		{"Xvncserver", "vncserver", false},
		{"tode", "todesk", false},
		{"", "todesk", false},
		{"todesk", "", false},
	} {
		if got := evidence.RunsTool(tt.name, tt.tool); got != tt.want {
			t.Errorf("RunsTool(%q, %q) = %v, want %v", tt.name, tt.tool, got, tt.want)
		}
	}
}
