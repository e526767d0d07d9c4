package taxii

import (
	"slices"

	"github.com/healthgate/healthgate/internal/store"
)

// Collection is one of the server's TAXII collections.
type Collection struct {
	ID          string // a fixed UUID, stable across installations
	Alias       string // what rights and the command line name it by
	Title       string
	Description string
	// EveryoneReads: every partner may read it, whatever its rights say.
	EveryoneReads bool
	// ReadOnly: no partner may add to it (Healthgate publishes into it).
	ReadOnly bool
	// Types lists the STIX types a partner may add.
	Types []string
}

// Collections are the server's collections.
var Collections = []Collection{
	{
		ID: "4d6b5a0e-2c1f-4f3a-9b7e-6a1d2c3b4e5f", Alias: "indicators",
		Title:         "Healthgate indicators",
		Description:   "Indicators of compromise relevant to online payments (malware hashes, hijacked payment domains, phishing URLs, rogue certificates), shared by Healthgate and its partners.",
		EveryoneReads: true,
		Types:         []string{"indicator", "malware", "relationship", "identity", "marking-definition"},
	},
	{
		ID: "9e3c1b7a-5d2f-4a8e-b6c4-0f1e2d3c4b5a", Alias: "sightings",
		Title:       "Healthgate aggregated sightings",
		Description: "How many protected devices saw each indicator, per period; published only at or above the k-anonymity threshold.",
		ReadOnly:    true,
	},
}

// CollectionByAlias returns a collection by alias or id.
func CollectionByAlias(s string) (Collection, bool) {
	for _, c := range Collections {
		if c.Alias == s || c.ID == s {
			return c, true
		}
	}
	return Collection{}, false
}

// CanRead reports whether p may read c.
func CanRead(p store.Partner, c Collection) bool {
	return c.EveryoneReads || slices.Contains(p.Read, c.Alias)
}

// CanWrite reports whether p may add objects to c.
func CanWrite(p store.Partner, c Collection) bool {
	return !c.ReadOnly && slices.Contains(p.Write, c.Alias)
}
