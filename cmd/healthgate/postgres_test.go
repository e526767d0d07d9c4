package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	for _, node := range []string{nodeA, nodeB} {
		waitMetric(t, node, "healthgate_peer_watch_up", 1) // listening to the other node
	}

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

	// Node A told node B the network the device enrolled from.
	waitMetric(t, nodeB, `healthgate_peer_announcements_total{kind="enrolment"}`, 1)

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
		Certificate struct{ Valid bool } `json:"certificate"`
		Device      struct {
			Tier              string
			NetworkEnrolments int `json:"network_enrolments_1h"`
		} `json:"device"`
	}
	if err := json.Unmarshal(d.Signals, &sig); err != nil {
		t.Fatal(err)
	}
	if !sig.Certificate.Valid || sig.Device.Tier != "affirming" {
		t.Errorf("node B did not accept node A's certificate: %s", d.Signals)
	}
	if sig.Device.NetworkEnrolments != 1 {
		t.Errorf("node B counted %d enrolments from the device's network in the hour, want 1 (made at node A)", sig.Device.NetworkEnrolments)
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
	// Velocity is counted across nodes: payments of one account, made
	// alternately at the two nodes, each see all the earlier ones, and
	// the sixth in the hour asks for more proof (velocity_account), as it
	// would at one node.
	made := map[string]int{nodeA: 0, nodeB: 1} // decisions made at each node so far
	clients := map[string]*client.Client{nodeA: atA, nodeB: atB}
	for i := range 6 {
		node, other := nodeA, nodeB
		if i%2 == 1 {
			node, other = nodeB, nodeA
		}
		d, err := clients[node].Decide(ctx, client.Transaction{Certificate: a.Certificate, Event: "payment", Account: "acct-velocity",
			Amount: "10.00", Currency: "CNY", Payee: "Acme", MerchantURL: "https://shop.example/pay", Channel: "web"})
		if err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
		var v struct {
			Velocity struct {
				AccountPayments int `json:"account_payments_1h"`
			} `json:"velocity"`
		}
		if err := json.Unmarshal(d.Signals, &v); err != nil {
			t.Fatal(err)
		}
		if v.Velocity.AccountPayments != i {
			t.Errorf("payment %d at %s counted %d earlier payments of the account, want %d", i, node, v.Velocity.AccountPayments, i)
		}
		if i == 5 && (d.Outcome != "step_up" || !slices.Contains(d.Reasons, "velocity_account")) {
			t.Errorf("sixth payment in the hour across two nodes: %s %v, want step_up for velocity_account", d.Outcome, d.Reasons)
		}
		made[node]++
		waitMetric(t, other, "healthgate_peer_decisions_total", made[node])
	}

	// A key made by rotating in the shared database works at once at
	// both nodes, and revoking it takes effect at once at both: the CLI
	// tells the nodes, which drop the key they cached.
	out, code = run(t, bin, "rp", "rotate", "shop", "--db", db)
	if code != 0 {
		t.Fatalf("rp rotate: %s", out)
	}
	rotated := lastField(out)
	for _, node := range []string{nodeA, nodeB} {
		c, err := client.New(node, rotated)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decision(ctx, d.ID); err != nil {
			t.Errorf("rotated key refused at %s: %v", node, err)
		}
	}
	keyID := strings.Split(rotated, "_")[1]
	out, code = run(t, bin, "rp", "revoke", keyID, "--db", db)
	if code != 0 || !strings.Contains(out, "at once") {
		t.Fatalf("rp revoke %s: %d %s", keyID, code, out)
	}
	for _, node := range []string{nodeA, nodeB} {
		waitMetric(t, node, `healthgate_peer_announcements_total{kind="api-keys"}`, 2) // the rotation's, the revocation's
		c, err := client.New(node, rotated)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decision(ctx, d.ID); err == nil {
			t.Errorf("revoked key still accepted at %s", node)
		}
	}
}

// waitMetric waits until node's /metrics shows the sample name (with its
// labels) at want or more.
func waitMetric(t *testing.T, node, name string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := -1
	for time.Now().Before(deadline) {
		resp, err := http.Get(node + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				got, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if got >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: %s is %d, want %d", node, name, got, want)
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
