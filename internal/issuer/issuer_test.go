package issuer_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/veraison/ear"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/token"
)

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func openDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newIssuer(t testing.TB, db *sqlite.DB, now func() time.Time) *issuer.Issuer {
	t.Helper()
	iss, err := issuer.New(context.Background(), db, issuer.Options{Issuer: "https://healthgate.example", Now: now,
		Rand: rand.NewChaCha8([32]byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func request(tier string) issuer.Request {
	return issuer.Request{
		DeviceID:    "dev-1",
		JKT:         "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Tier:        tier,
		TrustVector: map[string]int{"instance-identity": 2, "executables": 33},
		PolicyID:    "healthgate/default@1",
		Findings:    []string{"av.off"},
		Nonce:       "bm9uY2Utbm9uY2U",
	}
}

func TestLifetimesValidate(t *testing.T) {
	d := issuer.DefaultLifetimes()
	tests := []struct {
		name  string
		edit  func(l *issuer.Lifetimes)
		wants []string // substrings, one per problem; none: valid
	}{
		{name: "default", edit: func(*issuer.Lifetimes) {}},
		{name: "min not positive", edit: func(l *issuer.Lifetimes) { l.Min = 0 }, wants: []string{"minimum certificate lifetime must be positive"}},
		{name: "max below min", edit: func(l *issuer.Lifetimes) { l.Max = 30 * time.Second }, wants: []string{
			"maximum certificate lifetime is below the minimum", "affirming certificate lifetime", "warning certificate lifetime", "contraindicated certificate lifetime"}},
		{name: "affirming above max", edit: func(l *issuer.Lifetimes) { l.Affirming = 48 * time.Hour }, wants: []string{"affirming certificate lifetime 48h0m0s is outside"}},
		{name: "contraindicated below min", edit: func(l *issuer.Lifetimes) { l.Contraindicated = time.Second }, wants: []string{"contraindicated certificate lifetime 1s is outside"}},
		{name: "warning outlives healthy", edit: func(l *issuer.Lifetimes) { l.Warning = 5 * time.Hour }, wants: []string{"must not outlive a healthy one"}},
		{name: "contraindicated outlives warning", edit: func(l *issuer.Lifetimes) { l.Contraindicated = 2 * time.Hour }, wants: []string{"must not outlive a warning one"}},
		{name: "every problem at once", edit: func(l *issuer.Lifetimes) { l.Min, l.Warning, l.Affirming = 0, 30*time.Hour, 2*time.Hour }, wants: []string{
			"minimum certificate lifetime must be positive", "warning certificate lifetime", "must not outlive a healthy one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := d
			tt.edit(&l)
			err := l.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted invalid lifetimes")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate error %q does not report %q", err, want)
				}
			}
			if _, err := issuer.New(context.Background(), openDB(t), issuer.Options{Lifetimes: l}); err == nil {
				t.Error("New accepted invalid lifetimes")
			}
		})
	}
}

func TestTierLifetimes(t *testing.T) {
	iss := newIssuer(t, openDB(t), func() time.Time { return epoch })
	life := map[string]time.Duration{}
	for _, tier := range []string{token.TierAffirming, token.TierWarning, token.TierContraindicated, token.TierNone} {
		_, c, err := iss.Issue(request(tier))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.IssuedTime(), epoch; !got.Equal(want) {
			t.Errorf("%s: iat = %v, want %v", tier, got, want)
		}
		life[tier] = c.ExpiresAt().Sub(c.IssuedTime())
	}
	d := issuer.DefaultLifetimes()
	for tier, want := range map[string]time.Duration{token.TierAffirming: d.Affirming, token.TierWarning: d.Warning,
		token.TierContraindicated: d.Contraindicated, token.TierNone: d.Contraindicated} {
		if got := life[tier]; got != want {
			t.Errorf("%s certificate lives %v, want %v", tier, got, want)
		}
	}
	if !(life[token.TierContraindicated] < life[token.TierWarning] && life[token.TierWarning] < life[token.TierAffirming]) {
		t.Errorf("lifetimes %v: want contraindicated < warning < affirming", life)
	}
}

func TestPrepareRejects(t *testing.T) {
	iss := newIssuer(t, openDB(t), func() time.Time { return epoch })
	tests := []struct {
		name  string
		req   issuer.Request
		wants []string
	}{
		{name: "device id missing", req: func() issuer.Request { r := request(token.TierAffirming); r.DeviceID = ""; return r }(), wants: []string{"device id is missing"}},
		{name: "thumbprint missing", req: func() issuer.Request { r := request(token.TierAffirming); r.JKT = ""; return r }(), wants: []string{"device key thumbprint is missing"}},
		{name: "bad tier", req: func() issuer.Request { r := request("great"); return r }(), wants: []string{`tier "great" is not an AR4SI tier`}},
		{name: "unknown category", req: func() issuer.Request {
			r := request(token.TierAffirming)
			r.TrustVector = map[string]int{"vibes": 2}
			return r
		}(), wants: []string{`trust vector category "vibes" is unknown`}},
		{name: "value out of range", req: func() issuer.Request {
			r := request(token.TierAffirming)
			r.TrustVector = map[string]int{"executables": 200}
			return r
		}(), wants: []string{"trust vector executables value 200 out of range"}},
		{name: "nonce too short", req: func() issuer.Request { r := request(token.TierAffirming); r.Nonce = "abc"; return r }(), wants: []string{"nonce must be 8 to 88 characters"}},
		{name: "all problems reported", req: issuer.Request{Tier: "", TrustVector: map[string]int{"vibes": -200}, Nonce: strings.Repeat("n", 89)}, wants: []string{
			"device id is missing", "device key thumbprint is missing", `tier "" is not an AR4SI tier`,
			`trust vector category "vibes" is unknown`, "value -200 out of range", "nonce must be 8 to 88 characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Prepare(tt.req)
			if err == nil {
				t.Fatalf("Prepare accepted %+v", tt.req)
			}
			if c != nil {
				t.Error("Prepare returned claims with an error")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not report %q", err, want)
				}
			}
			if tok, _, err := iss.Issue(tt.req); err == nil || tok != nil {
				t.Errorf("Issue = %q, %v: want no token and an error", tok, err)
			}
		})
	}
}

func TestKeyPersisted(t *testing.T) {
	db := openDB(t)
	first := newIssuer(t, db, time.Now)
	second, err := issuer.New(context.Background(), db, issuer.Options{}) // other randomness: must not matter
	if err != nil {
		t.Fatal(err)
	}
	if got, want := second.KeyIDs(), first.KeyIDs(); !slices.Equal(got, want) || len(got) != 1 {
		t.Fatalf("kids after reopening = %v, want %v", got, want)
	}
	if got, want := string(second.JWKS()), string(first.JWKS()); got != want {
		t.Errorf("JWKS after reopening = %s, want %s", got, want)
	}
	tok, _, err := first.Issue(request(token.TierAffirming))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.ParseJWKS(second.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Verify(context.Background(), tok, keys); err != nil {
		t.Errorf("certificate of the first issuer does not verify with the second's JWKS: %v", err)
	}
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: epoch}
	iss := newIssuer(t, db, clk.Now)
	oldKID := iss.KeyIDs()[0]
	oldTok, _, err := iss.Issue(request(token.TierAffirming))
	if err != nil {
		t.Fatal(err)
	}
	clk.t = epoch.Add(time.Hour)
	if err := iss.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// The new key signs, and the old one retires, once the new one has
	// been published for issuer.Prepublish.
	retired := clk.t.Add(issuer.Prepublish)
	clk.t = retired
	newTok, _, err := iss.Issue(request(token.TierAffirming))
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, newTok) == oldKID {
		t.Fatal("the retired key still signs")
	}
	max := issuer.DefaultLifetimes().Max + issuer.RetireGrace

	steps := []struct {
		name     string
		at       time.Time
		reopen   bool
		wantKIDs int
		wantOld  bool // old kid still published
	}{
		{name: "after rotation", at: retired, wantKIDs: 2, wantOld: true},
		{name: "reopened", at: retired.Add(time.Minute), reopen: true, wantKIDs: 2, wantOld: true},
		{name: "just before retired+max+grace", at: retired.Add(max - time.Second), wantKIDs: 2, wantOld: true},
		{name: "after retired+max+grace", at: retired.Add(max + time.Second), wantKIDs: 1},
		{name: "reopened after", at: retired.Add(max + time.Minute), reopen: true, wantKIDs: 1},
	}
	for _, st := range steps {
		clk.t = st.at
		if st.reopen {
			iss = newIssuer(t, db, clk.Now)
		} else if err := iss.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		kids := iss.KeyIDs()
		if got, want := len(kids), st.wantKIDs; got != want {
			t.Fatalf("%s: %d keys published (%v), want %d", st.name, got, kids, want)
		}
		if got, want := slices.Contains(kids, oldKID), st.wantOld; got != want {
			t.Fatalf("%s: old key published = %v, want %v", st.name, got, want)
		}
		keys, err := token.ParseJWKS(iss.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		// The old certificate expired long ago in these steps; check signatures
		// with a clock at its issue time.
		at := token.WithNow(func() time.Time { return epoch.Add(time.Minute) })
		if _, err := token.Verify(ctx, oldTok, keys, at); (err == nil) != st.wantOld {
			t.Errorf("%s: old certificate verify error = %v, want success %v", st.name, err, st.wantOld)
		}
		if _, err := token.Verify(ctx, newTok, keys, token.WithNow(func() time.Time { return retired })); err != nil {
			t.Errorf("%s: new certificate: %v", st.name, err)
		}
	}
	tok, c, err := iss.Issue(request(token.TierAffirming))
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, tok) == oldKID || c == nil {
		t.Error("a certificate was signed with the retired key")
	}
}

// TestEARAccepts checks every certificate the issuer mints against the EAR
// reference implementation, github.com/veraison/ear, with the key from the
// issuer's JWKS and the algorithm pinned.
func TestEARAccepts(t *testing.T) {
	iss := newIssuer(t, openDB(t), time.Now)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	key, err := jwk.ParseKey(set.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range []string{token.TierAffirming, token.TierWarning, token.TierContraindicated, token.TierNone} {
		for name, edit := range map[string]func(r *issuer.Request){
			"full":    func(*issuer.Request) {},
			"minimal": func(r *issuer.Request) { r.TrustVector, r.PolicyID, r.Findings, r.Nonce = nil, "", nil, "" },
		} {
			t.Run(tier+"/"+name, func(t *testing.T) {
				r := request(tier)
				edit(&r)
				tok, c, err := iss.Issue(r)
				if err != nil {
					t.Fatal(err)
				}
				var ar ear.AttestationResult
				if err := ar.Verify(tok, jwa.EdDSA(), key); err != nil {
					t.Fatalf("ear rejects the certificate: %v", err)
				}
				if got, want := ar.Submods[token.Submod].Status.String(), tier; got != want {
					t.Errorf("ear status = %q, want %q", got, want)
				}
				if got, want := *ar.IssuedAt, c.IssuedAt; got != want {
					t.Errorf("ear iat = %d, want %d", got, want)
				}
				if got, want := *ar.Profile, token.Profile; got != want {
					t.Errorf("ear profile = %q, want %q", got, want)
				}
			})
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	iss := newIssuer(b, openDB(b), time.Now)
	r := request(token.TierAffirming)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue(r); err != nil {
			b.Fatal(err)
		}
	}
}
