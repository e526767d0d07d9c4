package stix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func specPatterns(t testing.TB) []string {
	f, err := os.Open("testdata/spec_patterns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestParsePatternSpecExamples(t *testing.T) {
	for _, s := range specPatterns(t) {
		p, err := ParsePattern(s)
		if err != nil {
			t.Errorf("ParsePattern(%s): %v", s, err)
			continue
		}
		again, err := ParsePattern(p.String())
		if err != nil {
			t.Errorf("canonical form %s does not parse: %v", p, err)
			continue
		}
		if got, want := again.String(), p.String(); got != want {
			t.Errorf("round trip: %s, want %s", got, want)
		}
	}
}

func TestPatternEqualities(t *testing.T) {
	tests := []struct {
		pattern string
		want    []Equality
	}{
		{`[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']`,
			[]Equality{{"file", "hashes.'SHA-256'", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"}}},
		{`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
			[]Equality{{"url", "value", "http://example.com/foo"}, {"url", "value", "http://example.com/bar"}}},
		{`[domain-name:value = 'pay.example.com']`, []Equality{{"domain-name", "value", "pay.example.com"}}},
		{`[ipv4-addr:value = '198.51.100.7']`, []Equality{{"ipv4-addr", "value", "198.51.100.7"}}},
		{`[x509-certificate:hashes.'SHA-256' = 'aa']`, []Equality{{"x509-certificate", "hashes.'SHA-256'", "aa"}}},
		{`[file:name NOT = 'a.exe' AND file:name != 'b.exe']`, nil},
		{`[file:name = 'it\'s \\ here']`, []Equality{{"file", "name", `it's \ here`}}},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		got := p.Equalities()
		if len(got) != len(tt.want) {
			t.Fatalf("%s: Equalities = %v, want %v", tt.pattern, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: Equalities[%d] = %v, want %v", tt.pattern, i, got[i], tt.want[i])
			}
		}
	}
}

func TestParsePatternRejects(t *testing.T) {
	tests := []struct{ name, pattern, want string }{
		{"empty", ``, "expected '[' or '('"},
		{"no brackets", `file:name = 'a'`, "expected '[' or '('"},
		{"unclosed bracket", `[file:name = 'a'`, `expected "]"`},
		{"unterminated string", `[file:name = 'a]`, "unterminated string"},
		{"bad escape", `[file:name = 'a\n']`, `only \' and \\`},
		{"no operator", `[file:name 'a']`, "expected a comparison operator"},
		{"no path", `[= 'a']`, "expected an object path"},
		{"upper case type", `[File:name = 'a']`, "not a valid object type"},
		{"no property", `[file: = 'a']`, "expected a property name"},
		{"unquoted hyphen", `[file:hashes.SHA-256 = 'a']`, "quote names with hyphens"},
		{"bad regex", `[file:name MATCHES '(?<=a)b']`, "MATCHES"},
		{"LIKE non-string", `[file:size LIKE 5]`, "LIKE needs a string"},
		{"empty IN", `[file:size IN ()]`, "IN needs at least one value"},
		{"bad timestamp", `[file:created = t'2014-01-13 07:03:17']`, "timestamp"},
		{"timestamp without Z", `[file:created = t'2014-01-13T07:03:17+01:00']`, "timestamp"},
		{"bad hex", `[file:magic_number_hex = h'fff']`, "hex"},
		{"bad binary", `[artifact:payload_bin = b'***']`, "base64"},
		{"WITHIN zero", `[file:name = 'a'] WITHIN 0 SECONDS`, "positive"},
		{"WITHIN no unit", `[file:name = 'a'] WITHIN 5`, "SECONDS"},
		{"REPEATS negative", `[file:name = 'a'] REPEATS -1 TIMES`, "positive"},
		{"STOP before START", `[file:name = 'a'] START t'2016-07-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'`, "later than START"},
		{"trailing", `[file:name = 'a'] ]`, "unexpected"},
		{"dangling AND", `[file:name = 'a' AND]`, "expected an object path"},
		{"bool ordered", `[file:size > true]`, "cannot be ordered"},
		{"stray character", `[file:name = 'a'] ; DROP TABLE`, "unexpected character"},
		{"too deep", strings.Repeat("(", 100) + "[file:name = 'a']" + strings.Repeat(")", 100), "nested more than"},
		{"too long", "[file:name = '" + strings.Repeat("a", MaxPatternLength) + "']", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePattern(tt.pattern)
			if err == nil {
				t.Fatalf("ParsePattern(%q) = nil error", tt.pattern)
			}
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *PatternError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestValidateSpecObjects(t *testing.T) {
	b, err := os.ReadFile("testdata/spec_objects.json")
	if err != nil {
		t.Fatal(err)
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(b, &objs); err != nil {
		t.Fatal(err)
	}
	for _, raw := range objs {
		obj, err := Validate(raw)
		if err != nil {
			t.Errorf("Validate(%s): %v", raw, err)
			continue
		}
		if obj.Type == "indicator" && obj.Pattern == nil {
			t.Errorf("%s: no parsed pattern", obj.ID)
		}
	}
	// The package's own TLP definitions validate too.
	for _, m := range []MarkingDefinition{TLPWhite, TLPGreen, TLPAmber, TLPRed} {
		raw, _ := json.Marshal(m)
		if _, err := Validate(raw); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}

const goodIndicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--cd981c25-8042-4166-8945-51178443bdac",
"created":"2014-05-08T09:00:00.000Z","modified":"2014-05-08T09:00:00.000Z","name":"File hash for Poison Ivy variant",
"indicator_types":["malicious-activity"],
"pattern":"[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
"pattern_type":"stix","valid_from":"2014-05-08T09:00:00.000000Z"}`

func withProp(t *testing.T, base, key string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(m, key)
	} else {
		m[key] = value
	}
	b, _ := json.Marshal(m)
	return b
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"spec_version 2.0", withProp(t, goodIndicator, "spec_version", "2.0"), `spec_version must be "2.1"`},
		{"no spec_version", withProp(t, goodIndicator, "spec_version", nil), "spec_version is missing"},
		{"uuid v1", withProp(t, goodIndicator, "id", "indicator--cd981c25-8042-1166-8945-51178443bdac"), "version 4 or 5"},
		{"upper case id", withProp(t, goodIndicator, "id", "indicator--CD981C25-8042-4166-8945-51178443BDAC"), "not a STIX identifier"},
		{"id of other type", withProp(t, goodIndicator, "id", "malware--cd981c25-8042-4166-8945-51178443bdac"), "does not start with the type"},
		{"timestamp offset", withProp(t, goodIndicator, "created", "2014-05-08T09:00:00+02:00"), "ending in Z"},
		{"modified before created", withProp(t, goodIndicator, "modified", "2014-05-07T09:00:00.000Z"), "modified is before created"},
		{"no pattern", withProp(t, goodIndicator, "pattern", nil), "pattern is missing"},
		{"bad pattern", withProp(t, goodIndicator, "pattern", "[file:hashes.'SHA-256' = ]"), "expected a value"},
		{"bad hash", withProp(t, goodIndicator, "pattern", "[file:hashes.'SHA-256' = 'abc']"), "64 hex digits"},
		{"bad ipv4", withProp(t, goodIndicator, "pattern", "[ipv4-addr:value = '2001:db8::1']"), "wrong address family"},
		{"bad url", withProp(t, goodIndicator, "pattern", "[url:value = 'not a url']"), "absolute URL"},
		{"bad domain", withProp(t, goodIndicator, "pattern", "[domain-name:value = 'a..b']"), "not a domain name"},
		{"snort", withProp(t, goodIndicator, "pattern_type", "snort"), "only stix patterns"},
		{"valid_until before valid_from", withProp(t, goodIndicator, "valid_until", "2014-05-01T00:00:00Z"), "valid_until must be later"},
		{"unknown property", withProp(t, goodIndicator, "colour", "red"), "unknown properties colour"},
		{"wrong JSON type", withProp(t, goodIndicator, "name", 5), "wrong JSON type"},
		{"confidence", withProp(t, goodIndicator, "confidence", 101), "confidence"},
		{"bad marking ref", withProp(t, goodIndicator, "object_marking_refs", []string{"identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e"}), "marking-definition id"},
		{"unsupported type", []byte(`{"type":"attack-pattern","id":"attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"}`), "not accepted"},
		{"duplicate key", []byte(`{"type":"indicator","type":"malware"}`), "duplicate key"},
		{"not an object", []byte(`[1,2]`), "not a JSON object"},
		{"trailing data", []byte(goodIndicator + `{}`), "data after"},
		{"too large", []byte(`{"type":"indicator","x_pad":"` + strings.Repeat("a", MaxObjectSize) + `"}`), "larger than"},
		{"too deep", []byte(`{"type":"indicator","x_deep":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`), "nested more than"},
		{"malware without is_family", []byte(`{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"x"}`), "is_family is missing"},
		{"forged TLP", []byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}}`), "published TLP:WHITE"},
		{"invented TLP id", []byte(`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--b6f6a4c4-43a5-4ee2-8b26-06b9d5f1b5a3","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}}`), "must use one of the ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.raw)
			if err == nil {
				t.Fatal("Validate = nil error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestValidateAllowsCustomProperties(t *testing.T) {
	if _, err := Validate(withProp(t, goodIndicator, "x_healthgate_trust", 80)); err != nil {
		t.Fatal(err)
	}
}

func TestNewAggregateSighting(t *testing.T) {
	ind := "indicator--cd981c25-8042-4166-8945-51178443bdac"
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		count int
		k     int
		ok    bool
	}{
		{"default k refuses 49", 49, 0, false},
		{"default k allows 50", 50, 0, true},
		{"k 11 allows 11", 11, 11, true},
		{"k 11 refuses 10", 10, 11, false},
		{"k below 11 refused", 500, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewAggregateSighting(AggregateSighting{SightingOfRef: ind, Count: tt.count, K: tt.k,
				FirstSeen: now.Add(-time.Hour), LastSeen: now, Now: now})
			if got := err == nil; got != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			raw, _ := json.Marshal(s)
			if _, err := Validate(raw); err != nil {
				t.Errorf("built sighting does not validate: %v", err)
			}
		})
	}
	_, err := NewAggregateSighting(AggregateSighting{SightingOfRef: ind, Count: 3, Now: now})
	if !errors.Is(err, ErrBelowThreshold) {
		t.Errorf("err = %v, want ErrBelowThreshold", err)
	}
}

func TestIDs(t *testing.T) {
	id, err := NewID("indicator", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseID(id); err != nil {
		t.Errorf("NewID: %v", err)
	}
	ns, other := Namespace{1}, Namespace{2}
	a, b := ns.ID("indicator", "x"), ns.ID("indicator", "x")
	if a != b {
		t.Errorf("Namespace.ID not deterministic: %s %s", a, b)
	}
	if _, _, err := ParseID(a); err != nil {
		t.Errorf("Namespace.ID: %v", err)
	}
	if other.ID("indicator", "x") == a || ns.ID("indicator", "y") == a || ns.ID("sighting", "x")[len("sighting--"):] == a[len("indicator--"):] {
		t.Error("ids of other namespaces, names or types collide")
	}
}

func TestDecodeEnvelope(t *testing.T) {
	env, err := DecodeEnvelope(strings.NewReader(`{"more":false,"objects":[`+goodIndicator+`]}`), 10)
	if err != nil || len(env.Objects) != 1 {
		t.Fatalf("envelope: %v, %d objects", err, len(env.Objects))
	}
	bundle := `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + goodIndicator + `]}`
	if env, err := DecodeEnvelope(strings.NewReader(bundle), 10); err != nil || len(env.Objects) != 1 {
		t.Fatalf("bundle: %v", err)
	}
	many := `{"objects":[` + strings.TrimSuffix(strings.Repeat(`{},`, 11), ",") + `]}`
	if _, err := DecodeEnvelope(strings.NewReader(many), 10); !errors.Is(err, ErrTooManyObjects) {
		t.Errorf("11 objects, limit 10: err = %v", err)
	}
	for _, bad := range []string{``, `[]`, `{"objects":{}}`, `{"objekts":[]}`, `{"objects":[],"objects":[]}`, `{"objects":[]} x`,
		`{"type":"bundle","id":"bundle--nope","objects":[]}`, `{"type":"indicator","objects":[]}`, `{"objects":[1,}`} {
		if _, err := DecodeEnvelope(strings.NewReader(bad), 10); err == nil {
			t.Errorf("DecodeEnvelope(%q) = nil error", bad)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range specPatterns(f) {
		f.Add(s)
	}
	f.Add(`[a:b = 'c'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		canon := p.String()
		again, err := ParsePattern(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q then %q", canon, again.String())
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"more":false,"objects":[` + goodIndicator + `]}`))
	f.Add([]byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[]}`))
	f.Add([]byte(`{"more":true,"next":"abc","objects":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := DecodeEnvelope(bytes.NewReader(b), 100)
		if err != nil {
			return
		}
		if len(env.Objects) > 100 {
			t.Fatalf("%d objects past the limit", len(env.Objects))
		}
		for _, o := range env.Objects {
			if obj, err := Validate(o); err == nil && (obj.ID == "" || len(obj.Raw) == 0) {
				t.Fatalf("valid object without id or raw: %s", o)
			}
		}
	})
}

// TestValidateRejectsMore: properties whose shape STIX 2.1 fixes must not
// pass unchecked.
func TestValidateRejectsMore(t *testing.T) {
	rel := `{"type":"relationship","spec_version":"2.1","id":"relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
"created":"2016-04-06T20:06:37.000Z","modified":"2016-04-06T20:06:37.000Z","relationship_type":"indicates",
"source_ref":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"}`
	sel := []string{"description"}
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		// STIX 2.1 section 3.2: created and modified are precise to the
		// nearest millisecond.
		{"created without milliseconds", withProp(t, goodIndicator, "created", "2014-05-08T09:00:00Z"), "created: must have at least millisecond precision"},
		{"modified in tenths", withProp(t, goodIndicator, "modified", "2014-05-08T09:00:00.1Z"), "modified: must have at least millisecond precision"},
		// Section 7.2.3: a list of {selectors, marking_ref | lang}. A RED
		// marking that ObjectTLP cannot read must not slip through as if
		// the object were unmarked.
		{"granular markings not a list", withProp(t, goodIndicator, "granular_markings", map[string]any{"marking_ref": TLP2Red, "selectors": sel}), "granular_markings"},
		{"granular marking without selectors", withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"marking_ref": TLP2Red}}), "granular_markings[0]: selectors"},
		{"granular marking_ref not a number", withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"marking_ref": 5, "selectors": sel}}), "granular_markings"},
		{"granular marking_ref of an identity", withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"marking_ref": "identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e", "selectors": sel}}), "marking-definition id"},
		{"granular marking with nothing", withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"selectors": sel}}), "exactly one of marking_ref and lang"},
		{"granular marking unknown key", withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"marking_ref": TLP2Red, "selectors": sel, "colour": "red"}}), "granular_markings"},
		// Section 5.1: start_time and stop_time are timestamps, stop later.
		{"relationship start_time", withProp(t, rel, "start_time", "yesterday"), "start_time"},
		{"relationship stop before start", withProp(t, string(withProp(t, rel, "start_time", "2016-01-02T00:00:00Z")), "stop_time", "2016-01-01T00:00:00Z"), "stop_time must be later than start_time"},
		// Section 2.8: both names are required.
		{"kill chain phase without phase_name", withProp(t, goodIndicator, "kill_chain_phases", []any{map[string]any{"kill_chain_name": "lockheed-martin-cyber-kill-chain"}}), "kill_chain_phases[0]"},
		// Section 2.5: source_name and at least one of description, url,
		// external_id.
		{"external reference with only a source", withProp(t, goodIndicator, "external_references", []any{map[string]any{"source_name": "x"}}), "external_references[0]"},
		// Section 3.2: extensions is a dictionary.
		{"extensions not an object", withProp(t, goodIndicator, "extensions", "x"), "extensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.raw)
			if err == nil {
				t.Fatal("Validate = nil error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	// What the same rules allow.
	for name, raw := range map[string][]byte{
		"microseconds":     withProp(t, goodIndicator, "modified", "2014-05-08T09:00:00.123456Z"),
		"granular TLP":     withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"marking_ref": TLP2Red, "selectors": sel}}),
		"granular lang":    withProp(t, goodIndicator, "granular_markings", []any{map[string]any{"lang": "fr", "selectors": sel}}),
		"relationship":     withProp(t, string(withProp(t, rel, "start_time", "2016-01-01T00:00:00Z")), "stop_time", "2016-01-02T00:00:00Z"),
		"kill chain phase": withProp(t, goodIndicator, "kill_chain_phases", []any{map[string]any{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"}}),
		"external ref":     withProp(t, goodIndicator, "external_references", []any{map[string]any{"source_name": "capec", "external_id": "CAPEC-163"}}),
		"extensions":       withProp(t, goodIndicator, "extensions", map[string]any{"x-acme-ext": map[string]any{"a": 1}}),
	} {
		if _, err := Validate(raw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestParsePatternKeywordNamedProperties: a property named like a keyword
// (network-traffic:start, STIX 2.1 section 6.12) is a property in an
// object path, not the START qualifier.
func TestParsePatternKeywordNamedProperties(t *testing.T) {
	for _, s := range []string{
		`[network-traffic:start > t'2016-01-01T00:00:00Z']`,
		`[network-traffic:start > t'2016-01-01T00:00:00Z' AND network-traffic:end < t'2016-01-02T00:00:00Z'] START t'2016-01-01T00:00:00Z' STOP t'2016-01-03T00:00:00Z'`,
		`[x-acme:details.in = 'a']`,
	} {
		p, err := ParsePattern(s)
		if err != nil {
			t.Errorf("ParsePattern(%s): %v", s, err)
			continue
		}
		if again, err := ParsePattern(p.String()); err != nil || again.String() != p.String() {
			t.Errorf("round trip of %s: %v, %v", p, again, err)
		}
	}
	// A keyword is still a keyword where a keyword goes.
	if p, err := ParsePattern(`[file:name = 'a'] and [file:name = 'b']`); err != nil || p.Expr.(*ObservationBinary).Op != "AND" {
		t.Errorf("lower-case and: %v, %v", p, err)
	}
}

func TestFormatVersion(t *testing.T) {
	for in, want := range map[string]string{
		"2016-01-01T00:00:00Z":           "2016-01-01T00:00:00.000Z",
		"2016-01-01T00:00:00.1Z":         "2016-01-01T00:00:00.100Z",
		"2016-01-01T00:00:00.123456Z":    "2016-01-01T00:00:00.123456Z",
		"2016-01-01T00:00:00.120000Z":    "2016-01-01T00:00:00.120Z",
		"2016-01-01T00:00:00.123456789Z": "2016-01-01T00:00:00.123456789Z",
	} {
		ts, err := ParseTimestamp(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatVersion(ts); got != want {
			t.Errorf("FormatVersion(%s) = %s, want %s", in, got, want)
		}
	}
}
