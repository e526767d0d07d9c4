package token_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/healthgate/healthgate/token"
)

// A payment platform checks the certificate a device presents, offline,
// against the JWKS it saved from the health service.
func ExampleVerify() {
	jwks, err := os.ReadFile("testdata/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := token.ParseJWKS(jwks)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := os.ReadFile("testdata/certificate.jwt")
	if err != nil {
		log.Fatal(err)
	}

	// The clock is fixed so that the example's output stays the same; a
	// relying party leaves WithNow out.
	now := func() time.Time { return time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC) }
	c, err := token.Verify(context.Background(), cert, keys, token.WithNow(now))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("device:", c.Subject)
	fmt.Println("tier:", c.Tier())
	fmt.Println("expires:", c.ExpiresAt().UTC().Format(time.RFC3339))
	fmt.Println("bound to the device key:", c.BoundTo("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"))

	// Five hours later the same certificate has expired.
	later := func() time.Time { return now().Add(5 * time.Hour) }
	_, err = token.Verify(context.Background(), cert, keys, token.WithNow(later))
	fmt.Println("later:", errors.Is(err, token.ErrExpired))
	// Output:
	// device: dev-5f2c9a
	// tier: affirming
	// expires: 2025-03-01T16:00:00Z
	// bound to the device key: true
	// later: true
}
