// Package intelstore is the server side of intel: it turns checked
// indicator records into stored indicators and shares them with partners
// over TAXII. It is kept apart from package intel, which agents import and
// which must not pull in the store.
package intelstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/taxii"
)

// NewIndicator turns a checked record into the indicator to store, with a
// new id and its lifetime from now.
func NewIndicator(r intel.Record, now time.Time) (store.Indicator, error) {
	ttl, err := intel.TTL(r.Type, r.TTL)
	if err != nil {
		return store.Indicator{}, err
	}
	in := store.Indicator{
		ID: "ind_" + strings.ToLower(rand.Text()[:16]), Type: string(r.Type), Value: r.Value, Source: r.Source,
		Confidence: r.Confidence, Status: r.Status, FirstSeen: now, LastSeen: now,
		FeedKind: string(r.Norm.Entry.Kind), FeedValue: r.Norm.Entry.Value, FullHash: r.Norm.FullHash,
		ChangeReason: r.Reason,
	}
	if ttl > 0 {
		in.Expires = now.Add(ttl)
	}
	return in, nil
}

// stixPatterns maps a Healthgate indicator type to its STIX pattern.
var stixPatterns = map[intel.Type]func(v string) string{
	intel.TypeSHA256: func(v string) string { return "[file:hashes.'SHA-256' = '" + v + "']" },
	intel.TypeURL:    func(v string) string { return "[url:value = '" + v + "']" },
	intel.TypeDomain: func(v string) string { return "[domain-name:value = '" + v + "']" },
	intel.TypeCert:   func(v string) string { return "[x509-certificate:hashes.'SHA-256' = '" + v + "']" },
	intel.TypeTool:   func(v string) string { return "[process:name = '" + v + "']" },
	intel.TypeIP: func(v string) string {
		if strings.Contains(v, ":") {
			return "[ipv6-addr:value = '" + v + "']"
		}
		return "[ipv4-addr:value = '" + v + "']"
	},
}

// IDNamespace returns this deployment's namespace for the ids of the STIX
// objects it publishes (a service secret, drawn once and shared by every
// node; see stix.Namespace).
func IDNamespace(ctx context.Context, st store.Store) (stix.Namespace, error) {
	b, err := st.Secret(ctx, "stix-id-namespace", func() ([]byte, error) {
		b := make([]byte, len(stix.Namespace{}))
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return stix.Namespace{}, fmt.Errorf("loading the STIX id namespace: %w", err)
	}
	if len(b) != len(stix.Namespace{}) {
		return stix.Namespace{}, fmt.Errorf("the STIX id namespace is %d bytes, want %d", len(b), len(stix.Namespace{}))
	}
	return stix.Namespace(b), nil
}

// Share publishes our own active indicators to the TAXII
// `indicators` collection, marked TLP:GREEN, so partners can pull them.
// Indicators that came from a partner are not re-shared (their partner
// decides who sees them), and payee ids never leave.
func Share(ctx context.Context, st store.Store, ins []store.Indicator, now time.Time) error {
	ns, err := IDNamespace(ctx, st)
	if err != nil {
		return err
	}
	var objs []any
	for _, in := range ins {
		pattern, ok := stixPatterns[intel.Type(in.Type)]
		if !ok || in.Status != intel.StatusActive || strings.HasPrefix(in.Source, "partner:") {
			continue
		}
		if strings.ContainsAny(in.Value, `'\`) {
			continue // would need escaping inside the pattern's string literal
		}
		// The id is derived from type and value, so the aggregate sightings
		// shared for "sha256:<hex>" point at this indicator.
		id := ns.ID("indicator", in.Type+":"+in.Value)
		conf := in.Confidence
		ind := stix.Indicator{
			Common: stix.Common{Type: "indicator", SpecVersion: "2.1", ID: id, Created: stix.FormatTimestamp(now),
				Modified: stix.FormatTimestamp(now), Confidence: &conf, ObjectMarkingRefs: []string{stix.TLPGreen.ID}},
			Name: in.Type + " indicator from Healthgate", Pattern: pattern(in.Value), PatternType: "stix",
			ValidFrom: stix.FormatTimestamp(in.FirstSeen),
		}
		if !in.Expires.IsZero() {
			ind.ValidUntil = stix.FormatTimestamp(in.Expires)
		}
		objs = append(objs, ind)
	}
	if len(objs) == 0 {
		return nil
	}
	return taxii.Publish(ctx, st, "indicators", objs, now)
}

// PartnerSink merges indicators pulled from a partner's TAXII collection
// into the intel store: each equality test of a STIX pattern Healthgate can
// act on becomes an indicator whose source names the partner and whose
// confidence is the partner's trust level (capped by the object's own).
type PartnerSink struct {
	st  store.Store
	now func() time.Time
}

// NewPartnerSink returns the sink `intel pull` and the server's scheduled
// pulls hand partner indicators to.
func NewPartnerSink(st store.Store) taxii.IndicatorSink { return &PartnerSink{st: st, now: time.Now} }

// stixTypes maps a STIX pattern's object path to a Healthgate indicator type.
var stixTypes = map[string]intel.Type{
	"file:hashes.'SHA-256'":             intel.TypeSHA256,
	"file:hashes.SHA-256":               intel.TypeSHA256,
	"url:value":                         intel.TypeURL,
	"domain-name:value":                 intel.TypeDomain,
	"ipv4-addr:value":                   intel.TypeIP,
	"ipv6-addr:value":                   intel.TypeIP,
	"x509-certificate:hashes.'SHA-256'": intel.TypeCert,
	"process:name":                      intel.TypeTool,
}

// indicatorRecords maps a STIX indicator to intel records. Tests that
// Healthgate cannot act on are skipped.
func indicatorRecords(obj stix.Indicator, partner string, trust int) ([]intel.Record, error) {
	p, err := stix.ParsePattern(obj.Pattern)
	if err != nil {
		return nil, err
	}
	var out []intel.Record
	for _, eq := range p.Equalities() {
		t, ok := stixTypes[eq.ObjectType+":"+eq.Path]
		if !ok {
			continue
		}
		n, err := intel.Normalize(t, eq.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", obj.ID, err)
		}
		conf := trust
		if obj.Confidence != nil && *obj.Confidence < conf {
			conf = *obj.Confidence
		}
		out = append(out, intel.Record{Type: t, Value: n.Value, Source: "partner:" + partner, Confidence: conf,
			Reason: "pulled from partner " + partner + " (" + obj.ID + ")", Status: intel.StatusActive, Norm: n})
	}
	return out, nil
}

// MergePartnerIndicators implements taxii.IndicatorSink. What it stores as
// active goes on the protective feed, which anyone may read, so:
//   - an indicator the partner marked TLP:AMBER, AMBER+STRICT or RED (in
//     object_marking_refs or a granular marking) is left out, as the
//     TAXII server leaves it out for other partners (taxii.PosterOnly);
//   - one the partner revoked, or whose valid_until has passed, retires
//     the indicator it gave us earlier (only one whose source is still
//     this partner: not one our own curation or another partner owns);
//   - otherwise valid_until caps the lifetime the indicator would get, and
//     a value our own curation already lists keeps its source, confidence
//     and lifetime.
func (s *PartnerSink) MergePartnerIndicators(ctx context.Context, partner string, trust int, objs []stix.Indicator) error {
	now := s.now()
	source := "partner:" + partner
	ch := store.Change{Actor: "taxii:" + strings.ToLower(partner), Reason: "partner pull", At: now}
	var ins []store.Indicator
	for _, obj := range objs {
		if restrictedTLP(obj) {
			continue
		}
		recs, err := indicatorRecords(obj, partner, trust)
		if err != nil {
			continue // validated by the client already; a value we cannot normalise is skipped
		}
		until, hasUntil := validUntil(obj)
		if obj.Revoked || hasUntil && !until.After(now) {
			for _, rec := range recs {
				if err := s.retire(ctx, rec, source, obj, ch); err != nil {
					return err
				}
			}
			continue
		}
		for _, rec := range recs {
			// Our own curation of a value stays ours: a partner listing it
			// too does not take over its source, confidence or lifetime.
			if had, err := s.st.Indicator(ctx, "", string(rec.Type), rec.Value); err == nil && !strings.HasPrefix(had.Source, "partner:") {
				continue
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			in, err := NewIndicator(rec, now)
			if err != nil {
				return err
			}
			if hasUntil && (in.Expires.IsZero() || until.Before(in.Expires)) {
				in.Expires = until
			}
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return nil
	}
	_, err := s.st.PutIndicators(ctx, ins, ch)
	return err
}

// retire withdraws the indicator a partner's revoked object gave us, if
// this partner is still its source and it is on (or waiting for) the feed.
func (s *PartnerSink) retire(ctx context.Context, rec intel.Record, source string, obj stix.Indicator, ch store.Change) error {
	in, err := s.st.Indicator(ctx, "", string(rec.Type), rec.Value)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if in.Source != source || in.Status != intel.StatusActive && in.Status != intel.StatusPending {
		return nil
	}
	why := "revoked by " + source + " (" + obj.ID + ")"
	if !obj.Revoked {
		why = "no longer valid according to " + source + " (" + obj.ID + ", valid_until " + obj.ValidUntil + ")"
	}
	ch.Reason = why
	_, err = s.st.SetIndicatorStatus(ctx, in.ID, intel.StatusRetired, ch)
	return err
}

// restrictedTLP reports whether the partner marked an indicator for less
// than every reader (TLP:AMBER, AMBER+STRICT, RED).
func restrictedTLP(obj stix.Indicator) bool {
	raw, err := json.Marshal(struct {
		Refs     []string        `json:"object_marking_refs,omitempty"`
		Granular json.RawMessage `json:"granular_markings,omitempty"`
	}{obj.ObjectMarkingRefs, obj.GranularMarkings})
	return err != nil || taxii.PosterOnly(stix.ObjectTLP(raw))
}

// validUntil returns an indicator's valid_until, if it has a readable one.
func validUntil(obj stix.Indicator) (time.Time, bool) {
	if obj.ValidUntil == "" {
		return time.Time{}, false
	}
	t, err := stix.ParseTimestamp(obj.ValidUntil)
	return t, err == nil
}
