//go:build windows

package posture

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestLiveSystem runs every collector on the Windows the test runs on: a
// real machine, or Wine (test/wine, which builds this test for Windows
// and runs it there). It fails when a collector panics or overruns its
// timeout; a group Windows cannot answer is unknown, which is fine here.
// With HEALTHGATE_LIVE_FACTS set, the facts are written to that file for a
// harness that knows what the machine should show.
func TestLiveSystem(t *testing.T) {
	facts := Collect(context.Background(), Options{})
	for group, why := range facts.Unknown {
		if strings.Contains(why, "collector panicked") || strings.Contains(why, "timed out after") {
			t.Errorf("%s: %s", group, why)
		} else {
			t.Logf("%s unknown: %s", group, why)
		}
	}
	if out := os.Getenv("HEALTHGATE_LIVE_FACTS"); out != "" {
		data, err := json.MarshalIndent(facts, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
