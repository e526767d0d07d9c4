package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
	"github.com/healthgate/healthgate/internal/taxii"
)

// TestTAXIIMounted: the service answers TAXII under /taxii2/ with partner
// tokens, and TAXII errors in TAXII's shape.
func TestTAXIIMounted(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := server.New(ctx, server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	tok, rec, err := taxii.NewToken("p1", 0, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePartner(ctx, store.Partner{ID: "p1", Name: "org-b", Created: time.Now()}, rec); err != nil {
		t.Fatal(err)
	}
	c := &taxii.Client{HTTP: hs.Client(), Token: tok}
	if _, _, err := c.FindCollection(ctx, hs.URL+"/taxii2/", "indicators"); err != nil {
		t.Fatalf("finding the indicators collection: %v", err)
	}
	resp, err := hs.Client().Get(hs.URL + "/taxii2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != taxii.MediaType {
		t.Errorf("unauthenticated discovery: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
