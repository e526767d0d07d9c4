package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"
)

// serverFile is the JSON form of `healthgate server --config FILE`. Every
// field is optional; unknown keys are refused; flags given on the command
// line win over the file (repeatable flags add to its lists).
//
//	{"listen": "0.0.0.0:8443", "data": "/var/lib/healthgate", "cert_ttl": "2h",
//	 "checkout_origins": ["https://shop.example"], "sighting_k": 50,
//	 "taxii_pulls": ["partner=org-a,url=https://taxii.org-a.example/taxii2/,token-file=/etc/healthgate/org-a.token"]}
type serverFile struct {
	Listen          *string   `json:"listen"`
	Data            *string   `json:"data"`
	DB              *string   `json:"db"`
	Policy          *string   `json:"policy"`
	RiskPolicy      *string   `json:"risk_policy"`
	LogLevel        *string   `json:"log_level"`
	CertTTL         *duration `json:"cert_ttl"`
	CertTTLWarning  *duration `json:"cert_ttl_warning"`
	NonceTTL        *duration `json:"nonce_ttl"`
	MaxSkew         *duration `json:"max_skew"`
	CheckoutOrigins []string  `json:"checkout_origins"`
	SightingK       *int      `json:"sighting_k"`
	SightingEpsilon *float64  `json:"sighting_epsilon"`
	TAXIIPulls      []string  `json:"taxii_pulls"` // the --taxii-pull syntax
	TPMEKCAs        *string   `json:"tpm_ek_cas"`
}

// duration is a time.Duration written as "90s", "4h".
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		// The decoder adds the field's name to an UnmarshalTypeError.
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[duration]()}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: fmt.Sprintf("%q", s), Type: reflect.TypeFor[duration]()}
	}
	*d = duration(v)
	return nil
}

// jsonKind names the kind of a JSON value, as UnmarshalTypeError does.
func jsonKind(b []byte) string {
	switch b = bytes.TrimSpace(b); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	case b[0] == 'n':
		return "null"
	}
	return "number"
}

// configError says what is wrong in a config file in an operator's words:
// the file, the line or the field, what was found and what is wanted.
func configError(path string, data []byte, err error) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%s: the file is empty: want a JSON object such as {\"listen\": \"127.0.0.1:8080\"}", path)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("%s: line %d: not valid JSON: %v", path, line, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: the JSON ends too early (a missing } or \"?)", path)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		got := te.Value
		switch got {
		case "array":
			got = "a list"
		case "object":
			got = "an object"
		case "number", "string", "bool":
			got = "a " + got
		}
		if te.Field == "" {
			return fmt.Errorf("%s: got %s, want a JSON object of settings", path, got)
		}
		var want string
		switch t := te.Type; {
		case t == reflect.TypeFor[duration]():
			want = `a duration such as "90s" or "4h"`
		case t.Kind() == reflect.Int:
			want = "a whole number"
		case t.Kind() == reflect.Float64:
			want = "a number"
		case t.Kind() == reflect.String:
			want = "a string"
		case t.Kind() == reflect.Slice:
			want = "a list of strings"
		default:
			want = t.String()
		}
		return fmt.Errorf("%s: %s: got %s, want %s", path, te.Field, got, want)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// configPath finds --config in args without parsing the other flags.
func configPath(args []string) string {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// loadServerFile applies a config file onto c.
func loadServerFile(path string, c *ServerConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f serverFile
	if err := dec.Decode(&f); err != nil {
		return configError(path, b, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: data after the JSON object", path)
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setD := func(dst *time.Duration, v *duration) {
		if v != nil {
			*dst = time.Duration(*v)
		}
	}
	set(&c.Listen, f.Listen)
	set(&c.DataDir, f.Data)
	set(&c.DB, f.DB)
	set(&c.PolicyFile, f.Policy)
	set(&c.RiskPolicyFile, f.RiskPolicy)
	set(&c.TPMEKCAs, f.TPMEKCAs)
	set(&c.LogLevel, f.LogLevel)
	setD(&c.Lifetimes.Affirming, f.CertTTL)
	setD(&c.Lifetimes.Warning, f.CertTTLWarning)
	setD(&c.NonceTTL, f.NonceTTL)
	setD(&c.MaxSkew, f.MaxSkew)
	c.CheckoutOrigins = append(c.CheckoutOrigins, f.CheckoutOrigins...)
	if f.SightingK != nil {
		c.SightingK = *f.SightingK
	}
	if f.SightingEpsilon != nil {
		c.SightingEpsilon = *f.SightingEpsilon
	}
	for _, v := range f.TAXIIPulls {
		p, err := parsePull(v)
		if err != nil {
			return fmt.Errorf("%s: taxii_pulls: %w", path, err)
		}
		c.PartnerPulls = append(c.PartnerPulls, p)
	}
	return nil
}
