package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/healthgate/healthgate/client"
	"github.com/healthgate/healthgate/internal/server"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// A payment without a health certificate: the service asks for step-up,
// never a plain deny.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "hg-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(ctx, filepath.Join(dir, "hg.db"))
	defer st.Close()
	srv, _ := server.New(ctx, server.Options{Store: st})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	// What `healthgate rp create shop` does.
	key, k, _ := server.NewAPIKey("rp-shop", []string{store.ScopeDecisions}, 0, timeNow(), rand.Reader)
	_ = st.CreateRelyingParty(ctx, store.RelyingParty{ID: "rp-shop", Name: "shop", Created: timeNow()}, k)

	c, err := client.New(hs.URL, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := c.Decide(ctx, client.Transaction{Event: "payment", Account: "user-42", Amount: "88.00", Currency: "CNY",
		MerchantURL: "https://shop.example/checkout", Channel: "web"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Outcome, d.Reasons[0])
	fmt.Println(c.Feedback(ctx, d.ID, "legitimate"))

	bad, _ := client.New(hs.URL, "hgk_not_a_key")
	_, err = bad.Decide(ctx, client.Transaction{Event: "login", Account: "user-42"})
	fmt.Println(errors.Is(err, client.ErrUnauthorized))
	// Output:
	// step_up certificate_missing
	// <nil>
	// true
}
