package posture

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// windowsRootsDir holds the roots Windows ships or trusts beyond Mozilla's
// bundle; roots/microsoft/README.md says where each came from.
const windowsRootsDir = "roots/microsoft"

// shippedRoot is one certificate of windowsRootsDir.
type shippedRoot struct {
	file   string
	cert   *x509.Certificate
	sha256 string
}

// loadWindowsRoots returns the certificates of windowsRootsDir, one per
// .pem file, sorted by file name.
func loadWindowsRoots(t *testing.T) []shippedRoot {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(windowsRootsDir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .pem files in %s", windowsRootsDir)
	}
	var roots []shippedRoot
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b, rest := pem.Decode(data)
		if b == nil || b.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("%s: want exactly one CERTIFICATE block", name)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := sha256.Sum256(c.Raw)
		roots = append(roots, shippedRoot{filepath.Base(name), c, hex.EncodeToString(sum[:])})
	}
	return roots
}

// TestWindowsRoots keeps the baseline and the certificates it was made from
// together: every shipped root is self-signed, known to baselineRoots and
// listed in the README, and every "windows" line of the baseline has its
// certificate here.
func TestWindowsRoots(t *testing.T) {
	roots := loadWindowsRoots(t)
	known := baselineRoots()
	readme, err := os.ReadFile(filepath.Join(windowsRootsDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{}
	for _, r := range roots {
		shipped[r.sha256] = true
		t.Run(r.file, func(t *testing.T) {
			if !bytes.Equal(r.cert.RawIssuer, r.cert.RawSubject) {
				t.Errorf("issuer %s is not the subject %s", r.cert.Issuer, r.cert.Subject)
			}
			if err := verifySelfSigned(r.cert, r.cert.Signature); err != nil {
				t.Errorf("not signed by its own key: %v", err)
			}
			if !known(r.sha256) {
				t.Errorf("baseline lacks %s (go generate ./internal/posture)", r.sha256)
			}
			if !bytes.Contains(readme, []byte(r.sha256)) {
				t.Errorf("README.md does not list %s", r.sha256)
			}
		})
	}
	sc := bufio.NewScanner(bytes.NewReader(baselineText))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) == 3 && fields[1] == "windows" && !shipped[fields[0]] {
			t.Errorf("baseline line %s %s has no certificate in %s", fields[0], fields[2], windowsRootsDir)
		}
	}
}

// TestVerifySelfSignedTampered makes sure the signature check is not
// vacuous for any of the hashes the shipped roots use (MD2, MD5, SHA-1,
// SHA-2, ECDSA): a changed signature must fail.
func TestVerifySelfSignedTampered(t *testing.T) {
	for _, r := range loadWindowsRoots(t) {
		sig := bytes.Clone(r.cert.Signature)
		sig[len(sig)/2] ^= 0x01
		if err := verifySelfSigned(r.cert, sig); err == nil {
			t.Errorf("%s: tampered signature verifies", r.file)
		}
	}
}

// verifySelfSigned checks that sig over c's TBSCertificate is made by c's
// own key. Go's x509 refuses MD2 and MD5, the hashes of several Windows
// roots from the 1990s; for those it checks the RSA PKCS #1 v1.5 signature
// itself.
func verifySelfSigned(c *x509.Certificate, sig []byte) error {
	var outer struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.Raw, &outer); err != nil {
		return err
	}
	pub, isRSA := c.PublicKey.(*rsa.PublicKey)
	switch alg := outer.Algorithm.Algorithm; {
	case alg.Equal(oidMD2WithRSA) && isRSA:
		sum := md2(c.RawTBSCertificate)
		// DigestInfo: SEQUENCE { SEQUENCE { OID md2, NULL }, OCTET STRING digest }.
		prefix := []byte{0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x02, 0x05, 0x00, 0x04, 0x10}
		return rsa.VerifyPKCS1v15(pub, 0, append(prefix, sum[:]...), sig)
	case alg.Equal(oidMD5WithRSA) && isRSA:
		sum := md5.Sum(c.RawTBSCertificate)
		return rsa.VerifyPKCS1v15(pub, crypto.MD5, sum[:], sig)
	case c.SignatureAlgorithm == x509.UnknownSignatureAlgorithm:
		return fmt.Errorf("signature algorithm %v", alg)
	}
	// CheckSignature, unlike CheckSignatureFrom, still accepts SHA-1.
	return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, sig)
}

var (
	oidMD2WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 2}
	oidMD5WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
)

// md2 is the MD2 message digest (RFC 1319), which only the test needs:
// one Windows root is signed with it.
func md2(msg []byte) [16]byte {
	pad := 16 - len(msg)%16
	m := append(bytes.Clone(msg), bytes.Repeat([]byte{byte(pad)}, pad)...)
	var sum [16]byte // the checksum, RFC 1319 section 3.2
	var l byte
	for i := 0; i < len(m); i += 16 {
		for j := range 16 {
			sum[j] ^= md2Pi[m[i+j]^l]
			l = sum[j]
		}
	}
	m = append(m, sum[:]...)
	var x [48]byte
	for i := 0; i < len(m); i += 16 {
		for j := range 16 {
			x[16+j] = m[i+j]
			x[32+j] = x[16+j] ^ x[j]
		}
		var t byte
		for j := range 18 {
			for k := range x {
				x[k] ^= md2Pi[t]
				t = x[k]
			}
			t += byte(j)
		}
	}
	var d [16]byte
	copy(d[:], x[:16])
	return d
}

// md2Pi is RFC 1319's permutation of 0..255 built from the digits of pi.
var md2Pi = [256]byte{
	41, 46, 67, 201, 162, 216, 124, 1, 61, 54, 84, 161, 236, 240, 6, 19,
	98, 167, 5, 243, 192, 199, 115, 140, 152, 147, 43, 217, 188, 76, 130, 202,
	30, 155, 87, 60, 253, 212, 224, 22, 103, 66, 111, 24, 138, 23, 229, 18,
	190, 78, 196, 214, 218, 158, 222, 73, 160, 251, 245, 142, 187, 47, 238, 122,
	169, 104, 121, 145, 21, 178, 7, 63, 148, 194, 16, 137, 11, 34, 95, 33,
	128, 127, 93, 154, 90, 144, 50, 39, 53, 62, 204, 231, 191, 247, 151, 3,
	255, 25, 48, 179, 72, 165, 181, 209, 215, 94, 146, 42, 172, 86, 170, 198,
	79, 184, 56, 210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4, 241,
	69, 157, 112, 89, 100, 113, 135, 32, 134, 91, 207, 101, 230, 45, 168, 2,
	27, 96, 37, 173, 174, 176, 185, 246, 28, 70, 97, 105, 52, 64, 126, 15,
	85, 71, 163, 35, 221, 81, 175, 58, 195, 92, 249, 206, 186, 197, 234, 38,
	44, 83, 13, 110, 133, 40, 132, 9, 211, 223, 205, 244, 65, 129, 77, 82,
	106, 220, 55, 200, 108, 193, 171, 250, 36, 225, 123, 8, 12, 189, 177, 74,
	120, 136, 149, 139, 227, 99, 232, 109, 233, 203, 213, 254, 59, 0, 29, 57,
	242, 239, 183, 14, 102, 88, 208, 228, 166, 119, 114, 248, 235, 117, 75, 10,
	49, 68, 80, 180, 143, 237, 31, 26, 219, 153, 141, 51, 159, 17, 131, 20,
}

func TestMD2(t *testing.T) {
	// RFC 1319 appendix A.5.
	tests := []struct{ in, want string }{
		{"", "8350e5a3e24c153df2275c9f80692773"},
		{"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"},
		{"abc", "da853b0d3f88d99b30283a69e6ded6bb"},
		{"message digest", "ab4f496bfb2a530b219ff33031fe06b0"},
	}
	for _, tt := range tests {
		sum := md2([]byte(tt.in))
		if got := hex.EncodeToString(sum[:]); got != tt.want {
			t.Errorf("md2(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
