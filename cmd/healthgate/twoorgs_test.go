package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTwoOrganisations runs two real health services (two organisations)
// on loopback. An indicator added at organisation A is shared over TAXII,
// pulled by B, lands in B's protective feed, and B's agents then find it
// on a device: what one organisation learns protects the other's users.
func TestTwoOrganisations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	dataA, dataB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	baseA, baseB := startServerData(t, bin, dataA), startServerData(t, bin, dataB)

	out, code := run(t, bin, "partner", "create", "org-b", "--data", dataA)
	if code != 0 {
		t.Fatalf("partner create: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	words := strings.Fields(lines[len(lines)-1])
	tokenB := words[len(words)-1]

	// Org A's lab finds that a trojanised sshd steals payment passwords;
	// the healthy testdata tree happens to run that very binary. Before
	// the indicator is shared, B's agent sees nothing wrong with it.
	const hash = "527d3e376de337652508764fffbdd21dcd743fd21b29e37f1c1d31cc1023a256" // healthy tree's usr/sbin/sshd
	state := filepath.Join(t.TempDir(), "agent")
	out, code = run(t, bin, "agent", "--server", baseB, "--state", state, "--once", "--root", tree("healthy"))
	if code != 0 || strings.TrimSpace(out) != "affirming" {
		t.Fatalf("agent of B before the indicator: %d %q, want affirming", code, out)
	}
	if out, code := run(t, bin, "intel", "add", "sha256", hash, "--source", "org-a-lab", "--reason", "banking trojan", "--data", dataA); code != 0 {
		t.Fatalf("intel add at A: %s", out)
	}
	out, code = run(t, bin, "intel", "pull", "--server", baseA+"/taxii2/", "--token", tokenB, "--partner", "org-a", "--trust", "70", "--data", dataB)
	if code != 0 || !strings.Contains(out, "pulled 1 indicators") {
		t.Fatalf("intel pull at B: %d %s", code, out)
	}

	// B's feed carries it (file hashes travel in full).
	resp, err := http.Get(baseB + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), hash) {
		t.Fatalf("B's feed: %d %.300s, want it to list %s", resp.StatusCode, body, hash)
	}

	// The same agent syncs the feed again, matches the running program
	// locally, and its report says so. (The feed is due again because each
	// --once run is a new process.)
	out, code = run(t, bin, "agent", "--server", baseB, "--state", state, "--once", "--json", "--root", tree("healthy"))
	if code != 0 {
		t.Fatalf("agent of B: %s", out)
	}
	if _, err := os.Stat(filepath.Join(state, "feed.json")); err != nil {
		t.Errorf("the agent kept no feed: %v", err)
	}
	var a struct {
		Tier     string `json:"tier"`
		Findings []struct {
			Code string `json:"code"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, f := range a.Findings {
		codes = append(codes, f.Code)
	}
	if a.Tier != "contraindicated" || !slices.Contains(codes, "known_malware") {
		t.Errorf("agent of B: tier %s findings %v, want contraindicated with known_malware", a.Tier, codes)
	}
}
