package intel

import (
	"strings"
	"testing"
	"time"
)

func TestParseImport(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"jsonl", `{"type":"url","value":"http://evil.example/a","confidence":90,"ttl":"3d","reason":"bank report"}
# a comment

{"type":"tool","value":"AnyDesk","status":"pending_review"}`, 2, ""},
		{"csv any column order", "value,type\nevil.example,domain\n1.2.3.4,ip\n", 2, ""},
		{"csv with BOM", "\ufefftype,value\ntool,rustdesk\n", 1, ""},
		{"jsonl bad line", `{"type":"url","value":"http://evil.example/"}` + "\n" + `{"type":"sha256","value":"12"}`, 0, "line 2: sha256 must be 64 hex digits"},
		{"jsonl unknown field", `{"type":"tool","value":"anydesk","colour":"red"}`, 0, "line 1: not a JSON indicator"},
		{"jsonl two values", `{"type":"tool","value":"anydesk"}{"type":"tool","value":"x11vnc"}`, 0, "line 1: more than one JSON value"},
		{"jsonl bad confidence", `{"type":"tool","value":"anydesk","confidence":101}`, 0, "line 1: confidence"},
		{"jsonl ttl too long", `{"type":"url","value":"http://x.example/","ttl":"400d"}`, 0, "line 1: lifetime"},
		{"jsonl bad status", `{"type":"tool","value":"anydesk","status":"retired"}`, 0, "line 1: status"},
		{"csv no header", "domain,evil.example\n", 0, "line 1: unknown column"},
		{"csv missing value column", "type,source\n", 0, "line 1: the header must name a value column"},
		{"csv bad line", "type,value\ntool,anydesk\nip,not-an-ip\n", 0, "line 3: ip"},
		{"csv ragged", "type,value\ntool,anydesk,extra\n", 0, "line 2:"},
		{"csv bad quote", "type,value\ntool,\"any\"desk\"\n", 0, "line 2:"},
		{"empty", "", 0, "no indicators"},
		{"header only", "type,value\n", 0, "no indicators"},
		{"jsonl starting with a comment", "# exported by the bank\n" + `{"type":"tool","value":"anydesk"}` + "\n", 1, ""},
		{"jsonl starting with blank lines and comments", "\n  \n# a\n\t# b\n" + `{"type":"tool","value":"anydesk"}`, 1, ""},
		{"csv starting with a comment", "# exported by the bank\ntype,value\ntool,anydesk\n", 1, ""},
		{"csv blank line with spaces", "type,value\ntool,anydesk\n   \ndomain,evil.example\n", 2, ""},
		{"csv indented comment", "type,value\ntool,anydesk\n  # checked by J.\ndomain,evil.example\n", 2, ""},
		{"csv empty cells as spreadsheets export", "type,value,source\ntool,anydesk,bank\n,,\n , ,\n", 1, ""},
		{"csv starting with an indented comment", "  # exported by the bank\n\ntype,value\ntool,anydesk\n", 1, ""},
		{"csv header after a comment", "# exported by the bank\ntype,colour\n", 0, "line 2: unknown column"},
		{"csv too few fields", "type,value,source\ntool,anydesk,bank\ndomain,evil.example\n", 0, "line 3: 2 fields, the header has 3"},
		{"csv too many fields", "type,value\ntool,anydesk\nip,1.2.3.4,\n", 0, "line 3: 3 fields, the header has 2"},
		{"long line", `{"type":"tool","value":"` + strings.Repeat("a", 20000) + `"}`, 0, "line 1: longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := ParseImport(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want it to contain %q", err, tt.err)
				}
				if recs != nil {
					t.Error("records returned with an error")
				}
				return
			}
			if err != nil || len(recs) != tt.n {
				t.Fatalf("got %d records, %v; want %d", len(recs), err, tt.n)
			}
		})
	}
	recs, _ := ParseImport(strings.NewReader(`{"type":"url","value":"HTTP://Evil.Example/a","confidence":90,"ttl":"3d","reason":"bank report"}`))
	if r := recs[0]; r.Value != "http://evil.example/a" || r.Confidence != 90 || r.TTL != 72*time.Hour || r.Reason != "bank report" || r.Status != StatusActive {
		t.Errorf("record = %+v", r)
	}
}

// TestParseImportTooLarge: a CSV file over the size bound fails; it is
// not cut short at the bound, which would import a truncated last record.
func TestParseImportTooLarge(t *testing.T) {
	defer func(n int64) { maxImportBytes = n }(maxImportBytes)
	file := "type,value\ndomain,evil.example\ndomain,evil-two.example\n"
	maxImportBytes = int64(len(file) - 5) // inside the last record: "domain,evil-tw"
	if recs, err := ParseImport(strings.NewReader(file)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ParseImport = %d records, %v; want the file refused as too large", len(recs), err)
	}
	maxImportBytes = int64(len(file))
	if recs, err := ParseImport(strings.NewReader(file)); err != nil || len(recs) != 2 {
		t.Errorf("at the bound: %d records, %v; want 2", len(recs), err)
	}
}
