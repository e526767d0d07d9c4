package evidence_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/evidence"
)

func quote() *evidence.TPMQuote {
	q := &evidence.TPMQuote{Version: evidence.TPMQuoteVersion, Quote: []byte{0xff, 0x54, 0x43, 0x47}, Signature: []byte{0x00, 0x18}}
	for i := range 24 {
		q.PCRs = append(q.PCRs, evidence.PCRValue{Index: i, Digest: make([]byte, sha256.Size)})
	}
	return q
}

func TestTPMQuoteData(t *testing.T) {
	// SHA-256 of the nonce's characters, not of its base64url decoding.
	got := hex.EncodeToString(evidence.TPMQuoteData("abc"))
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("TPMQuoteData(abc) = %s, want %s", got, want)
	}
}

func TestTPMQuoteRoundTrip(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	c := claims()
	c.TPMQuote = quote()
	c.TPMQuote.EventLog = []byte("log")
	tok, err := evidence.Sign(c, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := evidence.Verify(tok, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	q := got.TPMQuote
	if q == nil || !bytes.Equal(q.Quote, c.TPMQuote.Quote) || len(q.PCRs) != 24 || q.PCRs[23].Index != 23 || string(q.EventLog) != "log" {
		t.Errorf("quote did not round-trip: %+v", q)
	}
}

func TestTPMQuoteSchema(t *testing.T) {
	tests := []struct {
		name   string
		change func(q *evidence.TPMQuote)
		want   string // in the error; empty: valid
	}{
		{"valid", func(q *evidence.TPMQuote) {}, ""},
		{"subset of PCRs", func(q *evidence.TPMQuote) { q.PCRs = q.PCRs[:8] }, ""},
		{"other version", func(q *evidence.TPMQuote) { q.Version = 2 }, "version"},
		{"no quote", func(q *evidence.TPMQuote) { q.Quote = nil }, "quote must be"},
		{"huge signature", func(q *evidence.TPMQuote) { q.Signature = make([]byte, 4096) }, "signature must be"},
		{"no PCRs", func(q *evidence.TPMQuote) { q.PCRs = nil }, "pcrs must have"},
		{"PCR 24", func(q *evidence.TPMQuote) { q.PCRs[0].Index = 24 }, "index must be"},
		{"PCR twice", func(q *evidence.TPMQuote) { q.PCRs[1].Index = 0 }, "PCR 0 twice"},
		{"SHA-1 digest", func(q *evidence.TPMQuote) { q.PCRs[3].Digest = make([]byte, 20) }, "digest must be 32 bytes"},
		{"event log too large", func(q *evidence.TPMQuote) { q.EventLog = make([]byte, evidence.MaxTPMEventLog+1) }, "event_log is larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims()
			c.TPMQuote = quote()
			tt.change(c.TPMQuote)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (!errors.Is(err, evidence.ErrSchema) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want ErrSchema mentioning %q", err, tt.want)
			}
		})
	}
}
