package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/token"
)

func mustLoad(t testing.TB, y string) *Policy {
	t.Helper()
	p, err := Load([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A rule that fails at run time must not pass silently: it is reported in
// Errors, adds a warning finding with ErrorCode, costs no score, and its
// category gets no claim.
func TestEvaluateRuntimeError(t *testing.T) {
	p := mustLoad(t, header+
		rule("first_dns_is_cloudflare", "has(facts.dns) && facts.dns.servers[0] == '1.1.1.1'")+
		rule("firewall_off", "has(facts.firewall) && !facts.firewall.enabled"))

	tests := []struct {
		name       string
		facts      evidence.Facts
		wantTier   string
		wantCodes  []string
		wantErrors int
		wantConfig int
	}{
		{"group absent: not fired, no error", evidence.Facts{}, token.TierAffirming, []string{}, 0, ClaimNone},
		{"group present: evaluates", evidence.Facts{DNS: &evidence.DNSFacts{Servers: []string{"8.8.8.8"}}, Firewall: &evidence.FirewallFacts{Enabled: true}}, token.TierAffirming, []string{}, 0, ClaimAffirming},
		{"index out of range: recorded", evidence.Facts{DNS: &evidence.DNSFacts{Servers: []string{}}, Firewall: &evidence.FirewallFacts{Enabled: true}}, token.TierWarning, []string{ErrorCode}, 1, ClaimNone},
		{"error next to a fired rule", evidence.Facts{DNS: &evidence.DNSFacts{}, Firewall: &evidence.FirewallFacts{}}, token.TierWarning, []string{"firewall_off", ErrorCode}, 1, ClaimWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(Input{Facts: tt.facts})
			if got, want := got.Tier, tt.wantTier; got != want {
				t.Errorf("tier = %q, want %q", got, want)
			}
			if got, want := codes(got.Findings), tt.wantCodes; !slices.Equal(got, want) {
				t.Errorf("findings = %q, want %q", got, want)
			}
			if got, want := len(got.Errors), tt.wantErrors; got != want {
				t.Errorf("%d errors, want %d: %v", got, want, got)
			}
			for _, e := range got.Errors {
				if got, want := e.Rule, "first_dns_is_cloudflare"; got != want {
					t.Errorf("error names rule %q, want %q", got, want)
				}
				if !strings.Contains(e.Error(), "index") {
					t.Errorf("error %q does not say what failed", e.Error())
				}
			}
			if got, want := got.TrustVector["configuration"], tt.wantConfig; got != want {
				t.Errorf("configuration claim = %d, want %d", got, want)
			}
			if tt.wantErrors > 0 {
				f := got.Findings[len(got.Findings)-1]
				if f.Title["zh-CN"] == "" || f.Remediation["en"] == "" {
					t.Errorf("%s finding has no user text", ErrorCode)
				}
			}
		})
	}
}

func TestEvaluateScore(t *testing.T) {
	p := mustLoad(t, header+
		rule("w1", "has(facts.firewall)")+
		rule("w2", "has(facts.firewall)")+
		strings.Replace(rule("c1", "has(facts.os)"), "tier: warning", "tier: contraindicated", 1)+
		strings.Replace(rule("c2", "has(facts.os)"), "tier: warning", "tier: contraindicated", 1)+
		rule("free", "has(facts.dns)", "    penalty: 0")+
		rule("custom", "has(facts.proxy)", "    penalty: 7"))
	tests := []struct {
		name  string
		facts evidence.Facts
		want  int
	}{
		{"nothing fired", evidence.Facts{}, 100},
		{"two warnings", evidence.Facts{Firewall: &evidence.FirewallFacts{}}, 100 - 2*PenaltyWarning},
		{"two contraindicated", evidence.Facts{OS: &evidence.OSFacts{}}, 100 - 2*PenaltyContraindicated},
		{"floor at zero", evidence.Facts{Firewall: &evidence.FirewallFacts{}, OS: &evidence.OSFacts{}}, 0},
		{"zero penalty", evidence.Facts{DNS: &evidence.DNSFacts{}}, 100},
		{"custom penalty", evidence.Facts{Proxy: &evidence.ProxyFacts{}}, 93},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(Input{Facts: tt.facts})
			if got, want := got.Score, tt.want; got != want {
				t.Errorf("score = %d, want %d", got, want)
			}
			if got.Score < 0 || got.Score > 100 {
				t.Errorf("score %d is out of 0..100", got.Score)
			}
		})
	}
}

// Every vector's score stays within bounds and the findings are sorted
// worst tier first, then by code.
func TestEvaluateInvariants(t *testing.T) {
	p := Default()
	for _, v := range loadVectors(t) {
		got := p.Evaluate(v.input())
		if got.Score < 0 || got.Score > 100 {
			t.Errorf("%s: score %d is out of 0..100", v.Name, got.Score)
		}
		if !slices.IsSortedFunc(got.Findings, func(a, b Finding) int {
			if c := claimOf(b.Tier) - claimOf(a.Tier); c != 0 {
				return c
			}
			return strings.Compare(a.Code, b.Code)
		}) {
			t.Errorf("%s: findings are not in order: %q", v.Name, codes(got.Findings))
		}
		if got, want := len(got.TrustVector), len(Categories); got != want {
			t.Errorf("%s: trust vector has %d categories, want %d", v.Name, got, want)
		}
		if got, want := got.TrustVector["instance-identity"], ClaimAffirming; got != want {
			t.Errorf("%s: instance-identity = %d, want %d", v.Name, got, want)
		}
	}
}

func TestEvaluateNowDefaultsToClock(t *testing.T) {
	old := time.Now().Add(-365 * 24 * time.Hour)
	got := Default().Evaluate(Input{Facts: evidence.Facts{OS: &evidence.OSFacts{Name: "windows", LastUpdate: &old}}})
	if got, want := codes(got.Findings), []string{"os_updates_stale"}; !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
}

// Run with -race: one Policy serves many goroutines.
func TestEvaluateConcurrent(t *testing.T) {
	p := Default()
	vs := loadVectors(t)
	want := make([]string, len(vs))
	for i, v := range vs {
		want[i] = summary(p.Evaluate(v.input()))
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(vs)*8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 20 {
				i := (g*7 + n) % len(vs)
				if got := summary(p.Evaluate(vs[i].input())); got != want[i] {
					errs <- fmt.Sprintf("%s: got %s, want %s", vs[i].Name, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func summary(r Result) string {
	return fmt.Sprintf("%s/%d/%v/%v", r.Tier, r.Score, codes(r.Findings), r.TrustVector)
}

func TestFunctions(t *testing.T) {
	p := mustLoad(t, "id: f\nversion: 1\n"+
		"lists: {domains: [alipay.com, Pay.Example.], nets: [10.0.0.0/8, 192.0.2.7, '2001:db8::/32', not-an-ip], tools: [teamviewer, q]}\n"+
		"rules:\n"+
		rule("in_domains", "platform != '' && platform.inDomains(lists.domains)")+
		rule("in_networks", "platform != '' && platform.inNetworks(lists.nets)")+
		rule("is_loopback", "platform != '' && platform.isLoopback()")+
		rule("contains_any", "platform != '' && platform.containsAny(lists.tools)")+
		rule("literal_list", "platform != '' && platform.inDomains(['literal.example'])"))
	tests := []struct {
		in   string
		want []string
	}{
		{"alipay.com", []string{"in_domains"}},
		{"m.ALIPAY.com.", []string{"in_domains"}},
		{"alipay.com.evil.example", []string{}},
		{"pay.example", []string{"in_domains"}},
		{"shop.literal.example", []string{"literal_list"}},
		{"10.1.2.3", []string{"in_networks"}},
		{"192.0.2.7:53", []string{"in_networks"}},
		{"192.0.2.8", []string{}},
		{"2001:db8::53", []string{"in_networks"}},
		{"::ffff:10.0.0.1", []string{"in_networks"}},
		{"127.0.0.1", []string{"is_loopback"}},
		{"127.0.0.1:7890", []string{"is_loopback"}},
		{"http://localhost:8080/proxy.pac", []string{"is_loopback"}},
		{"socks5://[::1]:1080", []string{"is_loopback"}},
		{"::1", []string{"is_loopback"}},
		{"app.localhost", []string{"is_loopback"}},
		{"file:///etc/proxy.pac", []string{}},
		{"http://127.0.0.1.evil.example/", []string{}},
		{"teamviewer_service", []string{"contains_any"}},
		{"qq.exe", []string{"contains_any"}}, // entries shorter than two bytes
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := p.Evaluate(Input{Platform: tt.in})
			if got, want := codes(got.Findings), tt.want; !slices.Equal(sorted(got), want) {
				t.Errorf("fired %q, want %q", got, want)
			}
			if len(got.Errors) > 0 {
				t.Errorf("errors: %v", got.Errors)
			}
		})
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func TestProcessAndHostHelpers(t *testing.T) {
	p := mustLoad(t, "id: h\nversion: 1\nlists: {tools: [anydesk, todesk], hashes: [aa], domains: [alipay.com]}\nrules:\n"+
		rule("names", "has(facts.processes) && facts.processes.running.anyNameContains(lists.tools)")+
		rule("hashes", "has(facts.processes) && facts.processes.running.anyHashIn(lists.hashes)")+
		rule("hosts", "has(facts.hosts) && facts.hosts.entries.anyHostInDomains(lists.domains)"))
	proc := func(ps ...evidence.Process) evidence.Facts {
		return evidence.Facts{Processes: &evidence.ProcessFacts{Running: ps}}
	}
	tests := []struct {
		name  string
		facts evidence.Facts
		want  []string
	}{
		{"no processes", proc(), []string{}},
		{"upper-case name", proc(evidence.Process{Name: "AnyDesk.exe"}), []string{"names"}},
		{"name at the end", proc(evidence.Process{Name: "svc-todesk"}), []string{"names"}},
		{"near miss", proc(evidence.Process{Name: "anydes"}, evidence.Process{Name: "todes"}), []string{}},
		{"hash", proc(evidence.Process{Name: "a", SHA256: "aa"}), []string{"hashes"}},
		{"empty hash never matches", proc(evidence.Process{Name: "a"}), []string{}},
		{"payment host", evidence.Facts{Hosts: &evidence.HostsFacts{Entries: []evidence.HostEntry{{Host: "x.alipay.com", IP: "1.2.3.4"}}}}, []string{"hosts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(Input{Facts: tt.facts})
			if got, want := codes(got.Findings), tt.want; !slices.Equal(sorted(got), want) {
				t.Errorf("fired %q, want %q", got, want)
			}
		})
	}
}
