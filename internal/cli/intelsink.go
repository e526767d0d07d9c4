package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/taxii"
)

// partnerSink merges indicators pulled from a partner's TAXII collection
// into the intel store: each equality test of a STIX pattern Healthgate can
// act on becomes an indicator whose source names the partner and whose
// confidence is the partner's trust level (capped by the object's own).
type partnerSink struct {
	st  store.Store
	now func() time.Time
}

func newPartnerSink(st store.Store) taxii.IndicatorSink { return &partnerSink{st: st, now: time.Now} }

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

// IndicatorRecords maps a STIX indicator to intel records. Tests that
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

// MergePartnerIndicators implements taxii.IndicatorSink.
func (s *partnerSink) MergePartnerIndicators(ctx context.Context, partner string, trust int, objs []stix.Indicator) error {
	now := s.now()
	var ins []store.Indicator
	for _, obj := range objs {
		recs, err := indicatorRecords(obj, partner, trust)
		if err != nil {
			continue // validated by the client already; a value we cannot normalise is skipped
		}
		for _, rec := range recs {
			in, err := newIndicator(rec, now)
			if err != nil {
				return err
			}
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return nil
	}
	_, err := s.st.PutIndicators(ctx, ins, store.Change{Actor: "taxii:" + strings.ToLower(partner), Reason: "partner pull", At: now})
	return err
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

// shareIndicators publishes our own active indicators to the TAXII
// `indicators` collection, marked TLP:GREEN, so partners can pull them.
// Indicators that came from a partner are not re-shared (their partner
// decides who sees them), and payee ids never leave.
func shareIndicators(ctx context.Context, st store.Store, ins []store.Indicator, now time.Time) error {
	var objs []any
	for _, in := range ins {
		pattern, ok := stixPatterns[intel.Type(in.Type)]
		if !ok || in.Status != intel.StatusActive || strings.HasPrefix(in.Source, "partner:") {
			continue
		}
		if strings.ContainsAny(in.Value, `'\`) {
			continue // would need escaping inside the pattern's string literal
		}
		id, err := stix.NewID("indicator", nil)
		if err != nil {
			return err
		}
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
