package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/simulate"
)

func TestSimulateBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no devices", []string{"--devices", "0"}, "devices must be"},
		{"too many devices", []string{"--devices", "100001"}, "devices must be"},
		{"too many days", []string{"--days", "366"}, "days must be"},
		{"outbreak after the end", []string{"--days", "10", "--outbreak-day", "11"}, "outbreak day"},
		{"shrinking outbreak", []string{"--outbreak-growth", "0.5"}, "outbreak growth"},
		{"every problem at once", []string{"--devices", "0", "--days", "0"}, "days must be"},
		{"bad start", []string{"--start", "01/03/2025"}, "--start"},
		{"not a number", []string{"--devices", "many"}, "invalid value"},
		{"extra argument", []string{"now"}, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got, want := Run(context.Background(), append([]string{"simulate"}, tc.args...), &stdout, &stderr), exitUsage; got != want {
				t.Errorf("exit = %d, want %d; stderr: %s", got, want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestSimulateJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"simulate", "--devices", "30", "--days", "4", "--outbreak-day", "2", "--outbreak-devices", "2",
		"--seed", "3", "--start", "2025-03-01", "--data", t.TempDir(), "--json"}
	if code := Run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum simulate.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("output is not the JSON summary: %v\n%s", err, stdout.String())
	}
	if got, want := len(sum.Days), 4; got != want {
		t.Fatalf("days = %d, want %d", got, want)
	}
	if got, want := sum.Days[0].Date, "2025-03-01"; got != want {
		t.Errorf("first day = %s, want %s", got, want)
	}
	for i, want := range []int{0, 2, 4, 8} {
		if got := sum.Days[i].Infected; got != want {
			t.Errorf("day %d: infected = %d, want %d", i+1, got, want)
		}
	}
	if sum.Timing.Reports == 0 {
		t.Error("no reports")
	}
}
