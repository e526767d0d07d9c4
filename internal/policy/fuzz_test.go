package policy

import "testing"

// FuzzLoad checks that Load never panics on arbitrary policy text.
func FuzzLoad(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte(header + rule("a", "has(facts.firewall) && !facts.firewall.enabled")))
	f.Add([]byte("id: x\nversion: 1\nrules: [{id: a}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Load(b)
		if err == nil {
			p.Evaluate(Input{})
		}
	})
}
