package devicekey_test

import (
	"crypto"
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
)

// TestTPMQuote quotes the PCRs of a software TPM whose PCRs were extended
// as a recorded firmware boot extended them: the quote verifies with the
// AK over the given data and the PCR values, and the event log it carries
// replays against those PCRs to Secure Boot on.
func TestTPMQuote(t *testing.T) {
	tpm := tpmtest.Start(t)
	logPath, log := tpmtest.SecureBootEventLog(t)
	tpm.ExtendPCRs(t, log)
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: t.TempDir(), SimulatorEventLog: logPath})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	att, err := k.Attestation()
	if err != nil {
		t.Fatal(err)
	}
	ak, err := attest.ParseAKPublic(att.AKPublic)
	if err != nil {
		t.Fatal(err)
	}
	data := evidence.TPMQuoteData("nonce-0123456789")
	q, err := k.Quote(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(q.PCRs), 24; got != want {
		t.Fatalf("%d PCRs, want %d", got, want)
	}
	var pcrs []attest.PCR
	for _, p := range q.PCRs {
		pcrs = append(pcrs, attest.PCR{Index: p.Index, Digest: p.Digest, DigestAlg: crypto.SHA256})
	}
	if err := ak.Verify(attest.Quote{Quote: q.Quote, Signature: q.Signature}, pcrs, data); err != nil {
		t.Fatalf("quote does not verify: %v", err)
	}
	if err := ak.Verify(attest.Quote{Quote: q.Quote, Signature: q.Signature}, pcrs, evidence.TPMQuoteData("another nonce")); err == nil {
		t.Error("quote verified over another nonce")
	}
	if string(q.EventLog) != string(log) {
		t.Fatalf("quote carries a %d-byte event log, want the %d-byte simulator log", len(q.EventLog), len(log))
	}
	el, err := attest.ParseEventLog(q.EventLog)
	if err != nil {
		t.Fatal(err)
	}
	events, err := el.Verify(pcrs[:8])
	if err != nil {
		t.Fatalf("event log does not replay against the quoted PCRs: %v", err)
	}
	sb, err := attest.ParseSecurebootState(events)
	if err != nil || !sb.Enabled {
		t.Errorf("Secure Boot state %+v, %v; want enabled", sb, err)
	}
}

// TestTPMQuoteWithoutEventLog: a simulator given no log sends none.
func TestTPMQuoteWithoutEventLog(t *testing.T) {
	tpm := tpmtest.Start(t)
	k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpm.Addr, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	q, err := k.Quote(evidence.TPMQuoteData("nonce-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if q.EventLog != nil {
		t.Errorf("quote carries a %d-byte event log, want none", len(q.EventLog))
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Quote(evidence.TPMQuoteData("nonce-0123456789")); err == nil {
		t.Error("a closed key quoted")
	}
}
