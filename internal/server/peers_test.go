package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// TestPeerAnnouncements: what another node announces reaches this node's
// device traits, the way its own enrolments and reports do; malformed or
// unknown announcements change nothing.
func TestPeerAnnouncements(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s, err := New(ctx, Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tag := s.networkTag("203.0.113.0/24")
	if tag == "" || tag == s.networkTag("198.51.100.0/24") {
		t.Fatalf("network tags %q: want distinct, non-empty", tag)
	}
	for _, dev := range []string{"d1", "d2", "d3"} {
		s.peerAnnouncement(announceEnrolment, []byte(`{"device":"`+dev+`","network":"`+tag+`"}`))
	}
	s.traits.add("d4", tag, now) // and one enrolled here
	if n := s.traits.recent("d1", now); n != 4 {
		t.Errorf("enrolments from d1's network = %d, want 4", n)
	}

	s.peerAnnouncement(announceVirtual, []byte(`{"device":"d1","virtual":true}`))
	if !s.traits.isVirtual("d1") {
		t.Error("d1 announced virtual, not known as virtual")
	}
	s.peerAnnouncement(announceVirtual, []byte(`{"device":"d1","virtual":false}`))
	if s.traits.isVirtual("d1") {
		t.Error("d1's later report said not virtual, still known as virtual")
	}

	for _, bad := range []struct{ kind, body string }{
		{announceEnrolment, `{"device":"d9"}`},
		{announceEnrolment, `not json`},
		{announceVirtual, `{"virtual":true}`},
		{"from-a-newer-node", `{"device":"d9","network":"` + tag + `"}`},
	} {
		s.peerAnnouncement(bad.kind, []byte(bad.body))
	}
	if n := s.traits.recent("d9", now); n != 0 || s.traits.isVirtual("d9") {
		t.Errorf("bad announcements changed d9: %d enrolments, virtual %v", n, s.traits.isVirtual("d9"))
	}
}

// TestTraitsReportedChange: a report is announced only when it changes
// what this node knew.
func TestTraitsReportedChange(t *testing.T) {
	tr := newDeviceTraits()
	for i, tt := range []struct {
		virtual, changed bool
	}{{false, false}, {true, true}, {true, false}, {false, true}, {false, false}} {
		if got := tr.reported("d1", tt.virtual); got != tt.changed {
			t.Errorf("report %d (virtual %v): changed = %v, want %v", i, tt.virtual, got, tt.changed)
		}
	}
}
