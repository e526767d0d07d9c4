package policy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// vector is one entry of testdata/vectors.json: a report and the appraisal
// the default policy must give it. Score and trust_vector are checked when
// present; trust_vector lists only the categories the vector cares about.
type vector struct {
	Name        string             `json:"name"`
	Description string             `json:"description,omitempty"`
	Platform    string             `json:"platform"`
	Now         time.Time          `json:"now"`
	HardwareKey bool               `json:"hardware_key,omitempty"`
	Facts       evidence.Facts     `json:"facts"`
	Findings    []evidence.Finding `json:"findings,omitempty"`
	Want        struct {
		Tier        string         `json:"tier"`
		Findings    []string       `json:"findings"`
		Score       *int           `json:"score,omitempty"`
		TrustVector map[string]int `json:"trust_vector,omitempty"`
	} `json:"want"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("decoding vectors: %v", err)
	}
	return vs
}

func (v *vector) input() Input {
	return Input{Facts: v.Facts, Findings: v.Findings, Platform: v.Platform, Now: v.Now, HardwareKey: v.HardwareKey}
}

func TestVectors(t *testing.T) {
	p := Default()
	vs := loadVectors(t)
	fired := map[string]bool{}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			got := p.Evaluate(v.input())
			if got, want := got.Tier, v.Want.Tier; got != want {
				t.Errorf("tier = %q, want %q", got, want)
			}
			if got, want := codes(got.Findings), v.Want.Findings; !slices.Equal(got, want) {
				t.Errorf("findings = %q, want %q", got, want)
			}
			if v.Want.Score != nil {
				if got, want := got.Score, *v.Want.Score; got != want {
					t.Errorf("score = %d, want %d", got, want)
				}
			}
			for cat, want := range v.Want.TrustVector {
				if got := got.TrustVector[cat]; got != want {
					t.Errorf("trust vector %s = %d, want %d", cat, got, want)
				}
			}
			if len(got.Errors) > 0 {
				t.Errorf("rule errors: %v", got.Errors)
			}
			for _, c := range codes(got.Findings) {
				fired[c] = true
			}
		})
	}
	// Every rule of the default policy must be exercised by some vector.
	for _, r := range p.Rules() {
		if !fired[r.ID] {
			t.Errorf("no vector fires rule %s", r.ID)
		}
	}
}

func codes(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

// TestBadExtensionsList checks browser_extension_malicious on the policy's
// own list, which the default policy ships empty (the feed carries the
// current set): a listed extension is malicious, and not also "risky".
func TestBadExtensionsList(t *testing.T) {
	const id = "kdjgfbmlpnhcdkjbmfpgialkdjpnkhoe"
	src := string(DefaultYAML())
	custom := strings.Replace(src, "  bad_extensions: []\n", "  bad_extensions:\n    - "+id+"\n", 1)
	if custom == src {
		t.Fatal("default.yaml has no empty bad_extensions list to extend")
	}
	p, err := Load([]byte(custom))
	if err != nil {
		t.Fatal(err)
	}
	ext := func(id string) evidence.BrowserExtension {
		return evidence.BrowserExtension{Browser: "chrome", ID: id, Name: "PDF Converter Pro", Permissions: []string{"<all_urls>", "cookies"}}
	}
	tests := []struct {
		name string
		exts []evidence.BrowserExtension
		want []string
	}{
		{"listed", []evidence.BrowserExtension{ext(id)}, []string{"browser_extension_malicious"}},
		{"listed and unknown", []evidence.BrowserExtension{ext(id), ext("aaaabbbbccccddddeeeeffffgggghhhh")}, []string{"browser_extension_malicious", "browser_extension_risky"}},
		{"not listed", []evidence.BrowserExtension{ext("aaaabbbbccccddddeeeeffffgggghhhh")}, []string{"browser_extension_risky"}},
		{"none", []evidence.BrowserExtension{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(Input{Platform: "linux", Now: benchNow, Facts: evidence.Facts{Browsers: &evidence.BrowserFacts{Extensions: tt.exts}}})
			if got, want := codes(got.Findings), tt.want; !slices.Equal(got, want) {
				t.Errorf("findings = %q, want %q", got, want)
			}
		})
	}
}
