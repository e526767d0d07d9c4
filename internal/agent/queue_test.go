package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

func queued(i int) QueuedReport {
	return QueuedReport{
		CollectedAt: t0.Add(time.Duration(i) * time.Minute),
		Facts:       evidence.Facts{Firewall: &evidence.FirewallFacts{Enabled: i%2 == 0, Backend: "nftables"}},
	}
}

func TestQueueBounds(t *testing.T) {
	big := strings.Repeat("x", 1000)
	tests := []struct {
		name        string
		maxEntries  int
		maxBytes    int64
		push        int
		pad         string // makes each entry about this much bigger
		wantLen     int
		wantDropped int
		wantFirst   int // index of the oldest report left
	}{
		{"under the bounds", 10, 1 << 20, 5, "", 5, 0, 0},
		{"entry bound drops the oldest", 3, 1 << 20, 5, "", 3, 2, 2},
		{"byte bound drops the oldest", 100, 2500, 5, big, 2, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := OpenQueue(t.TempDir(), tt.maxEntries, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.push {
				r := queued(i)
				if tt.pad != "" {
					r.Findings = []evidence.Finding{{Code: "pad", Subject: tt.pad}}
				}
				if _, err := q.Push(r); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := q.Len(), tt.wantLen; got != want {
				t.Errorf("Len() = %d, want %d", got, want)
			}
			if got, want := q.Dropped(), tt.wantDropped; got != want {
				t.Errorf("Dropped() = %d, want %d", got, want)
			}
			r, ok, err := q.Peek()
			if err != nil || !ok {
				t.Fatalf("Peek() = %v, %v", ok, err)
			}
			if got, want := r.CollectedAt, queued(tt.wantFirst).CollectedAt; !got.Equal(want) {
				t.Errorf("oldest entry collected at %v, want %v", got, want)
			}
		})
	}
}

func TestQueueRefusesOversizedReport(t *testing.T) {
	q, err := OpenQueue(t.TempDir(), 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Push(queued(0)); err == nil {
		t.Fatal("Push of a report over the byte bound succeeded")
	}
	if q.Len() != 0 {
		t.Errorf("Len() = %d, want 0", q.Len())
	}
}

func TestQueueSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	q, err := OpenQueue(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := q.Push(queued(i)); err != nil {
			t.Fatal(err)
		}
	}
	first, _, _ := q.Peek()
	if err := q.Remove(first.Seq); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a write leaves a temporary file behind; a
	// corrupt entry stands for a disk that lied.
	if err := os.WriteFile(filepath.Join(dir, ".00000000000000000009.json.123"), []byte("{half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, entryName(2)), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}

	q, err = OpenQueue(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Len(), 2; got != want {
		t.Fatalf("Len() after reopen = %d, want %d", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".00000000000000000009.json.123")); !os.IsNotExist(err) {
		t.Errorf("leftover temporary file was not removed: %v", err)
	}
	r, ok, err := q.Peek()
	if err != nil || !ok {
		t.Fatalf("Peek() = %v, %v", ok, err)
	}
	if got, want := r.Seq, uint64(3); got != want {
		t.Errorf("Peek() seq = %d, want %d (the corrupt seq 2 skipped)", got, want)
	}
	if got, want := r.CollectedAt, queued(2).CollectedAt; !got.Equal(want) {
		t.Errorf("Peek() collected at %v, want %v", got, want)
	}
	if r.Facts.Firewall == nil || r.Facts.Firewall.Backend != "nftables" {
		t.Errorf("facts did not survive the round trip: %+v", r.Facts)
	}
	if got, want := q.Dropped(), 1; got != want {
		t.Errorf("Dropped() = %d, want %d (the corrupt entry)", got, want)
	}
	n, err := q.Push(queued(9))
	if err != nil || n != 0 {
		t.Fatalf("Push() = %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, entryName(4))); err != nil {
		t.Errorf("new entry after reopen does not continue the sequence: %v", err)
	}
}
