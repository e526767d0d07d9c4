package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/internal/devicekey/tpmtest"
)

// TestTPMEKCAs runs the agent on a software TPM against servers started
// with --tpm-ek-cas: one that trusts the CA that made the TPM's EK
// certificate enrols the key as hardware-bound; one that trusts another
// CA refuses the TPM (403 tpm_ek_untrusted).
func TestTPMEKCAs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := buildBinary(t)
	tpm := tpmtest.Start(t)
	var bundle []byte
	for _, name := range []string{"issuercert.pem", "swtpm-localca-rootca-cert.pem"} {
		b, err := os.ReadFile(filepath.Join(tpm.Dir, "ca", name))
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	good := filepath.Join(t.TempDir(), "ek-cas.pem")
	if err := os.WriteFile(good, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	other := tpmtest.Start(t) // another software TPM: another private CA
	foreign := filepath.Join(other.Dir, "ca", "swtpm-localca-rootca-cert.pem")

	agent := func(server string) (string, int) {
		return run(t, bin, "agent", "--server", server, "--state", filepath.Join(t.TempDir(), "state"), "--key", "tpm",
			"--tpm", tpm.Addr, "--once", "--json", "--root", tree("healthy"))
	}
	trusting := startServerArgs(t, bin, "--data", t.TempDir(), "--tpm-ek-cas", good)
	if out, code := agent(trusting); code != 0 || !strings.Contains(out, `"certificate"`) || !strings.Contains(out, `"hardware":true`) {
		t.Errorf("agent against a server trusting the TPM's CA: exit %d: %s", code, out)
	}
	refusing := startServerArgs(t, bin, "--data", t.TempDir(), "--tpm-ek-cas", foreign)
	if out, code := agent(refusing); code == 0 || !strings.Contains(out, "tpm_ek_untrusted") {
		t.Errorf("agent against a server trusting another CA: exit %d: %s, want tpm_ek_untrusted", code, out)
	}
}
