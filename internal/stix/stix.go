package stix

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// SpecVersion is the only STIX version Healthgate speaks.
const SpecVersion = "2.1"

// MediaType is the STIX 2.1 media type.
const MediaType = "application/stix+json;version=2.1"

// Common is the set of properties every object Healthgate handles has.
type Common struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version"`
	ID                 string              `json:"id"`
	Created            string              `json:"created"`
	Modified           string              `json:"modified,omitempty"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	Lang               string              `json:"lang,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	GranularMarkings   json.RawMessage     `json:"granular_markings,omitempty"`
	Extensions         json.RawMessage     `json:"extensions,omitempty"`
}

// ExternalReference points to non-STIX information.
type ExternalReference struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

// Indicator is a STIX 2.1 indicator (section 4.7).
type Indicator struct {
	Common
	Name            string           `json:"name,omitempty"`
	Description     string           `json:"description,omitempty"`
	IndicatorTypes  []string         `json:"indicator_types,omitempty"`
	Pattern         string           `json:"pattern"`
	PatternType     string           `json:"pattern_type"`
	PatternVersion  string           `json:"pattern_version,omitempty"`
	ValidFrom       string           `json:"valid_from"`
	ValidUntil      string           `json:"valid_until,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// KillChainPhase is a phase of a kill chain.
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// Malware is a STIX 2.1 malware object (section 4.11).
type Malware struct {
	Common
	Name         string   `json:"name,omitempty"`
	Description  string   `json:"description,omitempty"`
	MalwareTypes []string `json:"malware_types,omitempty"`
	IsFamily     bool     `json:"is_family"`
	Aliases      []string `json:"aliases,omitempty"`
	FirstSeen    string   `json:"first_seen,omitempty"`
	LastSeen     string   `json:"last_seen,omitempty"`
}

// Sighting is a STIX 2.1 sighting (section 5.2). Healthgate only shares
// aggregated sightings: a count of devices over a period, never which.
type Sighting struct {
	Common
	Description      string   `json:"description,omitempty"`
	FirstSeen        string   `json:"first_seen,omitempty"`
	LastSeen         string   `json:"last_seen,omitempty"`
	Count            *int     `json:"count,omitempty"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	WhereSightedRefs []string `json:"where_sighted_refs,omitempty"`
	ObservedDataRefs []string `json:"observed_data_refs,omitempty"`
	Summary          bool     `json:"summary,omitempty"`
}

// Identity is a STIX 2.1 identity (section 4.5).
type Identity struct {
	Common
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	IdentityClass      string   `json:"identity_class,omitempty"`
	Sectors            []string `json:"sectors,omitempty"`
	ContactInformation string   `json:"contact_information,omitempty"`
}

// Relationship is a STIX 2.1 relationship (section 5.1).
type Relationship struct {
	Common
	RelationshipType string `json:"relationship_type"`
	Description      string `json:"description,omitempty"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
	StartTime        string `json:"start_time,omitempty"`
	StopTime         string `json:"stop_time,omitempty"`
}

// MarkingDefinition is a STIX 2.1 marking definition (section 7.2).
type MarkingDefinition struct {
	Common
	Name           string            `json:"name,omitempty"`
	DefinitionType string            `json:"definition_type,omitempty"`
	Definition     map[string]string `json:"definition,omitempty"`
}

// Bundle is a STIX 2.1 bundle (section 8): a wrapper, not an object.
type Bundle struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Objects []any  `json:"objects"`
}

// TLP 1.0 marking definitions, with the ids the STIX 2.1 specification
// publishes (section 7.2.1.4).
var (
	TLPWhite = tlp1("613f2e26-407d-48c7-9eca-b8e91df99dc9", "white")
	TLPGreen = tlp1("34098fce-860f-48ae-8e50-ebd3cc5e41da", "green")
	TLPAmber = tlp1("f88d31f6-486f-44da-b317-01333bde0b82", "amber")
	TLPRed   = tlp1("5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red")
)

// TLP 2.0 marking-definition ids, as published by OASIS in
// cti-stix-common-objects (extension-definition
// 60a3c5c5-0d10-413e-aab3-9e08dde9e88d). They are referenced from
// object_marking_refs; Healthgate does not need their bodies.
const (
	TLP2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLP2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLP2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLP2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLP2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

func tlp1(uuid, level string) MarkingDefinition {
	return MarkingDefinition{
		Common: Common{Type: "marking-definition", SpecVersion: SpecVersion, ID: "marking-definition--" + uuid,
			Created: "2017-01-20T00:00:00.000Z"},
		Name: "TLP:" + strings.ToUpper(level), DefinitionType: "tlp", Definition: map[string]string{"tlp": level},
	}
}

// tlpIDs are the TLP 1.0 definitions by id, to check a partner's copies.
var tlpIDs = map[string]MarkingDefinition{
	TLPWhite.ID: TLPWhite, TLPGreen.ID: TLPGreen, TLPAmber.ID: TLPAmber, TLPRed.ID: TLPRed,
}

// Timestamps.

var timestampRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$`)

// ParseTimestamp parses a STIX/TAXII timestamp: RFC 3339 in UTC with a Z.
func ParseTimestamp(s string) (time.Time, error) {
	if !timestampRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp in UTC ending in Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid timestamp", s)
	}
	return t, nil
}

// FormatTimestamp formats t the way Healthgate writes timestamps:
// millisecond precision, UTC, Z (STIX 2.1 section 3.2 requires at least
// millisecond precision for created and modified).
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// FormatVersion formats an object version (its modified or created time)
// exactly: millisecond precision, or more digits when t has them, so that
// the string names that version and no other (TAXII match[version]).
func FormatVersion(t time.Time) string {
	s := t.UTC().Format("2006-01-02T15:04:05.000000000")
	for strings.HasSuffix(s, "0") && len(s) > len("2006-01-02T15:04:05.000") {
		s = s[:len(s)-1]
	}
	return s + "Z"
}

// FormatTimestampMicro formats t with microsecond precision (TAXII
// date_added and the paging headers).
func FormatTimestampMicro(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// Identifiers.

var idRE = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{1,248}[a-z0-9])--([0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{12})$`)

// ParseID splits a STIX identifier "type--UUID" and checks that the UUID is
// a version 4 or 5 RFC 4122 UUID in lower case.
func ParseID(id string) (typ, uuid string, err error) {
	m := idRE.FindStringSubmatch(id)
	if m == nil || !validTypeName(m[1]) {
		return "", "", fmt.Errorf("%q is not a STIX identifier (type--uuid, lower case)", id)
	}
	if m[3] != "4" && m[3] != "5" {
		return "", "", fmt.Errorf("%q: the UUID must be version 4 or 5", id)
	}
	if !strings.Contains("89ab", m[4]) {
		return "", "", fmt.Errorf("%q: the UUID variant must be RFC 4122", id)
	}
	return m[1], m[2], nil
}

// NewID returns a new identifier of the given type with a random (v4) UUID
// read from rnd (crypto/rand when nil).
func NewID(typ string, rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return typ + "--" + formatUUID(b), nil
}

// Namespace is the UUIDv5 namespace the ids of Healthgate's own objects are
// derived in, so that the same indicator gets the same id on every node
// and every run. Each deployment draws its own and keeps it secret (a
// service secret, intelstore.IDNamespace): a partner able to compute the
// id of an indicator Healthgate will publish could post that id first and,
// as its creator, keep Healthgate from publishing it.
type Namespace [16]byte

// ID returns the type--UUIDv5 identifier of name in the namespace.
func (ns Namespace) ID(typ, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(typ + "\x00" + name))
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return typ + "--" + formatUUID(b)
}

func formatUUID(b [16]byte) string {
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// Sightings and k-anonymity.

// Thresholds for sharing an aggregated sighting: a count below k could
// point at a handful of identifiable devices.
const (
	DefaultK = 50
	MinK     = 11
)

// ErrBelowThreshold is returned when a sighting's count is under k.
var ErrBelowThreshold = errors.New("stix: sighting count is below the k-anonymity threshold")

// AggregateSighting describes a sighting Healthgate produces.
type AggregateSighting struct {
	// ID is the sighting's id; empty: a new random id.
	ID            string
	SightingOfRef string // the indicator or malware sighted
	Count         int    // devices that saw it in [FirstSeen, LastSeen]
	FirstSeen     time.Time
	LastSeen      time.Time
	CreatedByRef  string // our identity, optional
	Markings      []string
	// K is the k-anonymity threshold: 0 means DefaultK; values below MinK
	// are refused.
	K   int
	Now time.Time
}

// NewAggregateSighting builds a sighting with only an aggregate count. It
// refuses a count below K (ErrBelowThreshold) and a K below MinK, so no
// configuration can share a sighting of fewer than MinK devices.
func NewAggregateSighting(a AggregateSighting) (Sighting, error) {
	k := a.K
	if k == 0 {
		k = DefaultK
	}
	if k < MinK {
		return Sighting{}, fmt.Errorf("stix: k-anonymity threshold %d is below the minimum %d", k, MinK)
	}
	if a.Count < k {
		return Sighting{}, fmt.Errorf("%w: %d < %d", ErrBelowThreshold, a.Count, k)
	}
	if a.Count > 999_999_999 {
		return Sighting{}, errors.New("stix: sighting count above 999999999")
	}
	if t, _, err := ParseID(a.SightingOfRef); err != nil || (t != "indicator" && t != "malware") {
		return Sighting{}, fmt.Errorf("stix: sighting_of_ref %q must be an indicator or malware id", a.SightingOfRef)
	}
	if a.LastSeen.Before(a.FirstSeen) {
		return Sighting{}, errors.New("stix: last_seen is before first_seen")
	}
	id := a.ID
	if id == "" {
		var err error
		if id, err = NewID("sighting", nil); err != nil {
			return Sighting{}, err
		}
	}
	now := a.Now
	if now.IsZero() {
		now = time.Now()
	}
	count := a.Count
	s := Sighting{
		Common: Common{Type: "sighting", SpecVersion: SpecVersion, ID: id, Created: FormatTimestamp(now), Modified: FormatTimestamp(now),
			CreatedByRef: a.CreatedByRef, ObjectMarkingRefs: a.Markings},
		Count: &count, SightingOfRef: a.SightingOfRef, Summary: true,
	}
	if !a.FirstSeen.IsZero() {
		s.FirstSeen = FormatTimestamp(a.FirstSeen)
		s.LastSeen = FormatTimestamp(a.LastSeen)
	}
	return s, nil
}
