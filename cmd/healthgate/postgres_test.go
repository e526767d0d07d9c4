package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/client"
	"github.com/healthgate/healthgate/internal/store/postgres/pgtest"
)

// TestPostgresTwoNodes runs the scale path: two server processes on one
// PostgreSQL database. A relying party created with --db, a device that
// enrols and reports at one node, a payment decided at the other with the
// certificate (the nodes share the signing keys), the decision fetched and
// given feedback at the first.
func TestPostgresTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	db := pgtest.Schema(t)
	bin := buildBinary(t)

	out, code := run(t, bin, "rp", "create", "shop", "--db", db)
	if code != 0 {
		t.Fatalf("rp create --db exited %d: %s", code, out)
	}
	key := lastField(out)
	nodeA := startServerArgs(t, bin, "--db", db)
	nodeB := startServerArgs(t, bin, "--db", db)

	state := filepath.Join(t.TempDir(), "state")
	out, code = run(t, bin, "agent", "--server", nodeA, "--state", state, "--once", "--json", "--root", tree("healthy"))
	if code != 0 {
		t.Fatalf("agent exited %d: %s", code, out)
	}
	var a answer
	if err := json.Unmarshal([]byte(out), &a); err != nil || a.Certificate == "" {
		t.Fatalf("agent --json printed %q: %v", out, err)
	}
	if a.Tier != "affirming" {
		t.Fatalf("tier %q, want affirming", a.Tier)
	}

	ctx := context.Background()
	atB, err := client.New(nodeB, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := atB.Decide(ctx, client.Transaction{Certificate: a.Certificate, Event: "payment", Account: "acct-1",
		Amount: "42.00", Currency: "CNY", Payee: "Acme", MerchantURL: "https://shop.example/pay", Channel: "web"})
	if err != nil {
		t.Fatalf("decision at the other node: %v", err)
	}
	var sig struct {
		Certificate struct{ Valid bool }  `json:"certificate"`
		Device      struct{ Tier string } `json:"device"`
	}
	if err := json.Unmarshal(d.Signals, &sig); err != nil {
		t.Fatal(err)
	}
	if !sig.Certificate.Valid || sig.Device.Tier != "affirming" {
		t.Errorf("node B did not accept node A's certificate: %s", d.Signals)
	}

	atA, err := client.New(nodeA, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := atA.Decision(ctx, d.ID)
	if err != nil {
		t.Fatalf("decision %s made at node B, fetched at node A: %v", d.ID, err)
	}
	if got.Outcome != d.Outcome || string(got.Signals) != string(d.Signals) {
		t.Errorf("fetched decision differs:\n%+v\n%+v", got, d)
	}
	if err := atA.Feedback(ctx, d.ID, "legitimate"); err != nil {
		t.Fatalf("feedback: %v", err)
	}
	if got, err := atB.Decision(ctx, d.ID); err != nil || got.Feedback != "legitimate" {
		t.Errorf("feedback given at node A not seen at node B: %+v %v", got, err)
	}
	// A key made by rotating in the shared database works at once at
	// both nodes (revocation takes up to server.KeyCacheTTL, by design).
	out, code = run(t, bin, "rp", "rotate", "shop", "--db", db)
	if code != 0 {
		t.Fatalf("rp rotate: %s", out)
	}
	for _, node := range []string{nodeA, nodeB} {
		c, err := client.New(node, lastField(out))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decision(ctx, d.ID); err != nil {
			t.Errorf("rotated key refused at %s: %v", node, err)
		}
	}
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
