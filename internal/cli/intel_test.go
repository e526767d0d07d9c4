package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIntel(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "intel", "add", "domain", "Phish.Example.", "--confidence", "90", "--reason", "reported by a bank", "--data", dir)
	if code != 0 || !strings.HasPrefix(out, "active domain phish.example ind_") {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	id := lastWord(out)
	for _, bad := range [][]string{
		{"intel", "add", "sha256", "nothex"},
		{"intel", "add", "colour", "red"},
		{"intel", "add", "url", "http://x.example/", "--ttl", "400d"},
		{"intel", "add", "tool", "anydesk", "--confidence", "101"},
		{"intel", "retire", id}, // no reason
		{"intel", "list", "--status", "gone"},
		{"intel", "frob"},
	} {
		if code, _, _ := runCLI(t, append(bad, "--data", dir)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}

	csv := "type,value,source,confidence,ttl,reason\n" +
		"sha256,ED01EBFBC9EB5BBEA545AF4D01BF5F1071661840480439C6E5BABE8E080E41AA,vendor,95,,WannaCry\n" +
		"# comment\n" +
		"ip,85.255.112.0/20,fbi,80,30d,DNSChanger\n" +
		"tool,AnyDesk,,70,,\n"
	path := filepath.Join(dir, "feed.csv")
	os.WriteFile(path, []byte(csv), 0o600)
	if code, out, errOut := runCLI(t, "intel", "import", path, "--data", dir); code != 0 || !strings.Contains(out, "imported 3") {
		t.Fatalf("import csv: %d %q %q", code, out, errOut)
	}
	// A bad line rejects the whole file and names the line.
	jsonl := `{"type":"url","value":"http://evil.example/login"}` + "\n" +
		`{"type":"url","value":"http://good.example/"}` + "\n" +
		`{"type":"sha256","value":"xyz"}` + "\n"
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(jsonl), 0o600)
	code, _, errOut = runCLI(t, "intel", "import", bad, "--data", dir)
	if code != exitFail || !strings.Contains(errOut, "line 3") || !strings.Contains(errOut, "nothing was imported") {
		t.Errorf("bad import: %d %q", code, errOut)
	}

	code, out, _ = runCLI(t, "intel", "list", "--json", "--data", dir)
	var list []indicatorJSON
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("list --json: %d %v %q", code, err, out)
	}
	if len(list) != 4 {
		t.Fatalf("%d indicators after a refused import, want 4: %+v", len(list), list)
	}
	for _, in := range list {
		switch in.Type {
		case "domain":
			if in.Confidence != 90 || in.Expires == nil || !strings.HasPrefix(in.Feed, "prefix:") {
				t.Errorf("domain = %+v", in)
			}
		case "tool":
			if in.Value != "anydesk" || in.Expires != nil || in.Source != "import:feed.csv" || in.Feed != "tool:anydesk" {
				t.Errorf("tool = %+v", in)
			}
		case "sha256":
			if in.Value != strings.ToLower(in.Value) || in.Source != "vendor" {
				t.Errorf("sha256 = %+v", in)
			}
		}
	}
	code, out, _ = runCLI(t, "intel", "list", "--type", "ip", "--data", dir)
	if code != 0 || !strings.Contains(out, "85.255.112.0/20") || strings.Contains(out, "anydesk") {
		t.Errorf("list --type ip: %d %q", code, out)
	}

	if code, out, errOut := runCLI(t, "intel", "retire", "phish.example", "--reason", "site taken down", "--actor", "alice", "--data", dir); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("retire by value: %d %q %q", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "intel", "retire", id, "--reason", "again", "--data", dir); code != exitFail {
		t.Errorf("retiring twice: exit %d", code)
	}
	code, out, _ = runCLI(t, "intel", "show", id, "--json", "--data", dir)
	var shown struct {
		Status  string `json:"status"`
		History []struct{ Actor, Action, To, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil {
		t.Fatalf("show: %d %v %q", code, err, out)
	}
	if shown.Status != "retired" || len(shown.History) != 2 || shown.History[0].Reason != "reported by a bank" ||
		shown.History[1].Actor != "alice" || shown.History[1].Reason != "site taken down" || shown.History[1].To != "retired" {
		t.Errorf("show = %+v", shown)
	}
}
