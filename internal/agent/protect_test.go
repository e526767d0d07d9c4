package agent

import (
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

func TestMarkNew(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	a, err := New(Config{Server: "http://127.0.0.1:1", StateDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hash := "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	mark := func() []bool {
		fs := []evidence.Finding{{Code: "malware", Subject: hash}, {Code: "rogue_dns", Subject: "203.0.113.53"}, {Code: "other"}}
		a.markNew(fs)
		return []bool{fs[0].New, fs[1].New, fs[2].New}
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    []bool
	}{
		{"first match is new", 0, []bool{true, true, false}},
		{"the next day it is not", 24 * time.Hour, []bool{false, false, false}},
		{"a match keeps the memory fresh", 29 * 24 * time.Hour, []bool{false, false, false}},
		{"after 30 days without it, new again", 31 * 24 * time.Hour, []bool{true, true, false}},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got := mark()
		for i := range got {
			if got[i] != s.want[i] {
				t.Errorf("%s: New = %v, want %v", s.name, got, s.want)
				break
			}
		}
	}
	// The memory survives a restart of the agent.
	b, err := New(Config{Server: "http://127.0.0.1:1", StateDir: a.cfg.StateDir, Now: func() time.Time { return now.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	fs := []evidence.Finding{{Code: "malware", Subject: hash}}
	b.markNew(fs)
	if fs[0].New {
		t.Error("a restarted agent forgot what it matched an hour ago")
	}
}
