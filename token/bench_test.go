package token_test

import (
	"context"
	"testing"
	"time"

	"github.com/healthgate/healthgate/token"
)

func BenchmarkVerify(b *testing.B) {
	iss := newIssuer(b, func() time.Time { return epoch }, 1)
	keys := jwksOf(b, iss)
	tok, _, err := iss.Issue(request)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := token.WithNow(func() time.Time { return epoch })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Verify(ctx, tok, keys, now); err != nil {
			b.Fatal(err)
		}
	}
}
