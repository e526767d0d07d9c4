package risk

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/warning"
)

type vector struct {
	Name    string  `json:"name"`
	Signals Signals `json:"signals"`
	Want    struct {
		Outcome string   `json:"outcome"`
		Reasons []string `json:"reasons"`
	} `json:"want"`
}

func TestVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vs); err != nil {
		t.Fatal(err)
	}
	p := Default()
	fired := map[string]bool{}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			got := p.Evaluate(&v.Signals)
			if got.Outcome != v.Want.Outcome {
				t.Errorf("outcome = %s, want %s (reasons %v)", got.Outcome, v.Want.Outcome, got.Reasons)
			}
			if !slices.Equal(got.Reasons, v.Want.Reasons) {
				t.Errorf("reasons = %q, want %q", got.Reasons, v.Want.Reasons)
			}
			if len(got.Errors) > 0 {
				t.Errorf("errors: %v", got.Errors)
			}
			for _, r := range got.Reasons {
				fired[r] = true
			}
		})
	}
	for _, r := range p.Rules() {
		if !fired[r.ID] {
			t.Errorf("no vector fires rule %s", r.ID)
		}
		if _, ok := warning.Lookup(r.Warning); !ok {
			t.Errorf("rule %s has no catalog entry", r.ID)
		}
	}
}

// TestMissingCertificateNeverDenies: whatever else is true, a missing
// certificate alone does not deny.
func TestMissingCertificateNeverDenies(t *testing.T) {
	for _, ev := range []string{"login", "payment", "register"} {
		for _, amt := range []float64{0, 1, 1e6} {
			s := Signals{Event: ev, Amount: amt, Device: DeviceSignals{Tier: "none"}, Account: AccountSignals{NewDevice: true}}
			if got := Default().Evaluate(&s); got.Outcome == Deny {
				t.Errorf("%s %v without certificate: deny (%v)", ev, amt, got.Reasons)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown key", "id: x\nversion: 1\nsurprise: 1\nrules: []", "surprise"},
		{"bad outcome", "id: x\nversion: 1\nrules:\n- id: new_device\n  condition: 'true'\n  outcome: block", "outcome"},
		{"not bool", "id: x\nversion: 1\nrules:\n- id: new_device\n  condition: '1'\n  outcome: warn", "want bool"},
		{"unknown field", "id: x\nversion: 1\nrules:\n- id: new_device\n  condition: signals.nope\n  outcome: warn", "nope"},
		{"no catalog entry", "id: x\nversion: 1\nrules:\n- id: made_up\n  condition: 'true'\n  outcome: warn", "catalog"},
		{"unknown param", "id: x\nversion: 1\nrules:\n- id: new_device\n  condition: signals.amount > params.nope\n  outcome: warn", "params.nope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestTracker(t *testing.T) {
	tr := NewTracker(100, 8)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tr.Observe(Activity{Account: "a", Device: "d1", Payment: true, Amount: 10, At: now.Add(-25 * time.Hour)}) // out of window
	tr.Observe(Activity{Account: "a", Device: "d1", Payment: true, Amount: 20, At: now.Add(-2 * time.Hour)})
	tr.Observe(Activity{Account: "a", Device: "d2", Payment: true, Amount: 30, At: now.Add(-30 * time.Minute)})
	tr.Observe(Activity{Account: "a", Device: "d2", Payment: false, At: now.Add(-10 * time.Minute)})
	tr.Observe(Activity{Account: "b", Device: "d2", Payment: true, Amount: 5, At: now.Add(-5 * time.Minute)})
	var s Signals
	tr.Fill(&s, "a", "d3", now)
	want := VelocitySignals{AccountPayments1h: 1, AccountSum1h: 30, AccountPayments24h: 2, AccountSum24h: 50}
	if s.Velocity != want {
		t.Errorf("velocity = %+v, want %+v", s.Velocity, want)
	}
	if got := s.Account.DevicesDay; got != 3 { // d1, d2 and now d3
		t.Errorf("devices/day = %d, want 3", got)
	}
	tr.Fill(&s, "a", "d2", now)
	if s.Device.AccountsDay != 2 || s.Velocity.DevicePayments1h != 2 || s.Velocity.DeviceSum1h != 35 {
		t.Errorf("device stats = %+v, accounts/day %d", s.Velocity, s.Device.AccountsDay)
	}
	// Bounds: per-key events and keys.
	for i := range 50 {
		tr.Observe(Activity{Account: "c", Payment: true, Amount: 1, At: now})
		tr.Observe(Activity{Account: string(rune('A' + i)), At: now})
	}
	tr.Fill(&s, "c", "", now)
	if s.Velocity.AccountPayments1h > 8 {
		t.Errorf("per-key bound not kept: %d", s.Velocity.AccountPayments1h)
	}
	if len(tr.accounts) > 100 {
		t.Errorf("key bound not kept: %d", len(tr.accounts))
	}
}

func BenchmarkEvaluateDefault(b *testing.B) {
	s := Signals{Event: "payment", Amount: 120, Currency: "CNY", Certificate: CertificateSignals{Present: true, Valid: true, Bound: true},
		Device: DeviceSignals{Known: true, Tier: "warning", Findings: []string{"firewall_off"}, Accounts: 1}, Account: AccountSignals{DevicesDay: 1}}
	p := Default()
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(&s)
	}
}

// TestMalformedAmountNeverAllows: an amount the server would refuse (NaN)
// must not slip between the "below" and "at or above" rules of a threshold.
func TestMalformedAmountNeverAllows(t *testing.T) {
	nan := math.NaN()
	for _, tt := range []struct {
		name string
		s    Signals
	}{
		{"at-risk device", Signals{Event: "payment", Amount: nan, Currency: "CNY", Certificate: CertificateSignals{Present: true, Valid: true, Bound: true},
			Device: DeviceSignals{Known: true, Tier: "warning", Accounts: 1}, Account: AccountSignals{DevicesDay: 1}}},
		{"new device", Signals{Event: "payment", Amount: nan, Currency: "CNY", Certificate: CertificateSignals{Present: true, Valid: true, Bound: true},
			Device: DeviceSignals{Known: true, Tier: "affirming", Accounts: 1}, Account: AccountSignals{NewDevice: true, DevicesDay: 1}}},
		{"unproven certificate", Signals{Event: "payment", Amount: nan, Currency: "CNY", Certificate: CertificateSignals{Present: true, Valid: true},
			Device: DeviceSignals{Known: true, Tier: "affirming", Accounts: 1}, Account: AccountSignals{DevicesDay: 1}}},
		{"healthy proven device", Signals{Event: "payment", Amount: nan, Currency: "CNY", Certificate: CertificateSignals{Present: true, Valid: true, Bound: true},
			Device: DeviceSignals{Known: true, Tier: "affirming", Accounts: 1}, Account: AccountSignals{DevicesDay: 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Default().Evaluate(&tt.s); severity(got.Outcome) < severity(StepUp) {
				t.Errorf("NaN amount: %s %v, want at least step_up", got.Outcome, got.Reasons)
			}
		})
	}
}

// TestNoCertificateNeverDenies: a missing or expired certificate alone
// steps up and never denies, for every event and amount, thresholds
// included.
func TestNoCertificateNeverDenies(t *testing.T) {
	p := Default()
	var amounts []float64
	for _, n := range []string{"step_up_amount", "new_device_amount", "unproven_amount", "max_account_sum_24h"} {
		v, ok := p.Param(n)
		if !ok {
			t.Fatalf("param %s missing", n)
		}
		amounts = append(amounts, v-0.01, v, v+0.01)
	}
	amounts = append(amounts, 0, 1, 1e12)
	for _, cert := range []CertificateSignals{{}, {Present: true, Expired: true}} {
		for _, ev := range []string{"login", "payment", "register"} {
			for _, amt := range amounts {
				s := Signals{Event: ev, Amount: amt, Certificate: cert, Device: DeviceSignals{Tier: "none", Findings: []string{}},
					Account: AccountSignals{NewDevice: true, DevicesDay: 1}}
				if ev != "payment" {
					s.Amount = 0
				}
				if got := p.Evaluate(&s); got.Outcome != StepUp {
					t.Errorf("%+v %s %v: %s %v, want step_up", cert, ev, s.Amount, got.Outcome, got.Reasons)
				}
			}
		}
	}
}

// TestEvaluationErrorFallsBack: a rule that fails at run time adds
// risk_policy_error and at least step_up, never allow; a deny that fires
// still wins.
func TestEvaluationErrorFallsBack(t *testing.T) {
	const head = "id: x\nversion: 1\nrules:\n"
	const broken = "- id: velocity_device\n  condition: signals.device.findings[3] == 'x'\n  outcome: warn\n"
	for _, tt := range []struct {
		name, rules string
		want        string
		reasons     []string
	}{
		{"error alone", broken, StepUp, []string{ErrorCode}},
		{"error and allow rule", broken + "- id: new_device\n  condition: 'true'\n  outcome: allow\n", StepUp, []string{ErrorCode, "new_device"}},
		{"error and deny rule", broken + "- id: merchant_phishing\n  condition: 'true'\n  outcome: deny\n", Deny, []string{"merchant_phishing", ErrorCode}},
		{"two errors", broken + "- id: velocity_account\n  condition: 1 / signals.velocity.account_payments_1h > 0\n  outcome: allow\n", StepUp, []string{ErrorCode}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load([]byte(head + tt.rules))
			if err != nil {
				t.Fatal(err)
			}
			got := p.Evaluate(&Signals{Event: "payment", Amount: 1})
			if got.Outcome != tt.want || !slices.Equal(got.Reasons, tt.reasons) {
				t.Errorf("got %s %v, want %s %v", got.Outcome, got.Reasons, tt.want, tt.reasons)
			}
			if len(got.Errors) == 0 {
				t.Error("no error reported")
			}
			// The person paying is told why: the error's catalog entry
			// is among the warnings.
			if !slices.Contains(got.Warnings, ErrorCode) {
				t.Errorf("warnings %v lack %s", got.Warnings, ErrorCode)
			}
			if _, ok := warning.Lookup(ErrorCode); !ok {
				t.Errorf("no catalog entry for %s", ErrorCode)
			}
		})
	}
}

// TestCatalogEntries: every rule of the default policy has a message, a
// title and at least one step in every language.
func TestCatalogEntries(t *testing.T) {
	for _, r := range Default().Rules() {
		w, ok := warning.Lookup(r.Warning)
		if !ok {
			t.Errorf("rule %s: no catalog entry %s", r.ID, r.Warning)
			continue
		}
		for _, lang := range warning.Languages {
			if w.Title[lang] == "" || w.Text[lang] == "" || len(w.Steps[lang]) == 0 || slices.Contains(w.Steps[lang], "") {
				t.Errorf("rule %s: catalog entry %s incomplete in %s", r.ID, r.Warning, lang)
			}
		}
	}
}
