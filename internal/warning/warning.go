// Package warning is the catalog of what Healthgate tells the person paying
// when a transaction decision is not a plain "allow": a stable code, a
// severity, a title and text in zh-CN and en, and the steps to take. The
// readers are not technical: each entry says what is wrong, why it matters
// for their money, and exactly what to do.
package warning

import "sort"

// Languages every entry is written in.
var Languages = []string{"zh-CN", "en"}

// Severity orders how bad a warning is.
type Severity int

// Severities, least severe first.
const (
	Info Severity = iota
	Caution
	Danger
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Caution:
		return "caution"
	case Danger:
		return "danger"
	}
	return "unknown"
}

// MarshalText encodes the severity by name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Warning is one catalog entry.
type Warning struct {
	Code     string
	Severity Severity
	Title    map[string]string
	Text     map[string]string
	// Steps are what to do, in order, per language.
	Steps map[string][]string
}

// Lookup returns the entry for code.
func Lookup(code string) (Warning, bool) {
	w, ok := catalog[code]
	return w, ok
}

// All returns every entry, by code.
func All() []Warning {
	out := make([]Warning, 0, len(catalog))
	for _, w := range catalog {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

func zhEn(zh, en string) map[string]string { return map[string]string{"zh-CN": zh, "en": en} }

func steps(zh, en []string) map[string][]string { return map[string][]string{"zh-CN": zh, "en": en} }
