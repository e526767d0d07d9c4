package stix

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on a pattern, so that a partner cannot make the parser work hard.
const (
	MaxPatternLength = 32 << 10
	maxPatternDepth  = 64
)

// Pattern is a parsed STIX 2.1 pattern (STIX 2.1 section 9). ParsePattern
// checks syntax only: it says nothing about whether the pattern is true of
// anything.
type Pattern struct {
	Expr ObservationExpr
}

// ObservationExpr is one of *Observation, *ObservationBinary,
// *ObservationQualified.
type ObservationExpr interface {
	fmt.Stringer
	isObservation()
}

// Observation is a bracketed comparison expression: [ ... ].
type Observation struct {
	Expr ComparisonExpr
}

// ObservationBinary joins two observation expressions with AND, OR or
// FOLLOWEDBY.
type ObservationBinary struct {
	Op          string
	Left, Right ObservationExpr
}

// ObservationQualified is an observation expression with a qualifier.
type ObservationQualified struct {
	Expr      ObservationExpr
	Qualifier Qualifier
}

// Qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t STOP t.
type Qualifier struct {
	Kind        string // WITHIN, REPEATS, START
	Seconds     float64
	Times       int64
	Start, Stop time.Time
}

// ComparisonExpr is one of *Comparison, *ComparisonBinary.
type ComparisonExpr interface {
	fmt.Stringer
	isComparison()
}

// ComparisonBinary joins two comparison expressions with AND or OR.
type ComparisonBinary struct {
	Op          string
	Left, Right ComparisonExpr
}

// Comparison tests one object path: path [NOT] op value, or EXISTS path.
type Comparison struct {
	Path    ObjectPath
	Negated bool
	Op      string    // =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS
	Value   Literal   // unset for IN and EXISTS
	Set     []Literal // for IN
}

// ObjectPath is object-type:property(.property|[index])*.
type ObjectPath struct {
	ObjectType string
	Steps      []PathStep
}

// PathStep is one step of an object path: a property name, a list index,
// or [*] (Any).
type PathStep struct {
	Property string
	Index    int64
	IsIndex  bool
	Any      bool
}

// Literal is a pattern constant.
type Literal struct {
	Kind  string // string, int, float, bool, binary, hex, timestamp
	Value any    // string, int64, float64, bool, []byte, []byte, time.Time
	raw   string
}

func (*Observation) isObservation()          {}
func (*ObservationBinary) isObservation()    {}
func (*ObservationQualified) isObservation() {}
func (*Comparison) isComparison()            {}
func (*ComparisonBinary) isComparison()      {}

// PatternError says where and why a pattern does not parse.
type PatternError struct {
	Offset int
	Msg    string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("pattern: at offset %d: %s", e.Offset, e.Msg)
}

// ParsePattern parses a STIX 2.1 pattern.
func ParsePattern(s string) (*Pattern, error) {
	if len(s) > MaxPatternLength {
		return nil, &PatternError{0, fmt.Sprintf("longer than %d bytes", MaxPatternLength)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	expr, err := p.observations(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "unexpected %s after the pattern", t)
	}
	return &Pattern{Expr: expr}, nil
}

// Comparisons returns every comparison of the pattern, left to right.
func (p *Pattern) Comparisons() []*Comparison {
	var out []*Comparison
	var walkC func(ComparisonExpr)
	walkC = func(e ComparisonExpr) {
		switch e := e.(type) {
		case *Comparison:
			out = append(out, e)
		case *ComparisonBinary:
			walkC(e.Left)
			walkC(e.Right)
		}
	}
	var walkO func(ObservationExpr)
	walkO = func(e ObservationExpr) {
		switch e := e.(type) {
		case *Observation:
			walkC(e.Expr)
		case *ObservationBinary:
			walkO(e.Left)
			walkO(e.Right)
		case *ObservationQualified:
			walkO(e.Expr)
		}
	}
	walkO(p.Expr)
	return out
}

// Equality is an `object-type:path = 'value'` comparison.
type Equality struct {
	ObjectType string // e.g. file, url, domain-name
	Path       string // e.g. hashes.'SHA-256', value
	Value      string
}

// Equalities returns the pattern's non-negated string equality tests, the
// shape of every indicator Healthgate can act on (file hashes, URLs,
// domains, addresses, certificate fingerprints).
func (p *Pattern) Equalities() []Equality {
	var out []Equality
	for _, c := range p.Comparisons() {
		if c.Op == "=" && !c.Negated && c.Value.Kind == "string" {
			out = append(out, Equality{ObjectType: c.Path.ObjectType, Path: c.Path.stepsString(), Value: c.Value.Value.(string)})
		}
	}
	return out
}

// String returns the pattern in canonical form; ParsePattern(p.String())
// gives back the same pattern.
func (p *Pattern) String() string { return p.Expr.String() }

func (o *Observation) String() string { return "[" + o.Expr.String() + "]" }
func (o *ObservationBinary) String() string {
	return "(" + o.Left.String() + " " + o.Op + " " + o.Right.String() + ")"
}
func (o *ObservationQualified) String() string {
	return o.Expr.String() + " " + o.Qualifier.String()
}

func (q Qualifier) String() string {
	switch q.Kind {
	case "WITHIN":
		return "WITHIN " + strconv.FormatFloat(q.Seconds, 'f', -1, 64) + " SECONDS"
	case "REPEATS":
		return "REPEATS " + strconv.FormatInt(q.Times, 10) + " TIMES"
	default:
		return "START t'" + q.Start.Format(time.RFC3339Nano) + "' STOP t'" + q.Stop.Format(time.RFC3339Nano) + "'"
	}
}

func (c *ComparisonBinary) String() string {
	return "(" + c.Left.String() + " " + c.Op + " " + c.Right.String() + ")"
}

func (c *Comparison) String() string {
	if c.Op == "EXISTS" {
		return "EXISTS " + c.Path.String()
	}
	var b strings.Builder
	b.WriteString(c.Path.String())
	if c.Negated {
		b.WriteString(" NOT")
	}
	b.WriteString(" " + c.Op + " ")
	if c.Op == "IN" {
		b.WriteString("(")
		for i, l := range c.Set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(l.String())
		}
		b.WriteString(")")
	} else {
		b.WriteString(c.Value.String())
	}
	return b.String()
}

func (p ObjectPath) String() string { return p.ObjectType + ":" + p.stepsString() }

func (p ObjectPath) stepsString() string {
	var b strings.Builder
	for i, s := range p.Steps {
		switch {
		case s.Any:
			b.WriteString("[*]")
		case s.IsIndex:
			b.WriteString("[" + strconv.FormatInt(s.Index, 10) + "]")
		default:
			if i > 0 {
				b.WriteString(".")
			}
			if isPlainIdent(s.Property) {
				b.WriteString(s.Property)
			} else {
				b.WriteString(quote(s.Property))
			}
		}
	}
	return b.String()
}

func (l Literal) String() string {
	switch l.Kind {
	case "string":
		return quote(l.Value.(string))
	case "int":
		return strconv.FormatInt(l.Value.(int64), 10)
	case "float":
		s := strconv.FormatFloat(l.Value.(float64), 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case "bool":
		return strconv.FormatBool(l.Value.(bool))
	case "binary":
		return "b'" + base64.StdEncoding.EncodeToString(l.Value.([]byte)) + "'"
	case "hex":
		return "h'" + hex.EncodeToString(l.Value.([]byte)) + "'"
	case "timestamp":
		return "t'" + l.Value.(time.Time).Format(time.RFC3339Nano) + "'"
	}
	return l.raw
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func isPlainIdent(s string) bool {
	if s == "" || keywords[strings.ToUpper(s)] != "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Lexer.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tKeyword
	tString
	tInt
	tFloat
	tBinary
	tHex
	tTimestamp
	tBool
	tPunct // [ ] ( ) : . , * and comparison operators
)

type token struct {
	kind tokKind
	text string // keyword (upper case), punctuation, identifier or raw literal
	val  any
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString:
		return "string " + quote(t.val.(string))
	}
	return strconv.Quote(t.text)
}

var keywords = map[string]string{
	"AND": "AND", "OR": "OR", "NOT": "NOT", "FOLLOWEDBY": "FOLLOWEDBY", "LIKE": "LIKE", "MATCHES": "MATCHES",
	"ISSUPERSET": "ISSUPERSET", "ISSUBSET": "ISSUBSET", "EXISTS": "EXISTS", "IN": "IN", "START": "START",
	"STOP": "STOP", "SECONDS": "SECONDS", "WITHIN": "WITHIN", "REPEATS": "REPEATS", "TIMES": "TIMES",
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '[' || c == ']' || c == '(' || c == ')' || c == ':' || c == '.' && !(i+1 < len(s) && isDigit(s[i+1]) && !prevIsPath(toks)) || c == ',' || c == '*':
			toks = append(toks, token{kind: tPunct, text: string(c), pos: i})
			i++
		case c == '=':
			toks = append(toks, token{kind: tPunct, text: "=", pos: i})
			i++
		case c == '!' || c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			} else if c == '!' {
				return nil, &PatternError{i, "'!' must be followed by '='"}
			}
			toks = append(toks, token{kind: tPunct, text: op, pos: i})
			i += len(op)
		case c == '\'':
			v, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s[i : i+n], val: v, pos: i})
			i += n
		case (c == 'b' || c == 'h' || c == 't') && i+1 < len(s) && s[i+1] == '\'':
			v, n, err := lexString(s, i+1)
			if err != nil {
				return nil, err
			}
			tok := token{text: s[i : i+1+n], pos: i}
			switch c {
			case 'b':
				b, err := base64.StdEncoding.Strict().DecodeString(v)
				if err != nil {
					return nil, &PatternError{i, "binary literal is not base64"}
				}
				tok.kind, tok.val = tBinary, b
			case 'h':
				b, err := hex.DecodeString(v)
				if err != nil {
					return nil, &PatternError{i, "hex literal is not an even number of hex digits"}
				}
				tok.kind, tok.val = tHex, b
			case 't':
				ts, err := ParseTimestamp(v)
				if err != nil {
					return nil, &PatternError{i, "timestamp literal: " + err.Error()}
				}
				tok.kind, tok.val = tTimestamp, ts
			}
			toks = append(toks, tok)
			i += 1 + n
		case isDigit(c) || (c == '-' || c == '+' || c == '.') && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '.'):
			j := i
			if c == '-' || c == '+' {
				j++
			}
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			kind := tInt
			if j < len(s) && s[j] == '.' {
				kind = tFloat
				j++
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			text := s[i:j]
			tok := token{kind: kind, text: text, pos: i}
			if kind == tInt {
				v, err := strconv.ParseInt(text, 10, 64)
				if err != nil {
					return nil, &PatternError{i, "integer out of range"}
				}
				tok.val = v
			} else {
				v, err := strconv.ParseFloat(text, 64)
				if err != nil || text == "." || strings.HasSuffix(text, ".") && len(strings.Trim(text, "+-.")) == 0 {
					return nil, &PatternError{i, "bad number " + strconv.Quote(text)}
				}
				tok.val = v
			}
			toks = append(toks, tok)
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || isDigit(s[j])) {
				j++
			}
			word := s[i:j]
			up := strings.ToUpper(word)
			switch {
			// A word before ':' is an object type and after ':' or '.' a
			// property name (network-traffic:start), whatever keyword it
			// spells.
			case j < len(s) && s[j] == ':' || afterPathSeparator(toks):
				toks = append(toks, token{kind: tIdent, text: word, pos: i})
			case keywords[up] != "":
				toks = append(toks, token{kind: tKeyword, text: up, pos: i})
			case up == "TRUE" || up == "FALSE":
				toks = append(toks, token{kind: tBool, text: word, val: up == "TRUE", pos: i})
			default:
				toks = append(toks, token{kind: tIdent, text: word, pos: i})
			}
			i = j
		default:
			return nil, &PatternError{i, fmt.Sprintf("unexpected character %q", c)}
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

// prevIsPath says whether a '.' follows a path component (so ".5" is not
// a number there).
func prevIsPath(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.kind == tIdent || t.kind == tString || t.kind == tPunct && t.text == "]"
}

// afterPathSeparator says whether the last token is the ':' or '.' of an
// object path, so the next word is a property name.
func afterPathSeparator(toks []token) bool {
	if len(toks) == 0 {
		return false
	}
	t := toks[len(toks)-1]
	return t.kind == tPunct && (t.text == ":" || t.text == ".")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lexString reads a quoted literal starting at s[i] == '\” and returns its
// value and length in bytes. Only \' and \\ are escapes (STIX 2.1 9.4).
func lexString(s string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\'':
			return b.String(), j + 1 - i, nil
		case '\\':
			if j+1 < len(s) && (s[j+1] == '\'' || s[j+1] == '\\') {
				b.WriteByte(s[j+1])
				j += 2
				continue
			}
			return "", 0, &PatternError{j, `in a string only \' and \\ are escapes`}
		default:
			b.WriteByte(s[j])
			j++
		}
	}
	return "", 0, &PatternError{i, "unterminated string"}
}

// Parser: recursive descent over the grammar of STIX 2.1 section 9, with
// the usual precedence (FOLLOWEDBY < OR < AND, qualifiers bind tightest).

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(k string) bool {
	t := p.peek()
	return t.kind == tKeyword && t.text == k
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.errorf(p.peek(), "expected %q, found %s", s, p.peek())
	}
	p.next()
	return nil
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &PatternError{t.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) observations(depth int) (ObservationExpr, error) {
	return p.obsBinary(depth, []string{"FOLLOWEDBY", "OR", "AND"})
}

func (p *parser) obsBinary(depth int, ops []string) (ObservationExpr, error) {
	if depth > maxPatternDepth {
		return nil, p.errorf(p.peek(), "nested more than %d deep", maxPatternDepth)
	}
	sub := func() (ObservationExpr, error) {
		if len(ops) == 1 {
			return p.observation(depth + 1)
		}
		return p.obsBinary(depth+1, ops[1:])
	}
	left, err := sub()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(ops[0]) {
		p.next()
		right, err := sub()
		if err != nil {
			return nil, err
		}
		left = &ObservationBinary{Op: ops[0], Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) observation(depth int) (ObservationExpr, error) {
	var expr ObservationExpr
	switch t := p.peek(); {
	case t.kind == tPunct && t.text == "[":
		p.next()
		c, err := p.comparisons(depth+1, []string{"OR", "AND"})
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct("]"); err != nil {
			return nil, err
		}
		expr = &Observation{Expr: c}
	case t.kind == tPunct && t.text == "(":
		p.next()
		e, err := p.observations(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		expr = e
	default:
		return nil, p.errorf(t, "expected '[' or '(' to start an observation expression, found %s", t)
	}
	for {
		t := p.peek()
		if t.kind != tKeyword {
			return expr, nil
		}
		var q Qualifier
		switch t.text {
		case "WITHIN":
			p.next()
			n := p.next()
			var secs float64
			switch n.kind {
			case tInt:
				secs = float64(n.val.(int64))
			case tFloat:
				secs = n.val.(float64)
			default:
				return nil, p.errorf(n, "WITHIN needs a number of seconds, found %s", n)
			}
			if secs <= 0 || strings.HasPrefix(n.text, "-") || strings.HasPrefix(n.text, "+") {
				return nil, p.errorf(n, "WITHIN needs a positive number of seconds")
			}
			if !p.isKeyword("SECONDS") {
				return nil, p.errorf(p.peek(), "expected SECONDS after WITHIN %s", n.text)
			}
			p.next()
			q = Qualifier{Kind: "WITHIN", Seconds: secs}
		case "REPEATS":
			p.next()
			n := p.next()
			if n.kind != tInt || n.val.(int64) <= 0 || strings.HasPrefix(n.text, "+") {
				return nil, p.errorf(n, "REPEATS needs a positive integer, found %s", n)
			}
			if !p.isKeyword("TIMES") {
				return nil, p.errorf(p.peek(), "expected TIMES after REPEATS %s", n.text)
			}
			p.next()
			q = Qualifier{Kind: "REPEATS", Times: n.val.(int64)}
		case "START":
			p.next()
			a := p.next()
			if a.kind != tTimestamp {
				return nil, p.errorf(a, "START needs a timestamp t'…', found %s", a)
			}
			if !p.isKeyword("STOP") {
				return nil, p.errorf(p.peek(), "expected STOP after START")
			}
			p.next()
			b := p.next()
			if b.kind != tTimestamp {
				return nil, p.errorf(b, "STOP needs a timestamp t'…', found %s", b)
			}
			start, stop := a.val.(time.Time), b.val.(time.Time)
			if !stop.After(start) {
				return nil, p.errorf(b, "STOP must be later than START")
			}
			q = Qualifier{Kind: "START", Start: start, Stop: stop}
		default:
			return expr, nil
		}
		expr = &ObservationQualified{Expr: expr, Qualifier: q}
	}
}

func (p *parser) comparisons(depth int, ops []string) (ComparisonExpr, error) {
	if depth > maxPatternDepth {
		return nil, p.errorf(p.peek(), "nested more than %d deep", maxPatternDepth)
	}
	sub := func() (ComparisonExpr, error) {
		if len(ops) == 1 {
			return p.propTest(depth + 1)
		}
		return p.comparisons(depth+1, ops[1:])
	}
	left, err := sub()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(ops[0]) {
		p.next()
		right, err := sub()
		if err != nil {
			return nil, err
		}
		left = &ComparisonBinary{Op: ops[0], Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) propTest(depth int) (ComparisonExpr, error) {
	if p.isPunct("(") {
		p.next()
		c, err := p.comparisons(depth+1, []string{"OR", "AND"})
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	if p.isKeyword("EXISTS") {
		p.next()
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Op: "EXISTS"}, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Path: path}
	if p.isKeyword("NOT") {
		p.next()
		c.Negated = true
	}
	op := p.next()
	switch {
	case op.kind == tPunct && (op.text == "=" || op.text == "!="):
		c.Op = op.text
		if c.Value, err = p.literal(false); err != nil {
			return nil, err
		}
	case op.kind == tPunct && (op.text == "<" || op.text == "<=" || op.text == ">" || op.text == ">="):
		c.Op = op.text
		if c.Value, err = p.literal(true); err != nil {
			return nil, err
		}
	case op.kind == tKeyword && op.text == "IN":
		c.Op = "IN"
		if err := p.expectPunct("("); err != nil {
			return nil, err
		}
		for !p.isPunct(")") {
			if len(c.Set) > 0 {
				if err := p.expectPunct(","); err != nil {
					return nil, err
				}
			}
			l, err := p.literal(false)
			if err != nil {
				return nil, err
			}
			c.Set = append(c.Set, l)
		}
		p.next()
		if len(c.Set) == 0 {
			return nil, p.errorf(op, "IN needs at least one value")
		}
	case op.kind == tKeyword && (op.text == "LIKE" || op.text == "MATCHES" || op.text == "ISSUBSET" || op.text == "ISSUPERSET"):
		c.Op = op.text
		v := p.next()
		if v.kind != tString {
			return nil, p.errorf(v, "%s needs a string, found %s", op.text, v)
		}
		c.Value = Literal{Kind: "string", Value: v.val, raw: v.text}
		if op.text == "MATCHES" {
			if _, err := regexp.Compile(v.val.(string)); err != nil {
				return nil, p.errorf(v, "MATCHES: regular expression not supported: %v", errors.Unwrap(err))
			}
		}
	default:
		return nil, p.errorf(op, "expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET), found %s", op)
	}
	return c, nil
}

func (p *parser) objectPath() (ObjectPath, error) {
	t := p.next()
	if t.kind != tIdent {
		return ObjectPath{}, p.errorf(t, "expected an object path (object-type:property), found %s", t)
	}
	if !validTypeName(t.text) {
		return ObjectPath{}, p.errorf(t, "%q is not a valid object type", t.text)
	}
	path := ObjectPath{ObjectType: t.text}
	if err := p.expectPunct(":"); err != nil {
		return ObjectPath{}, err
	}
	first := p.next()
	switch {
	case first.kind == tIdent && !strings.Contains(first.text, "-"):
		path.Steps = append(path.Steps, PathStep{Property: first.text})
	case first.kind == tString:
		path.Steps = append(path.Steps, PathStep{Property: first.val.(string)})
	default:
		return ObjectPath{}, p.errorf(first, "expected a property name after %q, found %s", t.text+":", first)
	}
	for {
		switch {
		case p.isPunct("."):
			p.next()
			n := p.next()
			switch {
			case n.kind == tIdent && !strings.Contains(n.text, "-"):
				path.Steps = append(path.Steps, PathStep{Property: n.text})
			case n.kind == tString:
				path.Steps = append(path.Steps, PathStep{Property: n.val.(string)})
			default:
				return ObjectPath{}, p.errorf(n, "expected a property name after '.', found %s (quote names with hyphens)", n)
			}
		case p.isPunct("["):
			p.next()
			n := p.next()
			switch {
			case n.kind == tPunct && n.text == "*":
				path.Steps = append(path.Steps, PathStep{Any: true})
			case n.kind == tInt && n.val.(int64) >= 0 && !strings.HasPrefix(n.text, "+"):
				path.Steps = append(path.Steps, PathStep{IsIndex: true, Index: n.val.(int64)})
			default:
				return ObjectPath{}, p.errorf(n, "expected a list index or '*', found %s", n)
			}
			if err := p.expectPunct("]"); err != nil {
				return ObjectPath{}, err
			}
		default:
			return path, nil
		}
	}
}

func (p *parser) literal(orderable bool) (Literal, error) {
	t := p.next()
	l := Literal{Value: t.val, raw: t.text}
	switch t.kind {
	case tString:
		l.Kind = "string"
	case tInt:
		l.Kind = "int"
	case tFloat:
		l.Kind = "float"
	case tBinary:
		l.Kind = "binary"
	case tHex:
		l.Kind = "hex"
	case tTimestamp:
		l.Kind = "timestamp"
	case tBool:
		if orderable {
			return Literal{}, p.errorf(t, "booleans cannot be ordered")
		}
		l.Kind = "bool"
	default:
		return Literal{}, p.errorf(t, "expected a value, found %s", t)
	}
	return l, nil
}

// validTypeName reports whether s is a valid STIX type name: 3–250
// characters of a–z, 0–9 and hyphen, not starting or ending with a hyphen
// and without "--" (STIX 2.1 section 2.9 / 3.1). Upper case is refused.
func validTypeName(s string) bool {
	if len(s) < 3 || len(s) > 250 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
