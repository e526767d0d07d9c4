package risk

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"gopkg.in/yaml.v3"

	"github.com/healthgate/healthgate/internal/warning"
)

// Outcomes, least severe first.
const (
	Allow  = "allow"
	Warn   = "warn"
	StepUp = "step_up"
	Deny   = "deny"
)

// Outcomes lists every outcome, least severe first.
var Outcomes = []string{Allow, Warn, StepUp, Deny}

// ErrorCode is the reason given when a rule fails at run time. The outcome
// is then at least step_up: a broken rule never lets a transaction through
// unchallenged.
const ErrorCode = "risk_policy_error"

func severity(outcome string) int { return slices.Index(Outcomes, outcome) }

// Rule is one rule of a risk policy.
type Rule struct {
	ID          string // also the reason code
	Description string
	Condition   string // CEL over signals and params, type bool
	Outcome     string
	Warning     string // warning catalog code for the message; default ID
}

// Policy is a compiled risk policy, immutable and safe for concurrent use.
type Policy struct {
	id      string
	version int
	params  map[string]float64
	rules   []compiledRule
}

type compiledRule struct {
	Rule
	prg cel.Program
}

type file struct {
	ID          string             `yaml:"id"`
	Version     int                `yaml:"version"`
	Description string             `yaml:"description"`
	Params      map[string]float64 `yaml:"params"`
	Rules       []fileRule         `yaml:"rules"`
}

type fileRule struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	Condition   string `yaml:"condition"`
	Outcome     string `yaml:"outcome"`
	Warning     string `yaml:"warning"`
}

//go:embed default.yaml
var defaultYAML []byte

var defaultPolicy = sync.OnceValue(func() *Policy {
	p, err := Load(defaultYAML)
	if err != nil {
		panic("risk: embedded default.yaml: " + err.Error())
	}
	return p
})

// Default returns the embedded default policy.
func Default() *Policy { return defaultPolicy() }

// DefaultYAML returns the source of the default policy.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// LoadFile reads and compiles a policy file.
func LoadFile(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading risk policy: %w", err)
	}
	p, err := Load(b)
	if err != nil {
		return nil, fmt.Errorf("risk policy %s: %w", path, err)
	}
	return p, nil
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Signals](), ext.ParseStructTag("json")),
		ext.Strings(),
		cel.Variable("signals", cel.ObjectType("risk.Signals")),
	)
})

// Load decodes and compiles a policy; decoding is strict and every problem
// is reported at once.
func Load(yamlBytes []byte) (*Policy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(yamlBytes))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding risk policy: %w", err)
	}
	var errs []error
	problem := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if f.ID == "" {
		problem("id is missing")
	}
	if f.Version < 1 {
		problem("version must be 1 or more")
	}
	if len(f.Rules) == 0 {
		problem("no rules")
	}
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	var opts []cel.EnvOption
	names := make([]string, 0, len(f.Params))
	for n := range f.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !namePattern.MatchString(n) {
			problem("params: %q is not a valid name", n)
			continue
		}
		opts = append(opts, cel.Constant("params."+n, cel.DoubleType, types.Double(f.Params[n])))
	}
	env, err := base.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("building risk policy environment: %w", err)
	}
	p := &Policy{id: f.ID, version: f.Version, params: f.Params}
	seen := map[string]bool{}
	for i, fr := range f.Rules {
		name := fmt.Sprintf("rules[%d]", i)
		if fr.ID != "" {
			name = "rule " + fr.ID
		}
		switch {
		case fr.ID == "":
			problem("%s: id is missing", name)
		case !namePattern.MatchString(fr.ID) || fr.ID == ErrorCode:
			problem("%s: id must be lower case letters, digits and _ (and not %s)", name, ErrorCode)
		case seen[fr.ID]:
			problem("%s: duplicate id", name)
		}
		seen[fr.ID] = true
		if !slices.Contains(Outcomes, fr.Outcome) {
			problem("%s: outcome %q is not one of %v", name, fr.Outcome, Outcomes)
		}
		w := fr.Warning
		if w == "" {
			w = fr.ID
		}
		if _, ok := warning.Lookup(w); !ok {
			problem("%s: warning %q is not in the message catalog (internal/warning)", name, w)
		}
		if fr.Condition == "" {
			problem("%s: condition is missing", name)
			continue
		}
		ast, iss := env.Compile(fr.Condition)
		if iss.Err() != nil {
			problem("%s: condition: %v", name, iss.Err())
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			problem("%s: condition has type %s, want bool", name, ast.OutputType())
			continue
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			problem("%s: condition: %v", name, err)
			continue
		}
		p.rules = append(p.rules, compiledRule{Rule: Rule{ID: fr.ID, Description: fr.Description, Condition: fr.Condition,
			Outcome: fr.Outcome, Warning: w}, prg: prg})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// ID returns "ID@VERSION".
func (p *Policy) ID() string { return p.id + "@" + strconv.Itoa(p.version) }

// Rules returns the rules in file order.
func (p *Policy) Rules() []Rule {
	out := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.Rule
	}
	return out
}

// Param returns a parameter's value.
func (p *Policy) Param(name string) (float64, bool) {
	v, ok := p.params[name]
	return v, ok
}

// Result is the policy's answer for one transaction.
type Result struct {
	Outcome string
	// Reasons are the fired rules' ids, most severe outcome first, then in
	// file order.
	Reasons []string
	// Warnings are the catalog codes of the fired rules, in the same order.
	Warnings []string
	PolicyID string
	Errors   []error
}

// Evaluate runs every rule over the signals.
func (p *Policy) Evaluate(s *Signals) Result {
	res := Result{Outcome: Allow, PolicyID: p.ID()}
	act := map[string]any{"signals": s}
	type fired struct {
		sev        int
		id, warnID string
	}
	var hits []fired
	for _, r := range p.rules {
		out, _, err := r.prg.Eval(act)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("rule %s: %w", r.ID, err))
			hits = append(hits, fired{severity(StepUp), ErrorCode, ErrorCode})
			continue
		}
		if out == types.True {
			hits = append(hits, fired{severity(r.Outcome), r.ID, r.Warning})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].sev > hits[j].sev })
	for _, h := range hits {
		if slices.Contains(res.Reasons, h.id) {
			continue
		}
		res.Reasons = append(res.Reasons, h.id)
		if h.warnID != "" {
			res.Warnings = append(res.Warnings, h.warnID)
		}
	}
	if len(hits) > 0 {
		res.Outcome = Outcomes[hits[0].sev]
	}
	if res.Reasons == nil {
		res.Reasons = []string{}
	}
	return res
}
