package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MaxObjectSize bounds one STIX object as received.
const MaxObjectSize = 256 << 10

// maxJSONDepth bounds nesting inside one object.
const maxJSONDepth = 32

// Object is a STIX object that passed Validate.
type Object struct {
	Type        string
	ID          string
	SpecVersion string
	Created     time.Time
	// Version is the object's modified time, or created for objects that
	// are never modified (marking definitions).
	Version time.Time
	// Raw is the object as received, compacted.
	Raw json.RawMessage
	// Value is one of *Indicator, *Malware, *Sighting, *Identity,
	// *Relationship, *MarkingDefinition.
	Value any
	// Pattern is the parsed pattern of an indicator.
	Pattern *Pattern
}

// ValidationError is why an object was refused; it names the object when
// its id could be read.
type ValidationError struct {
	ID       string
	Version  string
	Problems []string
}

func (e *ValidationError) Error() string {
	s := strings.Join(e.Problems, "; ")
	if e.ID != "" {
		return e.ID + ": " + s
	}
	return s
}

// Types lists the object types Validate accepts.
var Types = []string{"indicator", "malware", "sighting", "identity", "relationship", "marking-definition"}

func newValue(typ string) any {
	switch typ {
	case "indicator":
		return new(Indicator)
	case "malware":
		return new(Malware)
	case "sighting":
		return new(Sighting)
	case "identity":
		return new(Identity)
	case "relationship":
		return new(Relationship)
	case "marking-definition":
		return new(MarkingDefinition)
	}
	return nil
}

var customPropertyRE = regexp.MustCompile(`^x_[a-z0-9_]{1,248}$`)

// Validate strictly checks one object received from outside and returns
// it parsed. Every problem found is reported, not only the first.
func Validate(raw []byte) (Object, error) {
	if len(raw) > MaxObjectSize {
		return Object{}, &ValidationError{Problems: []string{fmt.Sprintf("object is larger than %d bytes", MaxObjectSize)}}
	}
	if err := checkJSON(raw); err != nil {
		return Object{}, &ValidationError{Problems: []string{err.Error()}}
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return Object{}, &ValidationError{Problems: []string{"not a JSON object"}}
	}
	verr := &ValidationError{}
	var typ, id string
	_ = json.Unmarshal(props["id"], &id)
	verr.ID = id
	if err := json.Unmarshal(props["type"], &typ); err != nil || typ == "" {
		verr.Problems = append(verr.Problems, "type is missing or not a string")
		return Object{}, verr
	}
	v := newValue(typ)
	if v == nil {
		verr.Problems = append(verr.Problems, fmt.Sprintf("type %q is not accepted (accepted: %s)", typ, strings.Join(Types, ", ")))
		return Object{}, verr
	}
	problem := func(format string, args ...any) { verr.Problems = append(verr.Problems, fmt.Sprintf(format, args...)) }

	allowed := jsonFields(reflect.TypeOf(v).Elem())
	if typ == "marking-definition" {
		for _, k := range []string{"modified", "revoked", "labels", "confidence", "lang"} {
			delete(allowed, k)
		}
	}
	var unknown []string
	for k := range props {
		if !allowed[k] && !customPropertyRE.MatchString(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sortStrings(unknown)
		problem("unknown properties %s (custom properties must start with x_)", strings.Join(unknown, ", "))
	}
	for _, k := range requiredFields(typ) {
		if b, ok := props[k]; !ok || string(b) == "null" {
			problem("required property %s is missing", k)
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			problem("property %s has the wrong JSON type (%s)", te.Field, te.Value)
		} else {
			problem("cannot decode: %v", err)
		}
		return Object{}, verr
	}
	c := commonOf(v)
	obj := Object{Type: typ, ID: c.ID, SpecVersion: c.SpecVersion, Value: v}

	if c.SpecVersion != SpecVersion {
		problem("spec_version must be %q, got %q", SpecVersion, c.SpecVersion)
	}
	if idType, _, err := ParseID(c.ID); err != nil {
		problem("id: %v", err)
	} else if idType != typ {
		problem("id %q does not start with the type %q", c.ID, typ)
	}
	created, err := parseTimestampMilli(c.Created)
	if err != nil {
		problem("created: %v", err)
	}
	obj.Created, obj.Version = created, created
	if typ != "marking-definition" {
		modified, err := parseTimestampMilli(c.Modified)
		if err != nil {
			problem("modified: %v", err)
		} else if modified.Before(created) {
			problem("modified is before created")
		}
		obj.Version = modified
	}
	if c.CreatedByRef != "" {
		checkRef(problem, "created_by_ref", c.CreatedByRef, "identity")
	}
	for _, ref := range c.ObjectMarkingRefs {
		checkRef(problem, "object_marking_refs", ref, "marking-definition")
	}
	if c.Confidence != nil && (*c.Confidence < 0 || *c.Confidence > 100) {
		problem("confidence must be between 0 and 100")
	}
	for i, er := range c.ExternalReferences {
		if er.SourceName == "" {
			problem("external_references[%d]: source_name is required", i)
		}
		if er.Description == "" && er.URL == "" && er.ExternalID == "" {
			problem("external_references[%d]: one of description, url and external_id is required", i)
		}
	}
	if c.GranularMarkings != nil {
		checkGranularMarkings(problem, c.GranularMarkings)
	}
	if c.Extensions != nil {
		var ext map[string]json.RawMessage
		if err := json.Unmarshal(c.Extensions, &ext); err != nil || ext == nil {
			problem("extensions must be an object")
		}
	}

	switch v := v.(type) {
	case *Indicator:
		obj.Pattern = validateIndicator(problem, v)
	case *Malware:
		if !bytes.Equal(bytes.TrimSpace(props["is_family"]), []byte("true")) && !bytes.Equal(bytes.TrimSpace(props["is_family"]), []byte("false")) {
			// Reported as missing above when absent.
			if _, ok := props["is_family"]; ok {
				problem("is_family must be a boolean")
			}
		}
		if v.IsFamily && v.Name == "" {
			problem("name is required when is_family is true")
		}
		checkSeen(problem, v.FirstSeen, v.LastSeen)
	case *Sighting:
		if t, _, err := ParseID(v.SightingOfRef); err != nil {
			problem("sighting_of_ref: %v", err)
		} else if t == "relationship" || t == "sighting" || t == "marking-definition" || t == "bundle" {
			problem("sighting_of_ref must point to a STIX domain object, not a %s", t)
		}
		if v.Count != nil && (*v.Count < 0 || *v.Count > 999_999_999) {
			problem("count must be between 0 and 999999999")
		}
		for _, ref := range v.WhereSightedRefs {
			checkRef(problem, "where_sighted_refs", ref, "identity", "location")
		}
		for _, ref := range v.ObservedDataRefs {
			checkRef(problem, "observed_data_refs", ref, "observed-data")
		}
		checkSeen(problem, v.FirstSeen, v.LastSeen)
	case *Identity:
		if v.Name == "" {
			problem("name must not be empty")
		}
	case *Relationship:
		if !regexp.MustCompile(`^[a-z0-9-]{1,250}$`).MatchString(v.RelationshipType) {
			problem("relationship_type must be lower case letters, digits and hyphens")
		}
		var start time.Time
		if v.StartTime != "" {
			if start, err = ParseTimestamp(v.StartTime); err != nil {
				problem("start_time: %v", err)
			}
		}
		if v.StopTime != "" {
			if stop, err := ParseTimestamp(v.StopTime); err != nil {
				problem("stop_time: %v", err)
			} else if !start.IsZero() && !stop.After(start) {
				problem("stop_time must be later than start_time")
			}
		}
		for name, ref := range map[string]string{"source_ref": v.SourceRef, "target_ref": v.TargetRef} {
			if t, _, err := ParseID(ref); err != nil {
				problem("%s: %v", name, err)
			} else if t == "relationship" || t == "sighting" || t == "marking-definition" {
				problem("%s must not point to a %s", name, t)
			}
		}
	case *MarkingDefinition:
		switch v.DefinitionType {
		case "tlp":
			lvl := v.Definition["tlp"]
			if std, ok := tlpIDs[v.ID]; ok && std.Definition["tlp"] != lvl {
				problem("%s is the published TLP:%s marking, not tlp %q", v.ID, strings.ToUpper(std.Definition["tlp"]), lvl)
			}
			if _, ok := tlpIDs[v.ID]; !ok {
				problem("a tlp marking-definition must use one of the ids the STIX 2.1 specification publishes")
			}
		case "statement":
			if v.Definition["statement"] == "" || len(v.Definition) != 1 {
				problem("a statement marking needs definition {\"statement\": \"…\"}")
			}
		case "":
			if len(c.Extensions) == 0 {
				problem("definition_type is required unless the marking is defined by an extension")
			}
		default:
			problem("definition_type %q is not supported (tlp or statement)", v.DefinitionType)
		}
	}
	if len(verr.Problems) > 0 {
		if !obj.Version.IsZero() {
			verr.Version = FormatVersion(obj.Version)
		}
		return Object{}, verr
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return Object{}, &ValidationError{ID: id, Problems: []string{"not valid JSON"}}
	}
	obj.Raw = buf.Bytes()
	return obj, nil
}

func validateIndicator(problem func(string, ...any), v *Indicator) *Pattern {
	for i, k := range v.KillChainPhases {
		if k.KillChainName == "" || k.PhaseName == "" {
			problem("kill_chain_phases[%d]: kill_chain_name and phase_name are required", i)
		}
	}
	from, err := ParseTimestamp(v.ValidFrom)
	if err != nil {
		problem("valid_from: %v", err)
	}
	if v.ValidUntil != "" {
		until, err := ParseTimestamp(v.ValidUntil)
		if err != nil {
			problem("valid_until: %v", err)
		} else if !until.After(from) {
			problem("valid_until must be later than valid_from")
		}
	}
	if v.PatternType != "stix" {
		problem("pattern_type %q is not supported: only stix patterns are accepted", v.PatternType)
		return nil
	}
	if v.PatternVersion != "" && v.PatternVersion != "2.1" {
		problem("pattern_version %q is not supported (2.1)", v.PatternVersion)
	}
	p, err := ParsePattern(v.Pattern)
	if err != nil {
		problem("%v", err)
		return nil
	}
	for _, eq := range p.Equalities() {
		if err := CheckObservable(eq); err != nil {
			problem("pattern: %v", err)
		}
	}
	return p
}

var hashLengths = map[string]int{"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128}

// CheckObservable checks the value of an equality test on the observable
// types Healthgate acts on: hashes must be hex of the right length,
// addresses must parse, URLs must be absolute, domains must be host names.
// Other types and paths pass unchecked.
func CheckObservable(eq Equality) error {
	switch {
	case strings.HasPrefix(eq.Path, "hashes.") && (eq.ObjectType == "file" || eq.ObjectType == "x509-certificate" || eq.ObjectType == "artifact"):
		alg := strings.Trim(strings.TrimPrefix(eq.Path, "hashes."), "'")
		n, ok := hashLengths[alg]
		if !ok {
			return nil
		}
		if len(eq.Value) != n || strings.Trim(strings.ToLower(eq.Value), "0123456789abcdef") != "" {
			return fmt.Errorf("%s:%s must be %d hex digits", eq.ObjectType, eq.Path, n)
		}
	case eq.Path == "value" && (eq.ObjectType == "ipv4-addr" || eq.ObjectType == "ipv6-addr"):
		var a netip.Addr
		if p, err := netip.ParsePrefix(eq.Value); err == nil {
			a = p.Addr()
		} else if a, err = netip.ParseAddr(eq.Value); err != nil {
			return fmt.Errorf("%s:value %q is not an address or CIDR block", eq.ObjectType, eq.Value)
		}
		if a.Is4() != (eq.ObjectType == "ipv4-addr") {
			return fmt.Errorf("%s:value %q is the wrong address family", eq.ObjectType, eq.Value)
		}
	case eq.Path == "value" && eq.ObjectType == "url":
		u, err := url.Parse(eq.Value)
		if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
			return fmt.Errorf("url:value %q is not an absolute URL", eq.Value)
		}
	case eq.Path == "value" && eq.ObjectType == "domain-name":
		if !validHostname(eq.Value) {
			return fmt.Errorf("domain-name:value %q is not a domain name", eq.Value)
		}
	}
	return nil
}

func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}

// parseTimestampMilli parses created and modified, which STIX 2.1 (section
// 3.2) requires to be precise to at least the millisecond.
func parseTimestampMilli(s string) (time.Time, error) {
	t, err := ParseTimestamp(s)
	if err != nil {
		return t, err
	}
	if _, frac, _ := strings.Cut(strings.TrimSuffix(s, "Z"), "."); len(frac) < 3 {
		return time.Time{}, fmt.Errorf("must have at least millisecond precision (%q)", s)
	}
	return t, nil
}

// checkGranularMarkings checks granular_markings (STIX 2.1 section 7.2.3):
// a non-empty list of markings, each with non-empty selectors and exactly
// one of marking_ref (a marking-definition) and lang. ObjectTLP reads
// marking_ref; a marking it could not read must not pass as no marking.
func checkGranularMarkings(problem func(string, ...any), raw json.RawMessage) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		problem("granular_markings must be a non-empty list")
		return
	}
	for i, item := range list {
		var props map[string]json.RawMessage
		if err := json.Unmarshal(item, &props); err != nil || props == nil {
			problem("granular_markings[%d] must be an object", i)
			continue
		}
		var g struct {
			Selectors  []string `json:"selectors"`
			MarkingRef *string  `json:"marking_ref"`
			Lang       *string  `json:"lang"`
		}
		for k := range props {
			if k != "selectors" && k != "marking_ref" && k != "lang" {
				problem("granular_markings[%d]: unknown property %s", i, k)
			}
		}
		if err := json.Unmarshal(item, &g); err != nil {
			problem("granular_markings[%d]: selectors must be strings, marking_ref and lang a string", i)
			continue
		}
		if len(g.Selectors) == 0 || slices.Contains(g.Selectors, "") {
			problem("granular_markings[%d]: selectors must be a non-empty list of property paths", i)
		}
		switch {
		case (g.MarkingRef == nil) == (g.Lang == nil):
			problem("granular_markings[%d]: exactly one of marking_ref and lang is required", i)
		case g.MarkingRef != nil:
			checkRef(problem, fmt.Sprintf("granular_markings[%d].marking_ref", i), *g.MarkingRef, "marking-definition")
		case *g.Lang == "":
			problem("granular_markings[%d]: lang must not be empty", i)
		}
	}
}

func checkRef(problem func(string, ...any), name, ref string, types ...string) {
	t, _, err := ParseID(ref)
	if err != nil {
		problem("%s: %v", name, err)
		return
	}
	for _, want := range types {
		if t == want {
			return
		}
	}
	problem("%s: %q must be a %s id", name, ref, strings.Join(types, " or "))
}

func checkSeen(problem func(string, ...any), first, last string) {
	var f, l time.Time
	var err error
	if first != "" {
		if f, err = ParseTimestamp(first); err != nil {
			problem("first_seen: %v", err)
		}
	}
	if last != "" {
		if l, err = ParseTimestamp(last); err != nil {
			problem("last_seen: %v", err)
		}
	}
	if !f.IsZero() && !l.IsZero() && l.Before(f) {
		problem("last_seen is before first_seen")
	}
}

func requiredFields(typ string) []string {
	base := []string{"type", "spec_version", "id", "created"}
	switch typ {
	case "marking-definition":
		return base
	case "indicator":
		return append(base, "modified", "pattern", "pattern_type", "valid_from")
	case "malware":
		return append(base, "modified", "is_family")
	case "sighting":
		return append(base, "modified", "sighting_of_ref")
	case "identity":
		return append(base, "modified", "name")
	case "relationship":
		return append(base, "modified", "relationship_type", "source_ref", "target_ref")
	}
	return base
}

func commonOf(v any) *Common {
	return reflect.ValueOf(v).Elem().FieldByName("Common").Addr().Interface().(*Common)
}

// jsonFields returns the JSON names of a struct's fields, following
// embedded structs.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// checkJSON walks the value once to refuse duplicate keys (which different
// parsers resolve differently), excessive nesting and trailing data.
func checkJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return errors.New("not valid JSON: truncated")
		}
		if err != nil {
			return fmt.Errorf("not valid JSON: %v", err)
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
			} else {
				k, _ := tok.(string)
				if stack[n-1].keys[k] {
					return fmt.Errorf("duplicate key %q", k)
				}
				stack[n-1].keys[k] = true
				stack[n-1].wantKey = false
				continue
			}
		} else {
			switch tok {
			case json.Delim('{'):
				stack = append(stack, &frame{obj: true, wantKey: true, keys: map[string]bool{}})
			case json.Delim('['):
				stack = append(stack, &frame{})
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
				valueDone()
			default:
				valueDone()
			}
			if len(stack) > maxJSONDepth {
				return fmt.Errorf("nested more than %d deep", maxJSONDepth)
			}
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return errors.New("data after the JSON value")
			}
			return nil
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
