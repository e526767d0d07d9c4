package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

func TestIntelAdminAPI(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.rp("soc", store.ScopeAdmin)
	shop, _ := e.rp("shop", store.ScopeDecisions)
	const hash = "17290366870e58f928724a26c39fe4ecd185e649436570f4de883fd66e0c6412"
	good := jsonBody(map[string]any{"indicators": []map[string]any{
		{"type": "sha256", "value": strings.ToUpper(hash), "confidence": 90, "reason": "banking trojan"},
		{"type": "domain", "value": "Pay-Examp1e.COM", "ttl": "3d"},
	}})
	bad := jsonBody(map[string]any{"indicators": []map[string]any{
		{"type": "domain", "value": "ok.example"},
		{"type": "sha256", "value": "not-a-hash"},
	}})
	tests := []struct {
		name, method, path, key string
		body                    []byte
		status                  int
		contains                string
	}{
		{"no key", "POST", "/v1/admin/indicators", "", good, 401, "unauthorized"},
		{"decisions key", "POST", "/v1/admin/indicators", shop, good, 403, "forbidden"},
		{"one bad entry refuses all", "POST", "/v1/admin/indicators", admin, bad, 400, "indicators[1]"},
		{"add", "POST", "/v1/admin/indicators", admin, good, 201, hash},
		{"list", "GET", "/v1/admin/indicators?type=domain", admin, nil, 200, "pay-examp1e.com"},
		{"bad type", "GET", "/v1/admin/indicators?type=nope", admin, nil, 400, "bad_type"},
		{"bad limit", "GET", "/v1/admin/indicators?limit=0", admin, nil, 400, "bad_limit"},
		{"retire without reason", "POST", "/v1/admin/indicators/ID/retire", admin, []byte(`{}`), 400, "bad_reason"},
		{"retire unknown", "POST", "/v1/admin/indicators/ind_nope/retire", admin, []byte(`{"reason":"x"}`), 404, "not_found"},
	}
	var id string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := strings.Replace(tt.path, "ID", id, 1)
			status, m := e.call(tt.method, path, tt.key, tt.body)
			if got, want := status, tt.status; got != want {
				t.Fatalf("status = %d, want %d (%v)", got, want, m)
			}
			if !strings.Contains(string(jsonBody(m)), tt.contains) {
				t.Errorf("answer %v lacks %q", m, tt.contains)
			}
			if tt.name == "add" {
				id = m["indicators"].([]any)[0].(map[string]any)["id"].(string)
			}
		})
	}
	// Nothing of the refused request was stored.
	if _, m := e.call("GET", "/v1/admin/indicators", admin, nil); strings.Contains(string(jsonBody(m)), "ok.example") {
		t.Error("an entry of a refused request was stored")
	}
	// The hash is on the agents' feed, then retiring takes it off.
	feedHas := func() bool {
		_, m := e.call("GET", "/v1/feed", "", nil)
		return strings.Contains(string(jsonBody(m)), hash)
	}
	if !feedHas() {
		t.Fatal("added indicator is not on the feed")
	}
	if status, m := e.call("POST", "/v1/admin/indicators/"+id+"/retire", admin, []byte(`{"reason":"false positive"}`)); status != 200 {
		t.Fatalf("retire: %d %v", status, m)
	}
	if feedHas() {
		t.Error("retired indicator is still on the feed")
	}
	status, m := e.call("GET", "/v1/admin/indicators/"+id, admin, nil)
	if status != http.StatusOK || !strings.Contains(string(jsonBody(m)), "false positive") || !strings.Contains(string(jsonBody(m)), "rp:rp-soc") {
		t.Errorf("audit trail: %d %v", status, m)
	}
}

// TestIntelAdminListFilters: a misspelt status is refused rather than
// answered with an empty list, and a list cut at its limit says so.
func TestIntelAdminListFilters(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.rp("soc", store.ScopeAdmin)
	if status, m := e.call("POST", "/v1/admin/indicators", admin, jsonBody(map[string]any{"indicators": []map[string]any{
		{"type": "tool", "value": "anydesk"}, {"type": "tool", "value": "rustdesk"}, {"type": "tool", "value": "teamviewer"},
	}})); status != http.StatusCreated {
		t.Fatalf("add: %d %v", status, m)
	}
	for _, tt := range []struct {
		query  string
		status int
		n      int
		more   bool
	}{
		{"status=activ", 400, 0, false},
		{"status=ACTIVE", 400, 0, false},
		{"status=active", 200, 3, false},
		{"status=pending_review", 200, 0, false},
		{"limit=2", 200, 2, true},
		{"limit=3", 200, 3, false},
		{"limit=10001", 400, 0, false},
		{"limit=abc", 400, 0, false},
	} {
		t.Run(tt.query, func(t *testing.T) {
			status, m := e.call("GET", "/v1/admin/indicators?"+tt.query, admin, nil)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%v)", status, tt.status, m)
			}
			if status != http.StatusOK {
				return
			}
			if got := len(m["indicators"].([]any)); got != tt.n {
				t.Errorf("%d indicators, want %d", got, tt.n)
			}
			if got, _ := m["more"].(bool); got != tt.more {
				t.Errorf("more = %v, want %v", got, tt.more)
			}
		})
	}
}

// TestIntelAdminActivateExpired: an indicator whose lifetime ended cannot
// be put back on the feed by activating it (the next maintenance pass
// would take it off again at once); the answer says to add it again,
// which renews its lifetime.
func TestIntelAdminActivateExpired(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.rp("soc", store.ScopeAdmin)
	add := func() map[string]any {
		status, m := e.call("POST", "/v1/admin/indicators", admin, jsonBody(map[string]any{"indicators": []map[string]any{
			{"type": "url", "value": "http://phish.example/login", "ttl": "1h", "status": "pending_review"}}}))
		if status != http.StatusCreated {
			t.Fatalf("add: %d %v", status, m)
		}
		return m["indicators"].([]any)[0].(map[string]any)
	}
	id := add()["id"].(string)
	e.clock.Add(2 * time.Hour)
	e.srv.Maintain(context.Background())
	status, m := e.call("POST", "/v1/admin/indicators/"+id+"/activate", admin, []byte(`{"reason":"reviewed"}`))
	if status != http.StatusConflict || errorCode(jsonBody(m)) != "indicator_expired" {
		t.Errorf("activating an expired indicator: %d %v, want 409 indicator_expired", status, m)
	}
	if _, m := e.call("GET", "/v1/admin/indicators/"+id, admin, nil); m["indicator"].(map[string]any)["status"] != "expired" {
		t.Errorf("after a refused activation: %v", m)
	}
	// Retiring it is still possible, and adding it again renews it.
	if status, m := e.call("POST", "/v1/admin/indicators/"+id+"/retire", admin, []byte(`{"reason":"false positive"}`)); status != http.StatusOK {
		t.Errorf("retire: %d %v", status, m)
	}
	if got := add(); got["id"] != id || got["status"] != "pending_review" {
		t.Errorf("re-added: %v", got)
	}
	if status, m := e.call("POST", "/v1/admin/indicators/"+id+"/activate", admin, []byte(`{"reason":"reviewed"}`)); status != http.StatusOK {
		t.Errorf("activating the renewed indicator: %d %v", status, m)
	}
}
