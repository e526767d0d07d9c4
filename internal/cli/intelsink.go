package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
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
			in, err := intelstore.NewIndicator(rec, now)
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
