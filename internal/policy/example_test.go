package policy_test

import (
	"fmt"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/policy"
)

func ExamplePolicy_Evaluate() {
	res := policy.Default().Evaluate(policy.Input{
		Platform: "windows",
		Now:      time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Facts: evidence.Facts{
			Firewall: &evidence.FirewallFacts{Enabled: false},
			Processes: &evidence.ProcessFacts{Running: []evidence.Process{
				{Name: "explorer.exe"}, {Name: "AnyDesk.exe"},
			}},
		},
	})
	fmt.Println(res.PolicyID, res.Tier, res.Score)
	for _, f := range res.Findings {
		fmt.Printf("%s (%s): %s\n", f.Code, f.Tier, f.Title["en"])
	}
	fmt.Println("executables:", res.TrustVector["executables"], "configuration:", res.TrustVector["configuration"])
	// Output:
	// healthgate/default@3 contraindicated 40
	// remote_control_tool (contraindicated): A remote-control program is running - someone else may be controlling your device
	// firewall_off (warning): Your firewall is switched off
	// executables: 96 configuration: 32
}
