package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"gopkg.in/yaml.v3"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/token"
)

// Languages every title and remediation must be written in.
var Languages = []string{"zh-CN", "en"}

// Categories are the AR4SI trust-vector categories, by their EAR JSON names.
var Categories = []string{
	"instance-identity", "configuration", "executables", "file-system",
	"hardware", "runtime-opaque", "storage-opaque", "sourced-data",
}

// Trust-vector claim values (AR4SI): the lowest of each tier's range.
const (
	ClaimNone            = 0
	ClaimAffirming       = 2
	ClaimWarning         = 32
	ClaimContraindicated = 96
)

// Default score penalties, used when a rule does not set its own.
const (
	PenaltyWarning         = 15
	PenaltyContraindicated = 45
)

// Rule is one appraisal rule as loaded from a policy. Penalty holds the
// resolved value (the tier's default when the YAML omits it).
type Rule struct {
	ID          string
	Description string
	Condition   string // CEL, type-checked to bool
	Category    string // one of Categories
	Tier        string // token.TierWarning or token.TierContraindicated
	Penalty     int    // score points, 0..100
	Title       map[string]string
	Remediation map[string]string
}

// Policy is a compiled policy. It is immutable and safe for concurrent use.
type Policy struct {
	id      string
	version int
	rules   []compiledRule
	// groups lists, per category, the fact groups its rules read; a category
	// with rules is affirmed only when all of them are present.
	groups  map[string][]string
	adapter types.Adapter
}

type compiledRule struct {
	Rule
	prg    cel.Program
	groups []string // fact groups (facts.NAME) the condition reads
}

// file is the YAML form of a policy; see docs/POLICY.md.
type file struct {
	ID          string              `yaml:"id"`
	Version     int                 `yaml:"version"`
	Description string              `yaml:"description"`
	Lists       map[string][]string `yaml:"lists"`
	Params      map[string]string   `yaml:"params"`
	Rules       []fileRule          `yaml:"rules"`
}

type fileRule struct {
	ID          string            `yaml:"id"`
	Description string            `yaml:"description"`
	Condition   string            `yaml:"condition"`
	Category    string            `yaml:"category"`
	Tier        string            `yaml:"tier"`
	Penalty     *int              `yaml:"penalty"`
	Title       map[string]string `yaml:"title"`
	Remediation map[string]string `yaml:"remediation"`
}

//go:embed default.yaml
var defaultYAML []byte

var defaultPolicy = sync.OnceValue(func() *Policy {
	p, err := Load(defaultYAML)
	if err != nil {
		panic("policy: embedded default.yaml: " + err.Error())
	}
	return p
})

// Default returns the embedded default policy, compiled on first use.
func Default() *Policy { return defaultPolicy() }

// DefaultYAML returns the source of the default policy, as a starting point
// for a custom one.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// LoadFile reads and compiles a policy file.
func LoadFile(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	p, err := Load(b)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

var (
	idPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// Load decodes and compiles a policy. Decoding is strict (unknown keys
// fail), and every problem is reported at once, one per line of the error.
func Load(yamlBytes []byte) (*Policy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(yamlBytes))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding policy: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("decoding policy: more than one YAML document")
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

	opts := []cel.EnvOption{}
	for _, name := range slices.Sorted(maps.Keys(f.Lists)) {
		if !namePattern.MatchString(name) {
			problem("lists: %q is not a valid name (lower case letters, digits, _)", name)
			continue
		}
		opts = append(opts, cel.Constant("lists."+name, cel.ListType(cel.StringType), newStringSet(f.Lists[name])))
	}
	for _, name := range slices.Sorted(maps.Keys(f.Params)) {
		if !namePattern.MatchString(name) {
			problem("params: %q is not a valid name (lower case letters, digits, _)", name)
			continue
		}
		d, err := time.ParseDuration(f.Params[name])
		if err != nil {
			problem("params.%s: %q is not a duration such as 720h or 90m", name, f.Params[name])
			continue
		}
		opts = append(opts, cel.Constant("params."+name, cel.DurationType, types.Duration{Duration: d}))
	}
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	env, err := base.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("building policy environment: %w", err)
	}

	p := &Policy{id: f.ID, version: f.Version, groups: map[string][]string{}, adapter: env.CELTypeAdapter()}
	seen := map[string]bool{}
	for i, fr := range f.Rules {
		name := fmt.Sprintf("rules[%d]", i)
		if fr.ID != "" {
			name = fmt.Sprintf("rule %s", fr.ID)
		}
		rule, ruleErrs := compileRule(env, fr)
		for _, e := range ruleErrs {
			problem("%s: %w", name, e)
		}
		if fr.ID != "" {
			if seen[fr.ID] {
				problem("%s: duplicate id", name)
			}
			seen[fr.ID] = true
		}
		if len(ruleErrs) == 0 {
			p.rules = append(p.rules, rule)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, r := range p.rules {
		for _, g := range r.groups {
			if !slices.Contains(p.groups[r.Category], g) {
				p.groups[r.Category] = append(p.groups[r.Category], g)
			}
		}
		if _, ok := p.groups[r.Category]; !ok {
			p.groups[r.Category] = nil
		}
	}
	return p, nil
}

func compileRule(env *cel.Env, fr fileRule) (compiledRule, []error) {
	var errs []error
	problem := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case fr.ID == "":
		problem("id is missing")
	case fr.ID == ErrorCode:
		problem("id %s is reserved", ErrorCode)
	case !idPattern.MatchString(fr.ID):
		problem("id %q must be lower case letters, digits and _", fr.ID)
	}
	if !slices.Contains(Categories, fr.Category) {
		problem("category %q is not one of %v", fr.Category, Categories)
	}
	penalty := 0
	switch fr.Tier {
	case token.TierWarning:
		penalty = PenaltyWarning
	case token.TierContraindicated:
		penalty = PenaltyContraindicated
	default:
		problem("tier %q must be %s or %s", fr.Tier, token.TierWarning, token.TierContraindicated)
	}
	if fr.Penalty != nil {
		penalty = *fr.Penalty
		if penalty < 0 || penalty > 100 {
			problem("penalty %d is not between 0 and 100", penalty)
		}
	}
	for _, lang := range Languages {
		if fr.Title[lang] == "" {
			problem("title in %s is missing", lang)
		}
		if fr.Remediation[lang] == "" {
			problem("remediation in %s is missing", lang)
		}
	}
	r := compiledRule{Rule: Rule{
		ID: fr.ID, Description: fr.Description, Condition: fr.Condition,
		Category: fr.Category, Tier: fr.Tier, Penalty: penalty,
		Title: fr.Title, Remediation: fr.Remediation,
	}}
	if fr.Condition == "" {
		problem("condition is missing")
		return r, errs
	}
	checked, iss := env.Compile(fr.Condition)
	if iss.Err() != nil {
		problem("condition: %v", iss.Err())
		return r, errs
	}
	if t := checked.OutputType(); !t.IsExactType(cel.BoolType) {
		problem("condition has type %s, want bool", t)
		return r, errs
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		problem("condition: %v", err)
		return r, errs
	}
	r.prg = prg
	r.groups = factGroups(checked.NativeRep().Expr())
	// A rule must not fire, nor fail, on a report without facts: reading an
	// absent group yields zero values, so an unguarded rule would misfire.
	empty := newActivation(env.CELTypeAdapter(), &evidence.Facts{}, nil, "", time.Unix(0, 0))
	if out, _, err := prg.Eval(empty); err != nil {
		problem("condition fails when facts are missing (guard it with has()): %v", err)
	} else if out == types.True {
		problem("condition is true when facts are missing (guard it with has())")
	}
	return r, errs
}

// factGroups returns the fact groups an expression reads (facts.NAME).
func factGroups(e ast.Expr) []string {
	var groups []string
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		if op := sel.Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "facts" {
			if g := sel.FieldName(); g != "unknown" && !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}))
	sort.Strings(groups)
	return groups
}

var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.NativeTypes(
			reflect.TypeFor[evidence.Facts](),
			reflect.TypeFor[evidence.Finding](),
			ext.ParseStructTag("json"),
		),
		ext.Strings(),
		cel.Variable("facts", cel.ObjectType("evidence.Facts")),
		cel.Variable("findings", cel.ListType(cel.ObjectType("evidence.Finding"))),
		cel.Variable("platform", cel.StringType),
		cel.Variable("now", cel.TimestampType),
	}
	env, err := cel.NewEnv(append(opts, functions()...)...)
	if err != nil {
		return nil, fmt.Errorf("building cel environment: %w", err)
	}
	return env, nil
})

// ID returns the policy's appraisal-policy id, "ID@VERSION", for
// ear.appraisal-policy-id.
func (p *Policy) ID() string { return p.id + "@" + strconv.Itoa(p.version) }

// Rules returns the policy's rules in file order.
func (p *Policy) Rules() []Rule {
	out := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.Rule
	}
	return out
}
