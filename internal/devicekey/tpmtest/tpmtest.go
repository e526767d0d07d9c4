// Package tpmtest starts a software TPM 2.0 (swtpm, via scripts/swtpm.sh) on
// loopback for tests. Without swtpm installed the test fails with the
// install command, unless HEALTHGATE_SKIP_TPM=1, when it is skipped.
package tpmtest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InstallHint is how to get swtpm on Debian.
const InstallHint = "apt-get install -y swtpm swtpm-tools tpm2-tools"

// TPM is a running software TPM.
type TPM struct {
	// Addr is the command port, host:port; the platform port is the next.
	Addr string
	// Dir holds the TPM state and its private CA.
	Dir string
}

// Start manufactures a TPM with EK and platform certificates in
// t.TempDir() and serves it on a free loopback port until the test ends.
func Start(t testing.TB) *TPM {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("HEALTHGATE_SKIP_TPM") == "1" {
			t.Skip("swtpm is not installed and HEALTHGATE_SKIP_TPM=1")
		}
		t.Fatalf("swtpm is not installed: %s (or set HEALTHGATE_SKIP_TPM=1 to skip TPM tests)", InstallHint)
	}
	dir := t.TempDir()
	script := filepath.Join(repoRoot(t), "scripts", "swtpm.sh")
	var lastErr error
	for range 5 { // a free port pair can be taken between probe and bind
		port, err := freePortPair()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(script, "start", dir, fmt.Sprint(port)).CombinedOutput()
		if err != nil {
			lastErr = fmt.Errorf("%v: %s", err, out)
			continue
		}
		t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
		return &TPM{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	}
	t.Fatalf("starting swtpm: %v", lastErr)
	return nil
}

// CACertificates returns the root and intermediate of the TPM's private CA,
// which issued its EK certificate.
func (tpm *TPM) CACertificates(t testing.TB) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for _, name := range []string{"swtpm-localca-rootca-cert.pem", "issuercert.pem"} {
		b, err := os.ReadFile(filepath.Join(tpm.Dir, "ca", name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s: no PEM", name)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		certs = append(certs, c)
	}
	return certs
}

func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port pair")
}

func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// SecureBootEventLog returns a recorded firmware event log of a platform
// that booted with Secure Boot on (testdata/secureboot-on.eventlog).
func SecureBootEventLog(t testing.TB) (path string, log []byte) {
	t.Helper()
	path = filepath.Join(repoRoot(t), "internal", "devicekey", "tpmtest", "testdata", "secureboot-on.eventlog")
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, log
}
