package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// Edge cases every backend must handle alike: closing, cancelled calls,
// keys no backend can hold, extreme times and large values.
var edgeTests = []storeTest{
	{"CloseTwice", testCloseTwice},
	{"ReportAfterClose", testReportAfterClose},
	{"ReportCancelledStoresNothing", testReportCancelled},
	{"UnstorableKeysAreNotFound", testUnstorableKeys},
	{"TimesRoundTrip", testTimesRoundTrip},
	{"LargeValues", testLargeValues},
	{"ListsInByteOrder", testByteOrder},
}

func testCloseTwice(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // the suite closes it a third time
		t.Errorf("second Close: %v", err)
	}
}

// testReportAfterClose: a report handed to a closed store fails at once;
// it neither waits for a writer that is gone nor claims success.
func testReportAfterClose(t *testing.T, s store.Store) {
	mustEnroll(t, s, "dev1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		done := make(chan error, 1)
		go func() {
			done <- s.RecordReport(context.Background(), report(fmt.Sprint("r", i), "dev1", fmt.Sprint("n", i)))
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("report %d after Close: accepted", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("report %d after Close: no answer after 5s", i)
		}
	}
}

// testReportCancelled: a call whose context is already cancelled fails,
// and then nothing of it is stored: its nonce is not consumed.
func testReportCancelled(t *testing.T, s store.Store) {
	mustEnroll(t, s, "dev1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		nonce := fmt.Sprint("nonce-", i)
		if err := s.RecordReport(ctx, report(fmt.Sprint("r", i), "dev1", nonce)); err == nil {
			t.Fatalf("report %d with a cancelled context: accepted", i)
		}
		if err := s.RecordReport(context.Background(), report(fmt.Sprint("again", i), "dev1", nonce)); err != nil {
			t.Fatalf("report %d failed (cancelled) but its nonce was consumed: %v", i, err)
		}
	}
}

// testUnstorableKeys: ids and names that no backend can store (a NUL
// byte, bytes that are not UTF-8), as a client may send them in a URL or
// a header, are simply not found: not an error that becomes a 500.
func testUnstorableKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	if err := s.RecordDecisions(ctx, []store.Decision{decision("d1", "rp1", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSurveillanceDay(ctx, survDay(day0, store.SightingCount{Key: "finding:x", Devices: 3})); err != nil {
		t.Fatal(err)
	}
	obj := store.TAXIIObject{ID: "indicator--1", Type: "indicator", SpecVersion: "2.1", Version: t0, Body: []byte(`{}`)}
	if _, err := s.AddTAXIIObjects(ctx, "c", []store.TAXIIObject{obj}, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"\x00", "dev1\x00", "\xff", "a\xc3"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			notFound := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: err = %v, want ErrNotFound", what, err)
				}
			}
			_, err := s.Device(ctx, key)
			notFound("Device", err)
			_, err = s.LatestReport(ctx, key)
			notFound("LatestReport", err)
			_, err = s.SessionReport(ctx, key)
			notFound("SessionReport", err)
			_, err = s.APIKey(ctx, key)
			notFound("APIKey", err)
			_, err = s.RelyingParty(ctx, key)
			notFound("RelyingParty", err)
			_, err = s.Decision(ctx, key, key)
			notFound("Decision", err)
			notFound("RecordFeedback", s.RecordFeedback(ctx, key, key, "fraud", t0))
			notFound("RevokeAPIKey", s.RevokeAPIKey(ctx, key, t0))
			notFound("RetireSigningKey", s.RetireSigningKey(ctx, key, t0))
			_, err = s.Partner(ctx, key)
			notFound("Partner", err)
			_, err = s.PartnerToken(ctx, key)
			notFound("PartnerToken", err)
			_, err = s.TAXIIStatus(ctx, key)
			notFound("TAXIIStatus", err)
			_, err = s.Indicator(ctx, key, "", "")
			notFound("Indicator by id", err)
			_, err = s.Indicator(ctx, "", "domain", key)
			notFound("Indicator by value", err)
			_, err = s.SetIndicatorStatus(ctx, key, "retired", change("x"))
			notFound("SetIndicatorStatus", err)
			_, err = s.DeviceAK(ctx, key)
			notFound("DeviceAK", err)
			if seen, n, err := s.DeviceAccounts(ctx, key, key, key); err != nil || seen || n != 0 {
				t.Errorf("DeviceAccounts = %v, %d, %v; want false, 0, nil", seen, n, err)
			}
			if seen, n, err := s.DeviceAccounts(ctx, "rp1", "dev1", key); err != nil || seen || n != 1 {
				t.Errorf("DeviceAccounts of a known device = %v, %d, %v; want false, 1, nil", seen, n, err)
			}
			if got, err := s.SightingSeries(ctx, key, day0, day0); err != nil || len(got) != 1 || got[0].Devices != 0 || got[0].Reporting != 100 {
				t.Errorf("SightingSeries = %+v, %v; want day0 with 0 of 100 devices", got, err)
			}
			if objs, _, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: key, IDs: []string{key}}); err != nil || len(objs) != 0 {
				t.Errorf("TAXIIObjects = %d objects, %v; want none", len(objs), err)
			}
			if objs, _, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "c", IDs: []string{key, obj.ID}, Types: []string{"indicator", key}}); err != nil || len(objs) != 1 {
				t.Errorf("TAXIIObjects with one known id = %d objects, %v; want it", len(objs), err)
			}
			if got, err := s.FullHashes(ctx, []string{key}); err != nil || len(got) != 0 {
				t.Errorf("FullHashes = %v, %v; want none", got, err)
			}
			if at, err := s.PullState(ctx, key, key); err != nil || !at.IsZero() {
				t.Errorf("PullState = %v, %v; want zero", at, err)
			}
		})
	}
}

// testTimesRoundTrip: times before 1970 and far in the future come back
// as they were stored (to the millisecond).
func testTimesRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, at := range []time.Time{
		time.Date(1969, 7, 20, 20, 17, 40, 123e6, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 1e6, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
	} {
		d := device(fmt.Sprint("dev", i))
		d.EnrolledAt = at
		got, _, err := s.EnrollDevice(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if !got.EnrolledAt.Equal(at) {
			t.Errorf("enrolled at %v, read back %v", at, got.EnrolledAt)
		}
		k := store.SigningKey{KID: fmt.Sprint("k", i), Algorithm: "EdDSA", Private: []byte{1}, Created: at, Retired: at.Add(time.Millisecond)}
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 3 {
		t.Fatalf("SigningKeys = %v, %v", keys, err)
	}
	if keys[0].KID != "k1" || keys[1].KID != "k0" || keys[2].KID != "k2" {
		t.Errorf("keys not oldest first: %s %s %s", keys[0].KID, keys[1].KID, keys[2].KID)
	}
	for _, k := range keys {
		if !k.Retired.Equal(k.Created.Add(time.Millisecond)) {
			t.Errorf("key %s: created %v, retired %v", k.KID, k.Created, k.Retired)
		}
	}
}

// testLargeValues: megabyte blobs and text with every byte value that
// JSON carries come back byte for byte.
func testLargeValues(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := s.AddSigningKey(ctx, store.SigningKey{KID: "big", Algorithm: "EdDSA", Private: big, Created: t0}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Private, big) {
		t.Errorf("1 MB private key did not come back whole (err %v)", err)
	}
	v, err := s.Secret(ctx, "big", func() ([]byte, error) { return big, nil })
	if err != nil || !bytes.Equal(v, big) {
		t.Errorf("1 MB secret did not come back whole (err %v)", err)
	}
	body := append([]byte(`{"type":"indicator","id":"indicator--1","x":"`), bytes.Repeat([]byte("a"), 1<<20)...)
	body = append(body, `"}`...)
	o := store.TAXIIObject{ID: "indicator--1", Type: "indicator", SpecVersion: "2.1", Version: t0, Body: body}
	if _, err := s.AddTAXIIObjects(ctx, "c", []store.TAXIIObject{o}, store.TAXIIStatus{Requested: t0}); err != nil {
		t.Fatal(err)
	}
	objs, _, err := s.TAXIIObjects(ctx, store.TAXIIQuery{Collection: "c"})
	if err != nil || len(objs) != 1 || !bytes.Equal(objs[0].Body, body) {
		t.Errorf("1 MB TAXII object did not come back whole (err %v)", err)
	}
}

// testByteOrder: lists "by name" come in byte order on every backend,
// whatever the database's collation.
func testByteOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	names := []string{"bank", "Bank-2", "acme", "Acme", "a b", "ab", "é"}
	for i, n := range names {
		mustCreateRP(t, s, fmt.Sprint("rp", i), n, fmt.Sprint("key", i))
		p, tok := partner(fmt.Sprint("p", i), n)
		if err := s.CreatePartner(ctx, p, tok); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"kb", "KA", "ka", "k-c", "kc"}
	for _, id := range ids {
		if err := s.AddAPIKey(ctx, apiKey(id, "rp0"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSigningKey(ctx, store.SigningKey{KID: id, Algorithm: "EdDSA", Private: []byte{1}, Created: t0}); err != nil {
			t.Fatal(err)
		}
	}
	wantIDs := append([]string{"key0"}, slices.Sorted(slices.Values(ids))...)
	slices.Sort(wantIDs)
	keys, err := s.APIKeys(ctx, "rp0")
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, k := range keys {
		gotIDs = append(gotIDs, k.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("APIKeys created at one time = %q, want %q", gotIDs, wantIDs)
	}
	sks, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotIDs = gotIDs[:0]
	for _, k := range sks {
		gotIDs = append(gotIDs, k.KID)
	}
	if want := slices.Sorted(slices.Values(ids)); !slices.Equal(gotIDs, want) {
		t.Errorf("SigningKeys created at one time = %q, want %q", gotIDs, want)
	}
	want := slices.Sorted(slices.Values(names))
	rps, err := s.RelyingParties(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rp := range rps {
		got = append(got, rp.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("RelyingParties = %q, want %q", got, want)
	}
	ps, err := s.Partners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, p := range ps {
		got = append(got, p.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Partners = %q, want %q", got, want)
	}
}
