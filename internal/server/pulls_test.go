package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/taxii"
)

// TestPartnerPullKeepsTLPRestrictedOffFeed: a partner's collection holds
// indicators marked GREEN, AMBER and RED. The protective feed is public
// (no authentication), so only the GREEN one may reach it; AMBER and RED
// stay with the partner.
func TestPartnerPullKeepsTLPRestrictedOffFeed(t *testing.T) {
	ctx := context.Background()
	a := newEnv(t) // the partner's TAXII server
	tok, rec, err := taxii.NewToken("org-b", 0, a.clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store().CreatePartner(ctx, store.Partner{ID: "org-b", Name: "org-b", Write: []string{"indicators"}, Created: a.clock.Now()}, rec); err != nil {
		t.Fatal(err)
	}
	c := &taxii.Client{HTTP: a.http.Client(), Token: tok}
	coll, _, err := c.FindCollection(ctx, a.http.URL+"/taxii2/", "indicators")
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	markings := []struct {
		refs     []string
		granular string
		shared   bool
	}{
		{[]string{stix.TLP2Green}, "", true},
		{[]string{stix.TLP2Amber}, "", false},
		{[]string{stix.TLPRed.ID}, "", false},
		{[]string{stix.TLP2AmberStrict}, "", false},
		{nil, stix.TLP2Red, false}, // a RED property makes the object RED
		{nil, "", true},            // unmarked
	}
	var objs []any
	for i, m := range markings {
		o := map[string]any{
			"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08x-0000-4000-8000-000000000000", i+1),
			"created": now, "modified": now, "valid_from": now, "pattern_type": "stix",
			"pattern": fmt.Sprintf("[file:hashes.'SHA-256' = '%064x']", i+1),
		}
		if m.refs != nil {
			o["object_marking_refs"] = m.refs
		}
		if m.granular != "" {
			o["granular_markings"] = []map[string]any{{"marking_ref": m.granular, "selectors": []string{"pattern"}}}
		}
		objs = append(objs, o)
	}
	if st, err := c.AddObjects(ctx, coll, objs); err != nil || st.SuccessCount != len(objs) {
		t.Fatalf("partner posts: %+v, %v", st, err)
	}
	b := newEnvWith(t, func(o *server.Options) {
		o.PartnerPulls = []server.PartnerPull{{Partner: "org-a", URL: a.http.URL + "/taxii2/", Token: tok, Trust: 60,
			Every: time.Hour, Client: a.http.Client()}}
	})
	if err := b.srv.PullPartners(ctx); err != nil {
		t.Fatal(err)
	}
	_, m := b.call("GET", "/v1/feed", "", nil)
	feed := string(jsonBody(m))
	for i, mk := range markings {
		hash := fmt.Sprintf("%064x", i+1)
		if got := strings.Contains(feed, hash); got != mk.shared {
			t.Errorf("indicator marked %v%s on the public feed: %v, want %v", mk.refs, mk.granular, got, mk.shared)
		}
	}
}
