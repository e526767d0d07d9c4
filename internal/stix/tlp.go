package stix

import "encoding/json"

// TLPLevel is a Traffic Light Protocol level (FIRST TLP 2.0), ordered from
// the least to the most restrictive. TLP 1.0 levels map to the same
// values: WHITE is CLEAR.
type TLPLevel int

// TLP levels. TLPUnmarked: no TLP marking at all.
const (
	TLPUnmarked TLPLevel = iota
	TLPLevelClear
	TLPLevelGreen
	TLPLevelAmber
	TLPLevelAmberStrict
	TLPLevelRed
)

func (l TLPLevel) String() string {
	switch l {
	case TLPLevelClear:
		return "TLP:CLEAR"
	case TLPLevelGreen:
		return "TLP:GREEN"
	case TLPLevelAmber:
		return "TLP:AMBER"
	case TLPLevelAmberStrict:
		return "TLP:AMBER+STRICT"
	case TLPLevelRed:
		return "TLP:RED"
	}
	return "unmarked"
}

// tlpLevels maps the TLP 1.0 and 2.0 marking-definition ids to levels.
var tlpLevels = map[string]TLPLevel{
	TLPWhite.ID: TLPLevelClear, TLPGreen.ID: TLPLevelGreen, TLPAmber.ID: TLPLevelAmber, TLPRed.ID: TLPLevelRed,
	TLP2Clear: TLPLevelClear, TLP2Green: TLPLevelGreen, TLP2Amber: TLPLevelAmber,
	TLP2AmberStrict: TLPLevelAmberStrict, TLP2Red: TLPLevelRed,
}

// MarkingTLP returns the TLP level of a marking-definition id, or
// TLPUnmarked when it is not one of the published TLP 1.0 or 2.0 ids
// (a statement marking, a marking of the partner's own).
func MarkingTLP(ref string) TLPLevel { return tlpLevels[ref] }

// ObjectTLP returns the most restrictive TLP level an object carries, in
// object_marking_refs or in the marking_ref of a granular marking (a TLP:RED
// property makes the object as restricted as the property). It reads raw
// JSON so it needs no other property to be valid; what it cannot read
// carries no level.
func ObjectTLP(raw json.RawMessage) TLPLevel {
	var props struct {
		ObjectMarkingRefs json.RawMessage `json:"object_marking_refs"`
		GranularMarkings  json.RawMessage `json:"granular_markings"`
	}
	json.Unmarshal(raw, &props)
	// Each property alone, so a malformed one hides nothing in the other.
	var refs []string
	json.Unmarshal(props.ObjectMarkingRefs, &refs)
	var granular []struct {
		MarkingRef string `json:"marking_ref"`
	}
	json.Unmarshal(props.GranularMarkings, &granular)
	level := TLPUnmarked
	for _, ref := range refs {
		level = max(level, MarkingTLP(ref))
	}
	for _, g := range granular {
		level = max(level, MarkingTLP(g.MarkingRef))
	}
	return level
}
