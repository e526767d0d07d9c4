package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/token"
)

// rule returns a valid rule in YAML, indented for the rules list, with extra
// lines appended (new keys only: YAML rejects a repeated key).
func rule(id, condition string, extra ...string) string {
	lines := []string{
		"  - id: " + id,
		"    condition: " + strconv.Quote(condition),
		"    category: configuration",
		"    tier: warning",
		"    title: {zh-CN: 标题, en: Title}",
		"    remediation: {zh-CN: 修复, en: Fix}",
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

const header = "id: test/policy\nversion: 3\nlists: {tools: [anydesk], empty: []}\nparams: {max_age: 24h}\nrules:\n"

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown top-level key", header + rule("a", "false") + "extra: 1\n", []string{"field extra not found"}},
		{"unknown rule key", header + rule("a", "false", "    severity: high"), []string{"field severity not found"}},
		{"bad cel", header + rule("a", "has(facts.firewall) &&"), []string{"rule a: condition:", "Syntax error"}},
		{"non-bool condition", header + rule("a", "size(facts.unknown)"), []string{"rule a: condition has type int, want bool"}},
		{"unknown field", header + rule("a", "has(facts.firewall) && facts.firewall.on"), []string{"undefined field 'on'"}},
		{"unknown list", header + rule("a", "'x' in lists.nope"), []string{"rule a: condition:", "undeclared reference to 'lists'"}},
		{"unknown category", header + strings.Replace(rule("a", "false"), "configuration", "network", 1), []string{`category "network" is not one of`}},
		{"unknown tier", header + strings.Replace(rule("a", "false"), "tier: warning", "tier: severe", 1), []string{`tier "severe" must be warning or contraindicated`}},
		{"affirming tier", header + strings.Replace(rule("a", "false"), "tier: warning", "tier: affirming", 1), []string{`tier "affirming"`}},
		{"missing zh-CN title", header + strings.Replace(rule("a", "false"), "zh-CN: 标题, ", "", 1), []string{"rule a: title in zh-CN is missing"}},
		{"missing en remediation", header + strings.Replace(rule("a", "false"), ", en: Fix", "", 1), []string{"rule a: remediation in en is missing"}},
		{"duplicate id", header + rule("a", "false") + rule("a", "false"), []string{"rule a: duplicate id"}},
		{"bad id", header + rule("Firewall-Off", "false"), []string{`id "Firewall-Off" must be`}},
		{"reserved id", header + rule(ErrorCode, "false"), []string{"is reserved"}},
		{"missing condition", header + rule("a", ""), []string{"rule a: condition is missing"}},
		{"penalty out of range", header + rule("a", "false", "    penalty: 101"), []string{"penalty 101 is not between 0 and 100"}},
		{"unguarded rule fires on missing facts", header + rule("a", "!facts.firewall.enabled"), []string{"condition is true when facts are missing (guard it with has())"}},
		{"unguarded rule fails on missing facts", header + rule("a", "facts.dns.servers[0] == '1.1.1.1'"), []string{"condition fails when facts are missing"}},
		{"bad duration", strings.Replace(header, "24h", "1 day", 1) + rule("a", "false"), []string{`params.max_age: "1 day" is not a duration`}},
		{"bad list name", strings.Replace(header, "tools:", "Tools:", 1) + rule("a", "false"), []string{`lists: "Tools" is not a valid name`}},
		{"missing id and version", "rules:\n" + rule("a", "false"), []string{"id is missing", "version must be 1 or more"}},
		{"no rules", "id: x\nversion: 1\n", []string{"no rules"}},
		{"two documents", header + rule("a", "false") + "---\nid: y\n", []string{"more than one YAML document"}},
		{"not yaml", "rules: [", []string{"decoding policy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	y := header +
		rule("bad_cel", "has(facts.firewall) &&") +
		rule("not_bool", "'yes'") +
		strings.Replace(rule("bad_category", "false"), "configuration", "network", 1) +
		strings.Replace(rule("no_text", "false"), "zh-CN: 修复, ", "", 1) +
		rule("dup", "false") + rule("dup", "false")
	_, err := Load([]byte(y))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	for _, want := range []string{
		"rule bad_cel: condition",
		"rule not_bool: condition has type string",
		"rule bad_category: category",
		"rule no_text: remediation in zh-CN is missing",
		"rule dup: duplicate id",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T does not list its problems", err)
	}
	if got, want := len(joined.Unwrap()), 5; got != want {
		t.Errorf("error has %d problems, want %d:\n%v", got, want, err)
	}
}

func TestLoadFile(t *testing.T) {
	p, err := LoadFile("testdata/custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.ID(), "example-bank/desktop@2"; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
	tests := []struct {
		name      string
		in        Input
		wantTier  string
		wantCodes string
		wantScore int
	}{
		{"healthy", Input{Platform: "windows", Facts: evidence.Facts{Firewall: &evidence.FirewallFacts{Enabled: true}}}, token.TierAffirming, "", 100},
		{"firewall off uses custom penalty", Input{Platform: "windows", Facts: evidence.Facts{Firewall: &evidence.FirewallFacts{}}}, token.TierWarning, "firewall_off", 70},
		{"platform not supported", Input{Platform: "android"}, token.TierWarning, "platform_unsupported", 90},
		{"screen sharing tool from a custom list", Input{Platform: "darwin", Facts: evidence.Facts{
			Processes: &evidence.ProcessFacts{Running: []evidence.Process{{Name: "Zoom.us"}}},
		}}, token.TierContraindicated, "screen_sharing", 55},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(tt.in)
			if got, want := got.Tier, tt.wantTier; got != want {
				t.Errorf("tier = %q, want %q", got, want)
			}
			if got, want := strings.Join(codes(got.Findings), ","), tt.wantCodes; got != want {
				t.Errorf("findings = %q, want %q", got, want)
			}
			if got, want := got.Score, tt.wantScore; got != want {
				t.Errorf("score = %d, want %d", got, want)
			}
			if got, want := got.PolicyID, "example-bank/desktop@2"; got != want {
				t.Errorf("policy id = %q, want %q", got, want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(header+rule("a", "1")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadFile(bad) = %v, want an error naming the file", err)
	}
}

func TestDefault(t *testing.T) {
	p := Default()
	if got, want := p.ID(), "healthgate/default@3"; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
	if Default() != p {
		t.Error("Default() compiled the policy twice")
	}
	want := []string{
		"antivirus_absent", "antivirus_off", "antivirus_signatures_stale", "firewall_off",
		"os_updates_stale", "hosts_payment_hijack", "dns_rogue", "proxy_unexpected",
		"rogue_root_ca", "remote_control_tool", "known_malware",
	}
	byID := map[string]Rule{}
	for _, r := range p.Rules() {
		byID[r.ID] = r
	}
	for _, id := range want {
		if _, ok := byID[id]; !ok {
			t.Errorf("default policy has no rule %s", id)
		}
	}
	// Every finding the default policy can give, policy_error included,
	// carries text long enough to help a user.
	texts := map[string][2]map[string]string{ErrorCode: {errorTitle, errorRemediation}}
	for _, r := range p.Rules() {
		texts[r.ID] = [2]map[string]string{r.Title, r.Remediation}
	}
	for id, tr := range texts {
		for _, lang := range Languages {
			if len(tr[0][lang]) < 10 || len(tr[1][lang]) < 80 {
				t.Errorf("rule %s: %s text is too short to help a user", id, lang)
			}
		}
	}
	// The YAML round-trips through Load: DefaultYAML is what Default runs.
	q, err := Load(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(q.Rules()), len(p.Rules()); got != want {
		t.Errorf("Load(DefaultYAML()) has %d rules, want %d", got, want)
	}
}

// TestAnyToolInAgreesWithRunsTool: the policy's indexed matcher and
// evidence.RunsTool, which the agent uses, decide alike.
func TestAnyToolInAgreesWithRunsTool(t *testing.T) {
	tools := []string{"todesk", "teamviewer", "x", "vnc", "anydesk", "x11vnc"}
	set := newStringSet(tools)
	names := []string{"ToDesk.exe", "AutodeskDesktopApp.exe", "TEAMVIEWER", "com.teamviewer.x", "mytoolx", "x", "Xvnc",
		"tightvnc-server", "/usr/bin/x11vnc", "ANYDESK", "", "a.b", "vncviewer", "todes", "tode-sk"}
	for _, name := range names {
		want := slices.ContainsFunc(tools, func(tool string) bool { return evidence.RunsTool(name, tool) })
		if got := set.anyToolIn(lowerASCII(name)); got != want {
			t.Errorf("%q: anyToolIn = %v, RunsTool = %v", name, got, want)
		}
	}
}

// TestDefaultRemediationNamesPlatforms: a finding's fix gives steps for every
// system whose agent reports the facts that fire it (docs/FACTS.md), so a
// Linux user told "no antivirus" or "firewall off" is not left with only
// Windows and Mac steps.
func TestDefaultRemediationNamesPlatforms(t *testing.T) {
	const win, mac, linux = "Windows", "Mac", "Linux"
	want := map[string][]string{
		"antivirus_absent":           {win, linux},
		"antivirus_off":              {win, linux},
		"antivirus_signatures_stale": {win, linux},
		"firewall_off":               {win, mac, linux},
		"os_updates_stale":           {win, mac, linux},
		"hosts_payment_hijack":       {win, mac, linux},
		"dns_rogue":                  {win, mac, linux},
		"proxy_unexpected":           {win, mac, linux},
		"proxy_rogue":                {win, mac, linux},
		"rogue_root_ca":              {win, mac, linux},
		"disk_encryption_off":        {win, mac, linux},
	}
	for _, r := range Default().Rules() {
		systems, ok := want[r.ID]
		if !ok {
			continue // steps that do not depend on the system
		}
		for _, lang := range Languages {
			for _, sys := range systems {
				if !strings.Contains(r.Remediation[lang], sys) {
					t.Errorf("rule %s: %s remediation has no steps for %s", r.ID, lang, sys)
				}
			}
		}
	}
}
