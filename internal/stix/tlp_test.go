package stix

import "testing"

func TestObjectTLP(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  string
		want TLPLevel
	}{
		{"unmarked", `{"type":"indicator"}`, TLPUnmarked},
		{"TLP 1.0 WHITE is CLEAR", `{"object_marking_refs":["` + TLPWhite.ID + `"]}`, TLPLevelClear},
		{"TLP 2.0 CLEAR", `{"object_marking_refs":["` + TLP2Clear + `"]}`, TLPLevelClear},
		{"TLP 1.0 GREEN", `{"object_marking_refs":["` + TLPGreen.ID + `"]}`, TLPLevelGreen},
		{"TLP 2.0 GREEN", `{"object_marking_refs":["` + TLP2Green + `"]}`, TLPLevelGreen},
		{"TLP 1.0 AMBER", `{"object_marking_refs":["` + TLPAmber.ID + `"]}`, TLPLevelAmber},
		{"TLP 2.0 AMBER", `{"object_marking_refs":["` + TLP2Amber + `"]}`, TLPLevelAmber},
		{"TLP 2.0 AMBER+STRICT", `{"object_marking_refs":["` + TLP2AmberStrict + `"]}`, TLPLevelAmberStrict},
		{"TLP 1.0 RED", `{"object_marking_refs":["` + TLPRed.ID + `"]}`, TLPLevelRed},
		{"TLP 2.0 RED", `{"object_marking_refs":["` + TLP2Red + `"]}`, TLPLevelRed},
		{"the most restrictive", `{"object_marking_refs":["` + TLP2Red + `","` + TLPGreen.ID + `"]}`, TLPLevelRed},
		{"not a TLP marking", `{"object_marking_refs":["marking-definition--2b6c4bd7-5f3a-4c8e-9d1e-7a6b5c4d3e2f"]}`, TLPUnmarked},
		{"granular", `{"object_marking_refs":["` + TLP2Green + `"],"granular_markings":[{"marking_ref":"` + TLP2AmberStrict + `","selectors":["description"]}]}`, TLPLevelAmberStrict},
		{"malformed granular hides nothing", `{"object_marking_refs":["` + TLP2Amber + `"],"granular_markings":{"x":1}}`, TLPLevelAmber},
		{"not JSON", `{`, TLPUnmarked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ObjectTLP([]byte(tt.raw)); got != tt.want {
				t.Errorf("ObjectTLP = %v, want %v", got, tt.want)
			}
		})
	}
}
