package policy

import (
	"cmp"
	"slices"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/token"
)

// ErrorCode is the finding code of a rule whose condition failed at run time.
const ErrorCode = "policy_error"

// Input is one verified report to appraise.
type Input struct {
	Facts    evidence.Facts
	Findings []evidence.Finding // what the agent matched locally
	Platform string
	Now      time.Time // the appraisal time; zero means time.Now()
	// HardwareKey is true when the device key is hardware-bound (TPM,
	// Secure Enclave) and the report is bound to that hardware (for a TPM,
	// by a verified quote); it sets the hardware claim to affirming.
	HardwareKey bool
}

// Result is the appraisal of one report.
type Result struct {
	Tier        string         // worst tier of the fired rules; affirming when none fired
	Score       int            // 0..100: 100 minus the fired rules' penalties, floor 0
	TrustVector map[string]int // EAR trust vector, by category
	Findings    []Finding      // fired rules, worst tier first, then by code
	PolicyID    string
	// Errors lists rules whose condition failed at run time. Each also
	// appears in Findings with code ErrorCode; see Evaluate.
	Errors []RuleError
}

// Finding is one fired rule, with the text to show the user.
type Finding struct {
	Code        string // the rule id
	Category    string
	Tier        string
	Title       map[string]string
	Remediation map[string]string
}

// RuleError is a rule whose condition failed at run time.
type RuleError struct {
	Rule string
	Err  string
}

func (e RuleError) Error() string { return "rule " + e.Rule + ": " + e.Err }

// errorText is the user-facing text of an ErrorCode finding.
var (
	errorTitle = map[string]string{
		"zh-CN": "有一项安全检查没能完成",
		"en":    "One safety check could not be completed",
	}
	errorRemediation = map[string]string{
		"zh-CN": "这不是您的设备出了问题，而是我们的检查程序出错了。请稍后再试一次；如果一直出现，请把健康助手更新到最新版本。",
		"en":    "This is not a problem with your device but an error in our checking program. Please try again later; if it keeps happening, update the Healthgate agent to the latest version.",
	}
)

// Evaluate appraises one report. It never fails: a rule whose condition
// fails at run time (which Load makes rare by rejecting unguarded rules) is
// not treated as passing. It is listed in Result.Errors, adds a warning
// finding with code ErrorCode (no score penalty), and its category gets no
// trust-vector claim unless a fired rule already lowered it.
func (p *Policy) Evaluate(in Input) Result {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	act := newActivation(p.adapter, &in.Facts, in.Findings, in.Platform, now)

	res := Result{
		Tier:     token.TierAffirming,
		Score:    100,
		PolicyID: p.ID(),
	}
	var fired, failed map[string]int // category -> worst claim / error seen
	for i := range p.rules {
		r := &p.rules[i]
		out, _, err := r.prg.Eval(act)
		if err == nil && out != types.True && out != types.False {
			err = errNotBool
		}
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: r.ID, Err: err.Error()})
			if failed == nil {
				failed = map[string]int{}
			}
			failed[r.Category]++
			continue
		}
		if out != types.True {
			continue
		}
		res.Findings = append(res.Findings, Finding{
			Code: r.ID, Category: r.Category, Tier: r.Tier,
			Title: r.Title, Remediation: r.Remediation,
		})
		res.Score -= r.Penalty
		if fired == nil {
			fired = map[string]int{}
		}
		fired[r.Category] = max(fired[r.Category], claimOf(r.Tier))
	}
	for _, e := range res.Errors {
		if !slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Code == ErrorCode }) {
			res.Findings = append(res.Findings, Finding{
				Code: ErrorCode, Category: p.categoryOf(e.Rule), Tier: token.TierWarning,
				Title: errorTitle, Remediation: errorRemediation,
			})
		}
	}
	res.Score = max(res.Score, 0)
	slices.SortFunc(res.Findings, func(a, b Finding) int {
		if c := cmp.Compare(claimOf(b.Tier), claimOf(a.Tier)); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	if len(res.Findings) > 0 {
		res.Tier = res.Findings[0].Tier
	}
	res.TrustVector = p.trustVector(&in, fired, failed)
	return res
}

// trustVector derives the EAR trust vector:
//
//   - instance-identity is affirming: only verified evidence is appraised;
//   - hardware is affirming when the device key is hardware-bound and the
//     report bound to it (Input.HardwareKey);
//   - a category where rules fired takes the worst fired tier's claim;
//   - otherwise a category the policy has rules for is affirming when every
//     fact group those rules read was reported and none of them failed;
//   - everything else carries no claim (0).
func (p *Policy) trustVector(in *Input, fired, failed map[string]int) map[string]int {
	tv := make(map[string]int, len(Categories))
	tv["instance-identity"] = ClaimAffirming
	if in.HardwareKey {
		tv["hardware"] = ClaimAffirming
	}
	for cat, groups := range p.groups {
		if cat == "instance-identity" || cat == "hardware" {
			continue // fixed by verification, not by facts
		}
		if failed[cat] == 0 && allPresent(&in.Facts, groups) {
			tv[cat] = ClaimAffirming
		}
	}
	for cat, claim := range fired {
		tv[cat] = claim
	}
	for _, cat := range Categories {
		if _, ok := tv[cat]; !ok {
			tv[cat] = ClaimNone
		}
	}
	return tv
}

func (p *Policy) categoryOf(id string) string {
	for _, r := range p.rules {
		if r.ID == id {
			return r.Category
		}
	}
	return ""
}

func claimOf(tier string) int {
	switch tier {
	case token.TierAffirming:
		return ClaimAffirming
	case token.TierWarning:
		return ClaimWarning
	case token.TierContraindicated:
		return ClaimContraindicated
	}
	return ClaimNone
}

// allPresent reports whether every named fact group was reported.
func allPresent(f *evidence.Facts, groups []string) bool {
	for _, g := range groups {
		if !present(f, g) {
			return false
		}
	}
	return true
}

func present(f *evidence.Facts, group string) bool {
	switch group {
	case "os":
		return f.OS != nil
	case "firewall":
		return f.Firewall != nil
	case "antivirus":
		return f.Antivirus != nil
	case "hosts":
		return f.Hosts != nil
	case "dns":
		return f.DNS != nil
	case "proxy":
		return f.Proxy != nil
	case "trust_store":
		return f.TrustStore != nil
	case "processes":
		return f.Processes != nil
	case "disk_encryption":
		return f.DiskEncryption != nil
	case "secure_boot":
		return f.SecureBoot != nil
	case "screen_lock":
		return f.ScreenLock != nil
	case "platform_security":
		return f.PlatformSecurity != nil
	case "browsers":
		return f.Browsers != nil
	case "virtualization":
		return f.Virtualization != nil
	}
	return false // a group this package does not know yet: claim nothing
}

// activation resolves the CEL variables without building a map per report.
// Facts and findings are adapted to CEL values once per report rather than
// once per rule.
type activation struct {
	facts    ref.Val
	findings ref.Val
	platform types.String
	now      types.Timestamp
}

func newActivation(adapter types.Adapter, facts *evidence.Facts, findings []evidence.Finding, platform string, now time.Time) *activation {
	if findings == nil {
		findings = []evidence.Finding{}
	}
	return &activation{
		facts:    adapter.NativeToValue(facts),
		findings: types.NewList(adapter, findings),
		platform: types.String(platform),
		now:      types.Timestamp{Time: now},
	}
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "facts":
		return a.facts, true
	case "findings":
		return a.findings, true
	case "platform":
		return a.platform, true
	case "now":
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

var errNotBool = notBoolError{}

type notBoolError struct{}

func (notBoolError) Error() string { return "condition did not return a bool" }
