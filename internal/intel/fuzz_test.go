package intel

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCanonicalURL: canonicalisation never panics, is idempotent, yields
// only printable ASCII, and every URL has at most 30 expressions.
func FuzzCanonicalURL(f *testing.F) {
	for _, ex := range safeBrowsingExamples {
		f.Add(ex.in)
	}
	f.Add("http://[::1]:8080/a/../b?c#d")
	f.Add("http://0x7f.1/%%32%35")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := CanonicalURL(raw)
		if err != nil {
			return
		}
		for i := 0; i < len(c); i++ {
			if c[i] <= 0x20 || c[i] >= 0x7f || c[i] == '#' {
				t.Fatalf("CanonicalURL(%q) = %q has byte %#x", raw, c, c[i])
			}
		}
		again, err := CanonicalURL(c)
		if err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, c, again, err)
		}
		exprs, err := Expressions(raw)
		if err != nil || len(exprs) == 0 || len(exprs) > 30 {
			t.Fatalf("Expressions(%q) = %d, %v", raw, len(exprs), err)
		}
		if u, err := URLExpression(raw); err != nil || !strings.HasPrefix(c, "http") && !strings.Contains(c, "://") || u == "" {
			t.Fatalf("URLExpression(%q) = %q, %v", raw, u, err)
		}
	})
}

// FuzzParseImport: the import parser never panics, and what it accepts is
// all canonical (normalising again changes nothing).
func FuzzParseImport(f *testing.F) {
	f.Add([]byte("type,value\ntool,anydesk\n"))
	f.Add([]byte(`{"type":"url","value":"http://evil.example/a","confidence":90,"ttl":"3d"}` + "\n"))
	f.Add([]byte("value,type,ttl\n1.2.3.0/24,ip,7d\n"))
	f.Add([]byte("\ufefftype,value,status\nsha256," + strings.Repeat("A", 64) + ",pending_review\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := ParseImport(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range recs {
			n, err := Normalize(r.Type, r.Value)
			if err != nil || n.Value != r.Value || n.Entry != r.Norm.Entry {
				t.Fatalf("accepted %+v but normalising again gives %+v, %v", r, n, err)
			}
			if r.Confidence < 0 || r.Confidence > 100 {
				t.Fatalf("confidence %d", r.Confidence)
			}
		}
	})
}
