package intelstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/store/sqlite"
)

func partnerIndicator(id, hash string, mod func(*stix.Indicator)) stix.Indicator {
	in := stix.Indicator{
		Common: stix.Common{Type: "indicator", SpecVersion: "2.1", ID: id, Created: "2026-11-01T00:00:00.000Z",
			Modified: "2026-11-01T00:00:00.000Z", ObjectMarkingRefs: []string{stix.TLPGreen.ID}},
		Pattern: "[file:hashes.'SHA-256' = '" + hash + "']", PatternType: "stix", ValidFrom: "2026-11-01T00:00:00.000Z",
	}
	if mod != nil {
		mod(&in)
	}
	return in
}

// TestPartnerSink: what a partner pull merges into the intel store, whose
// active indicators go on the public feed.
func TestPartnerSink(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sink := &PartnerSink{st: st, now: func() time.Time { return now }}
	hash := func(c byte) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c
		}
		return string(b)
	}
	get := func(h string) (store.Indicator, bool) {
		in, err := st.Indicator(ctx, "", string(intel.TypeSHA256), h)
		return in, err == nil
	}
	indicatorA := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	if err := sink.MergePartnerIndicators(ctx, "org-a", 60, []stix.Indicator{
		partnerIndicator(indicatorA, hash('a'), nil),
		partnerIndicator("indicator--1e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", hash('b'), func(in *stix.Indicator) {
			in.ObjectMarkingRefs = []string{stix.TLPAmber.ID}
		}),
		partnerIndicator("indicator--2e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", hash('c'), func(in *stix.Indicator) {
			in.ValidUntil = "2026-11-30T00:00:00.000Z"
		}),
		partnerIndicator("indicator--3e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", hash('d'), func(in *stix.Indicator) {
			in.ValidUntil = "2026-11-28T00:00:00.000Z" // over already
		}),
	}); err != nil {
		t.Fatal(err)
	}
	if in, ok := get(hash('a')); !ok || in.Status != intel.StatusActive || in.Source != "partner:org-a" {
		t.Errorf("the GREEN indicator: %+v %v, want it active from partner:org-a", in, ok)
	}
	if _, ok := get(hash('b')); ok {
		t.Error("a TLP:AMBER indicator was merged (it would go on the public feed)")
	}
	if in, ok := get(hash('c')); !ok || !in.Expires.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("an indicator valid until tomorrow expires %v, want at its valid_until", in.Expires)
	}
	if _, ok := get(hash('d')); ok {
		t.Error("an indicator no longer valid was merged")
	}

	// The partner revokes A: our copy of it is retired. A revocation of
	// an indicator our own curation gave us changes nothing.
	own := hash('e')
	rec := intel.Record{Type: intel.TypeSHA256, Value: own, Source: "admin", Confidence: 90, Status: intel.StatusActive}
	if rec.Norm, err = intel.Normalize(intel.TypeSHA256, own); err != nil {
		t.Fatal(err)
	}
	ownIn, err := NewIndicator(rec, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIndicators(ctx, []store.Indicator{ownIn}, store.Change{Actor: "test", At: now}); err != nil {
		t.Fatal(err)
	}
	// A partner listing a value we curate ourselves changes nothing of ours.
	if err := sink.MergePartnerIndicators(ctx, "org-a", 60, []stix.Indicator{
		partnerIndicator("indicator--5e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", own, nil),
	}); err != nil {
		t.Fatal(err)
	}
	if in, _ := get(own); in.Source != "admin" || in.Confidence != 90 {
		t.Errorf("our indicator after a partner listed it too: from %s at %d, want admin at 90", in.Source, in.Confidence)
	}
	now = now.Add(time.Hour)
	revoked := func(in *stix.Indicator) { in.Revoked, in.Modified = true, "2026-11-29T12:30:00.000Z" }
	if err := sink.MergePartnerIndicators(ctx, "org-a", 60, []stix.Indicator{
		partnerIndicator(indicatorA, hash('a'), revoked),
		partnerIndicator("indicator--4e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", own, revoked),
	}); err != nil {
		t.Fatal(err)
	}
	if in, _ := get(hash('a')); in.Status != intel.StatusRetired {
		t.Errorf("after the partner revoked it: %s, want retired", in.Status)
	}
	if in, _ := get(own); in.Status != intel.StatusActive || in.Source != "admin" {
		t.Errorf("our own indicator after a partner's revocation of the same value: %s from %s, want active from admin", in.Status, in.Source)
	}
	events, err := st.IndicatorEvents(ctx, func() string { in, _ := get(hash('a')); return in.ID }())
	if err != nil || len(events) == 0 || events[len(events)-1].Reason == "" {
		t.Errorf("the retirement is not in the audit trail with a reason: %+v %v", events, err)
	}
}
