package posture

import (
	"os"
	"strings"
	"testing"
)

func TestRootBaseline(t *testing.T) {
	b := baseline()
	if got := len(b); got < 100 {
		t.Fatalf("baseline has %d roots, want the Mozilla bundle (over 100)", got)
	}
	known := baselineRoots()
	tests := []struct {
		name string
		file string
		want bool
	}{
		{"microsoft rsa 2017", "Microsoft_RSA_Root_Certificate_Authority_2017.crt", true},
		{"digicert global g2", "DigiCert_Global_Root_G2.crt", true},
		{"rogue payment root", "secure-payment-root-ca.crt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(windowsData + "/roots/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			certs, broken := parseCertificates(data)
			if broken || len(certs) != 1 {
				t.Fatalf("%d certificates, broken %v", len(certs), broken)
			}
			if got, want := known(certs[0].SHA256), tt.want; got != want {
				t.Errorf("known %v, want %v", got, want)
			}
		})
	}
}

func TestBaselineRootsExtra(t *testing.T) {
	rogue := "7231FBBF95F63D71B1038CF0697DF99AD236C6E49DCDD7391513A493170872F5"
	known := baselineRoots("not hex", strings.ToUpper(rogue[:2])+":"+rogue[2:])
	if got, want := known(strings.ToLower(rogue)), true; got != want {
		t.Errorf("extra fingerprint known %v, want %v", got, want)
	}
	if got, want := baselineRoots()(strings.ToLower(rogue)), false; got != want {
		t.Errorf("without extra known %v, want %v", got, want)
	}
}

func TestParseRootBaseline(t *testing.T) {
	data := "# comment\n\n" + strings.Repeat("ab", 32) + "\tmozilla\tCN=x\nshort\tmozilla\tCN=y\n" + strings.Repeat("zz", 32) + "\tx\n"
	b := parseRootBaseline([]byte(data))
	if got, want := len(b), 1; got != want {
		t.Fatalf("%d roots, want %d", got, want)
	}
}
