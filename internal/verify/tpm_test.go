package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
	"github.com/healthgate/healthgate/internal/store"
)

var update = flag.Bool("update", false, "record testdata/tpm-quote.json from a software TPM")

const recordedQuote = "testdata/tpm-quote.json"

// recorded is a quote a software TPM made, its PCRs extended as the boot of
// tpmtest's Secure Boot event log extended them. The log itself is not
// recorded here: tests attach it from tpmtest/testdata.
type recorded struct {
	Nonce         string             `json:"nonce"`
	AKPublic      []byte             `json:"ak_public"`
	OtherAKPublic []byte             `json:"other_ak_public"` // another AK of the same TPM
	Quote         *evidence.TPMQuote `json:"quote"`
}

// record makes testdata/tpm-quote.json with swtpm:
// go test ./internal/verify -run TestVerifyTPMQuote -update
func record(t *testing.T) {
	tpm := tpmtest.Start(t)
	_, log := tpmtest.SecureBootEventLog(t)
	tpm.ExtendPCRs(t, log)
	var r recorded
	r.Nonce = "AAAAAGmAqBCpx3RfWq8DoCkUdTgwMOBE8yvGOc6Abwo8X5Ls1Xsl5w"
	for i, akp := range []*[]byte{&r.AKPublic, &r.OtherAKPublic} {
		k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		att, err := k.Attestation()
		if err != nil {
			t.Fatal(err)
		}
		*akp = att.AKPublic
		if i == 0 {
			if r.Quote, err = k.Quote(evidence.TPMQuoteData(r.Nonce)); err != nil {
				t.Fatal(err)
			}
		}
		k.Close()
	}
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordedQuote, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadRecorded(t testing.TB) recorded {
	t.Helper()
	b, err := os.ReadFile(recordedQuote)
	if err != nil {
		t.Fatalf("%v (record it with -update)", err)
	}
	var r recorded
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	_, r.Quote.EventLog = tpmtest.SecureBootEventLog(t)
	return r
}

// clone copies a quote deeply enough to change any byte of it.
func clone(q *evidence.TPMQuote) *evidence.TPMQuote {
	c := *q
	c.Quote, c.Signature, c.EventLog = bytes.Clone(q.Quote), bytes.Clone(q.Signature), bytes.Clone(q.EventLog)
	c.PCRs = slices.Clone(q.PCRs)
	for i := range c.PCRs {
		c.PCRs[i].Digest = bytes.Clone(q.PCRs[i].Digest)
	}
	return &c
}

// TestVerifyTPMQuote checks VerifyTPMQuote on recorded bytes.
func TestVerifyTPMQuote(t *testing.T) {
	if *update {
		record(t)
	}
	r := loadRecorded(t)
	tests := []struct {
		name   string
		ak     []byte
		nonce  string
		change func(q *evidence.TPMQuote)
		want   string // in the error; empty: verifies
	}{
		{name: "recorded", change: func(*evidence.TPMQuote) {}},
		{name: "without event log", change: func(q *evidence.TPMQuote) { q.EventLog = nil }},
		{name: "other nonce", nonce: "AAAAAGmAqBCpx3RfWq8DoCkUdTgwMOBE8yvGOc6Abwo8X5Ls1Xsl5X", want: "not over this report's nonce"},
		{name: "other AK", ak: r.OtherAKPublic, want: "does not verify with this device's attestation key"},
		{name: "AK that does not parse", ak: []byte{0, 1}, want: "stored attestation key does not parse"},
		{name: "signature changed", change: func(q *evidence.TPMQuote) { q.Signature[len(q.Signature)-1] ^= 1 }, want: "does not verify"},
		{name: "quote changed", change: func(q *evidence.TPMQuote) { q.Quote[len(q.Quote)-1] ^= 1 }, want: "does not verify"},
		{name: "PCR changed", change: func(q *evidence.TPMQuote) { q.PCRs[10].Digest[0] ^= 1 }, want: "does not verify"},
		{name: "PCRs out of order", change: func(q *evidence.TPMQuote) { q.PCRs[0], q.PCRs[1] = q.PCRs[1], q.PCRs[0] }, want: "PCRs 0 to 23 in order"},
		{name: "PCRs left out", change: func(q *evidence.TPMQuote) { q.PCRs = q.PCRs[:23] }, want: "PCRs 0 to 23 in order"},
		{name: "event log truncated", change: func(q *evidence.TPMQuote) { q.EventLog = q.EventLog[:len(q.EventLog)/2] }, want: "event log"},
		{name: "other version", change: func(q *evidence.TPMQuote) { q.Version = 2 }, want: "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak, nonce, q := r.AKPublic, r.Nonce, clone(r.Quote)
			if tt.ak != nil {
				ak = tt.ak
			}
			if tt.nonce != "" {
				nonce = tt.nonce
			}
			if tt.change != nil {
				tt.change(q)
			}
			st, err := VerifyTPMQuote(ak, nonce, q)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want one saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(st.PCRs) != 24 || !st.PCRs[5].QuoteVerified() {
				t.Errorf("state has %d PCRs, PCR 5 verified %v; want 24, true", len(st.PCRs), st.PCRs[5].QuoteVerified())
			}
			withLog := q.EventLog != nil
			if st.EventLog != withLog {
				t.Errorf("EventLog = %v, want %v", st.EventLog, withLog)
			}
			switch {
			case withLog && (st.SecureBoot == nil || !*st.SecureBoot):
				t.Errorf("SecureBoot = %v, want on (the recorded log's)", st.SecureBoot)
			case !withLog && st.SecureBoot != nil:
				t.Errorf("SecureBoot = %v without an event log, want unknown", *st.SecureBoot)
			}
		})
	}
}

type fakeAKs map[string][]byte

func (f fakeAKs) DeviceAK(_ context.Context, id string) ([]byte, error) {
	if ak, ok := f[id]; ok {
		return ak, nil
	}
	return nil, store.ErrNotFound
}

// TestCheckQuote covers the verdicts of a hardware-bound device's report.
func TestCheckQuote(t *testing.T) {
	r := loadRecorded(t)
	on, off := &evidence.SecureBootFacts{Enabled: true}, &evidence.SecureBootFacts{}
	tests := []struct {
		name       string
		aks        AKs
		quote      *evidence.TPMQuote
		secureBoot *evidence.SecureBootFacts
		reason     string // empty: accepted
		status     int
		bound      bool
	}{
		{name: "quote-bound", aks: fakeAKs{"dev": r.AKPublic}, quote: r.Quote, secureBoot: on, bound: true},
		{name: "Secure Boot not reported", aks: fakeAKs{"dev": r.AKPublic}, quote: r.Quote, bound: true},
		{name: "Secure Boot reported off, measured on", aks: fakeAKs{"dev": r.AKPublic}, quote: r.Quote, secureBoot: off,
			reason: ReasonSecureBootMismatch, status: http.StatusBadRequest},
		{name: "no event log: nothing to compare", aks: fakeAKs{"dev": r.AKPublic}, quote: func() *evidence.TPMQuote {
			q := clone(r.Quote)
			q.EventLog = nil
			return q
		}(), secureBoot: off, bound: true},
		{name: "no quote", aks: fakeAKs{"dev": r.AKPublic}, reason: ReasonQuoteMissing, status: http.StatusBadRequest},
		{name: "quote by another AK", aks: fakeAKs{"dev": r.OtherAKPublic}, quote: r.Quote, reason: ReasonQuoteInvalid, status: http.StatusUnauthorized},
		{name: "enrolled before quotes", aks: fakeAKs{}, quote: r.Quote},
		{name: "no AK store", quote: r.Quote, reason: ReasonInternal, status: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{AKs: tt.aks}
			c := &evidence.Claims{Nonce: r.Nonce, TPMQuote: tt.quote, Facts: evidence.Facts{SecureBoot: tt.secureBoot}}
			st, refused := v.checkQuote(context.Background(), store.Device{ID: "dev", Hardware: true}, c)
			if tt.reason == "" {
				if refused != nil {
					t.Fatalf("refused: %s (%s): %v", refused.Reason, refused.Message, refused.Err)
				}
				if got := st != nil; got != tt.bound {
					t.Errorf("quote-bound = %v, want %v", got, tt.bound)
				}
				return
			}
			if refused == nil {
				t.Fatalf("accepted, want %s", tt.reason)
			}
			if refused.Reason != tt.reason || refused.Status != tt.status || refused.Message == "" {
				t.Errorf("refused %s %d %q, want %s %d", refused.Reason, refused.Status, refused.Message, tt.reason, tt.status)
			}
		})
	}
}

// FuzzVerifyTPMQuote feeds outside bytes to the TPM structure and event log
// parsers behind VerifyTPMQuote: it must never panic, and must never
// accept a quote the recorded AK did not sign. (The signature's encoding
// may vary, e.g. ECDSA's s and n−s, without the quote changing.)
func FuzzVerifyTPMQuote(f *testing.F) {
	r := loadRecorded(f)
	f.Add(r.Quote.Quote, r.Quote.Signature, r.Quote.EventLog)
	f.Add(r.Quote.Quote, r.Quote.Signature, r.Quote.EventLog[:100])
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18}, []byte{0x00, 0x18}, []byte{})
	f.Fuzz(func(t *testing.T, quote, sig, log []byte) {
		q := clone(r.Quote)
		q.Quote, q.Signature, q.EventLog = quote, sig, log
		_, err := VerifyTPMQuote(r.AKPublic, r.Nonce, q)
		if err == nil && !bytes.Equal(quote, r.Quote.Quote) {
			t.Fatalf("a quote other than the recorded one verified")
		}
		var qe *quoteError
		if err != nil && !errors.As(err, &qe) {
			t.Fatalf("error %v is not a quote verdict", err)
		}
	})
}
