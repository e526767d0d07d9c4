package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// runDecisions measures POST /v1/decisions with a health certificate in
// every request, next to the trivial endpoint. One certificate per device
// is obtained before the clock starts (enrol, challenge, report); each
// request is a payment of a different account (accounts rotate over 10 per
// device) so that the velocity windows stay realistic.
func runDecisions(ctx context.Context, client *http.Client, cfg config) error {
	fmt.Printf("preparing %d devices with a certificate each…\n", cfg.devices)
	start := time.Now()
	prep := cfg
	prep.reports = cfg.devices
	tokens, err := prepare(ctx, client, prep)
	if err != nil {
		return err
	}
	certs := make([]string, len(tokens))
	for i, tok := range tokens {
		var out struct {
			Certificate string `json:"certificate"`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.server+"/v1/reports", bytes.NewReader(tok))
		req.Header.Set("Content-Type", "application/jose")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || out.Certificate == "" {
			return fmt.Errorf("report %d: status %d, %v", i, resp.StatusCode, err)
		}
		certs[i] = out.Certificate
	}
	bodies := make([][]byte, len(certs)*10)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{
			"event": "payment", "account": fmt.Sprintf("acct-%d", i), "amount": "42.00", "currency": "CNY",
			"payee": "Acme Ltd", "merchant_url": "https://shop.example/checkout", "channel": "web", "ip": "203.0.113.9",
			"certificate": certs[i%len(certs)],
		})
	}
	fmt.Printf("prepared in %v\n\n", time.Since(start).Round(time.Millisecond))

	trivial := drive(ctx, client, cfg, func(i int) (*http.Request, error) {
		return http.NewRequest(http.MethodGet, cfg.server+"/.well-known/jwks.json", nil)
	})
	var n atomic.Int64
	decisions := drive(ctx, client, cfg, func(i int) (*http.Request, error) {
		k := n.Add(1)
		req, err := http.NewRequest(http.MethodPost, cfg.server+"/v1/decisions", bytes.NewReader(bodies[k%int64(len(bodies))]))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+cfg.apiKey)
		}
		return req, err
	})
	header()
	trivial.print("GET /.well-known/jwks.json")
	decisions.print("POST /v1/decisions")
	fmt.Printf("\ndecisions/s as a share of the trivial endpoint: %.0f%%\n", 100*decisions.rate()/trivial.rate())
	return nil
}
