package server

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/healthgate/healthgate/internal/risk"
)

// FuzzValidate: whatever a relying party sends, a request that passes
// validation has a finite, non-negative, bounded amount and a real
// currency whenever it has an amount, and every payment has one.
func FuzzValidate(f *testing.F) {
	f.Add(`{"event":"payment","account":"u1","amount":"12.50","currency":"CNY"}`)
	f.Add(`{"event":"payment","account":"u1","amount":12.5,"currency":"USD","ip":"::1"}`)
	f.Add(`{"event":"login","account":"u1"}`)
	f.Add(`{"event":"payment","account":"u1","amount":"-1","currency":"CNY"}`)
	f.Add(`{"event":"payment","account":"u1","amount":1e309,"currency":"CNY"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req DecisionRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		v, err := validate(req)
		if err != nil {
			return
		}
		if req.Event == "payment" && v.amount == "" {
			t.Fatal("payment without an amount passed")
		}
		if v.amount != "" {
			f, perr := strconv.ParseFloat(v.amount, 64)
			if perr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxAmount || f != v.amountVal {
				t.Fatalf("amount %q (%v) passed", v.amount, v.amountVal)
			}
			if !risk.ValidCurrency(v.Currency) {
				t.Fatalf("currency %q passed", v.Currency)
			}
		}
	})
}
