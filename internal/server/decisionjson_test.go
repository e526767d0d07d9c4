package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/policy"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/warning"
)

// checkDecodeFast fails when decodeDecisionFast accepts body but
// encoding/json would refuse it or read something else.
func checkDecodeFast(t *testing.T, body []byte) (accepted bool) {
	t.Helper()
	var fast DecisionRequest
	if !decodeDecisionFast(body, &fast) {
		return false
	}
	var slow DecisionRequest
	if err := decodeStrict(body, &slow); err != nil {
		t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path read %q as\n%+v\nencoding/json as\n%+v", body, fast, slow)
	}
	return true
}

func TestDecodeDecisionFast(t *testing.T) {
	for _, tt := range []struct {
		body string
		fast bool // whether the fast path takes it (else encoding/json does)
	}{
		{`{"event":"payment","account":"a1","amount":"42.00","currency":"CNY","certificate":"eyJ.x.y"}`, true},
		{" \n{ \"event\" : \"login\" , \"account\":\"a\", \"amount\": 12.5e+3 }\r\n\t", true},
		{`{}`, true},
		{`{"amount":-0.5E-2}`, true},
		{`{"amount":0}`, true},
		{`{"payee":"Acme <Ltd> & Co"}`, true},
		// Left to encoding/json: escapes, non-ASCII, null, other types,
		// unknown or differently spelt keys, duplicates, bad numbers,
		// trailing data, truncation.
		{`{"payee":"a\"b"}`, false},
		{`{"payee":"\u00e9"}`, false},
		{`{"payee":"商户"}`, false},
		{"{\"payee\":\"a\x01\"}", false},
		{`{"payee":null}`, false},
		{`{"amount":null}`, false},
		{`{"amount":true}`, false},
		{`{"payee":12}`, false},
		{`{"Payee":"x"}`, false},
		{`{"extra":"x"}`, false},
		{`{"payee":"x","payee":"y"}`, false},
		{`{"amount":01}`, false},
		{`{"amount":1.}`, false},
		{`{"amount":.5}`, false},
		{`{"amount":1e}`, false},
		{`{"amount":-}`, false},
		{`{"amount":+1}`, false},
		{`{"event":"payment"} x`, false},
		{`{"event":"payment"}{}`, false},
		{`{"event":"payment",}`, false},
		{`{"event":"payment"`, false},
		{`{"event":"pay`, false},
		{`[]`, false},
		{``, false},
	} {
		if got := checkDecodeFast(t, []byte(tt.body)); got != tt.fast {
			t.Errorf("fast path took %q: %v, want %v", tt.body, got, tt.fast)
		}
	}
}

func FuzzDecodeDecisionFast(f *testing.F) {
	f.Add([]byte(`{"event":"payment","account":"a1","amount":"42.00","currency":"CNY","payee":"Acme","merchant_url":"https://shop.example/p","channel":"web","ip":"203.0.113.9","certificate":"eyJ.x.y","proof":"p","session":"s"}`))
	f.Add([]byte(`{"amount":-12.5e-3}`))
	f.Add([]byte(`{"amount":"1","amount":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeFast(t, body)
	})
}

// checkAppendResponse fails when appendDecisionResponse and json.Marshal
// disagree about r.
func checkAppendResponse(t *testing.T, r *DecisionResponse) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendDecisionResponse(nil, r); !bytes.Equal(got, want) {
		t.Fatalf("appendDecisionResponse:\n%s\njson.Marshal:\n%s", got, want)
	}
}

// nasty are strings whose encoding differs between careless encoders.
var nasty = []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f",
	"\x00\x01\x1f\x7f", "bad utf-8 \xff\xfe end", "\xe2\x80", "line\u2028para\u2029", "没有发现问题，可以继续。", "emoji 😀"}

func TestAppendDecisionResponse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() string { return nasty[rng.IntN(len(nasty))] }
	strs := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		s := make([]string, 1+rng.IntN(3))
		for i := range s {
			s[i] = pick()
		}
		return s
	}
	msgs := func() map[string]string {
		if rng.IntN(4) == 0 {
			return nil
		}
		m := map[string]string{}
		for range rng.IntN(4) {
			m[pick()] = pick()
		}
		return m
	}
	for i := range 2000 {
		r := &DecisionResponse{DecisionID: pick(), Outcome: pick(), Reasons: strs(), Message: msgs(),
			PolicyID: pick(), Feedback: pick(), CreatedAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()}
		switch rng.IntN(3) {
		case 0:
		case 1:
			r.Remediation = []remediation{}
		default:
			for range 1 + rng.IntN(3) {
				steps := map[string][]string{}
				for range rng.IntN(3) {
					steps[pick()] = strs()
				}
				if rng.IntN(4) == 0 {
					steps = nil
				}
				r.Remediation = append(r.Remediation, remediation{Code: pick(), Severity: pick(), Title: msgs(), Steps: steps})
			}
		}
		if i%5 > 0 {
			r.Signals, _ = json.Marshal(map[string]any{"event": pick(), "n": i, "list": strs()})
		}
		checkAppendResponse(t, r)
	}
}

func FuzzAppendDecisionResponse(f *testing.F) {
	for _, s := range nasty {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkAppendResponse(t, &DecisionResponse{DecisionID: a, Outcome: b, Reasons: []string{a, b}, Message: map[string]string{a: b, b: a},
			Remediation: []remediation{{Code: a, Severity: b, Title: map[string]string{b: a}, Steps: map[string][]string{a: {b}}}},
			Signals:     json.RawMessage(`{"x":1}`), PolicyID: a, Feedback: b, CreatedAt: time.Unix(int64(len(a))*1e6, int64(len(b))).UTC()})
	})
}

// TestAppendDecisionResponseRealAnswers encodes the answers the server
// gives for each outcome of the default policy.
func TestAppendDecisionResponseRealAnswers(t *testing.T) {
	for _, outcome := range []string{"allow", "warn", "step_up", "deny"} {
		r := &DecisionResponse{DecisionID: "dec_AAAA", Outcome: outcome, Reasons: []string{"certificate_missing"},
			Message: allowMessage, Remediation: []remediation{}, Signals: json.RawMessage(`{"event":"payment"}`),
			CreatedAt: time.Date(2026, 11, 29, 8, 0, 0, 123456789, time.UTC)}
		checkAppendResponse(t, r)
		if !strings.Contains(string(appendDecisionResponse(nil, r)), fmt.Sprintf(`"outcome":%q`, outcome)) {
			t.Errorf("outcome %s missing", outcome)
		}
	}
}

// TestAppendDecisionResponseCachedTexts: answers carrying the texts
// encoded once (every warning's message and remediation, every finding's
// remediation) encode exactly as json.Marshal encodes them.
func TestAppendDecisionResponseCachedTexts(t *testing.T) {
	d := &decisions{findings: map[string]remediation{}}
	var findings []string
	for _, r := range policy.Default().Rules() {
		d.findings[r.ID] = remediation{Code: r.ID, Severity: r.Tier, Title: r.Title,
			Steps: map[string][]string{"zh-CN": {r.Remediation["zh-CN"]}, "en": {r.Remediation["en"]}}}
		findings = append(findings, r.ID)
	}
	if err := d.encodeTexts(); err != nil {
		t.Fatal(err)
	}
	all := warning.All()
	if len(all) == 0 || len(findings) == 0 {
		t.Fatal("no warnings or findings to check")
	}
	for i, w := range all {
		rec := store.Decision{ID: "dec_x", Outcome: risk.Warn, Reasons: []string{"r"}, Signals: []byte(`{}`),
			Created: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
		sig := &risk.Signals{Device: risk.DeviceSignals{Findings: findings[i%len(findings):]}}
		out := d.response(rec, sig, []string{w.Code, all[(i+1)%len(all)].Code}, "risk@1")
		if out.messageRaw == nil || len(out.Remediation) < 2 || out.Remediation[0].raw == nil || out.Remediation[len(out.Remediation)-1].raw == nil {
			t.Fatalf("%s: the encoded texts were not used", w.Code)
		}
		checkAppendResponse(t, &out)
	}
}
