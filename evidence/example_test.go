package evidence_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/healthgate/healthgate/evidence"
)

// A device signs its report with its key; the service verifies it with the
// key it enrolled, never with whatever the token says.
func ExampleVerify() {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // a device key
	report := &evidence.Claims{
		Nonce: "fresh-nonce-from-the-server", UEID: "AcTQfQHdsGERoKHn_DRuJO8", IssuedAt: 1795932335,
		SWName: "healthgate-agent", SWVersion: "1.0.0", Platform: "linux",
		Facts: evidence.Facts{Firewall: &evidence.FirewallFacts{Enabled: true, Backend: "ufw"}},
	}
	tok, err := evidence.Sign(report, key)
	if err != nil {
		panic(err)
	}
	claims, err := evidence.Verify(tok, key.Public())
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.UEID, claims.Facts.Firewall.Enabled)
	// Output: AcTQfQHdsGERoKHn_DRuJO8 true
}
