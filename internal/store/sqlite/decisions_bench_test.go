package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

// BenchmarkRecordDecisions measures the store's cost per decision by the
// size of the group commit that carries it (the server's batcher decides
// that size; 20 is not a multiple of the statement sizes RecordDecisions
// uses): one row each, 700 bytes of signals like the server's, and for
// half of them a new (device, account) pair. ns/op is per decision.
func BenchmarkRecordDecisions(b *testing.B) {
	signals := []byte(`{"event":"payment","channel":"web","amount":42,"currency":"CNY","certificate":{"present":true,"valid":true,"expired":false,"bound":false},"device":{"known":true,"tier":"affirming","findings":[],"accounts":10,"accounts_day":10,"virtual":false,"network_enrolments_1h":0},"account":{"new_device":false,"devices_day":1},"velocity":{"account_payments_1h":5,"account_sum_1h":210,"account_payments_24h":5,"account_sum_24h":210,"device_payments_1h":50,"device_sum_1h":2100,"device_payments_24h":50,"device_sum_24h":2100},"intel":{"merchant_listed":false,"payee_listed":false}}`)
	for _, batch := range []int{1, 8, 20, 32, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hg.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
			ds := make([]store.Decision, batch)
			i := 0
			for n := 0; n < b.N; n += batch {
				for j := range ds {
					i++
					ds[j] = store.Decision{ID: fmt.Sprintf("dec_%012d", i), RPID: "rp_bench", Created: now, Event: "payment",
						Account: fmt.Sprintf("acct-%016d", i%5000), DeviceID: fmt.Sprintf("dev-%d", i%500), PairKnown: i%2 == 0,
						Amount: "42.00", AmountValue: 42, Currency: "CNY", Channel: "web", Payee: "payee-hash", MerchantHost: "shop.example",
						IPNet: "net-hash", Outcome: "allow", Reasons: []string{}, Signals: signals}
				}
				if err := db.RecordDecisions(ctx, ds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
