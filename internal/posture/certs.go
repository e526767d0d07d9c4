package posture

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"

	"github.com/healthgate/healthgate/evidence"
)

// parseCertificates returns the certificates in a trust store file: PEM
// (CERTIFICATE, or OpenSSL's TRUSTED CERTIFICATE with trust settings
// appended) or a single DER certificate. broken is true when the file
// holds no certificate, or a certificate or PEM block that does not parse;
// the certificates that do parse are still returned.
func parseCertificates(data []byte) (certs []evidence.Certificate, broken bool) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, ok := parseDERCertificate(data)
		if !ok {
			return nil, true
		}
		return []evidence.Certificate{c}, false
	}
	rest := data
	blocks := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE":
			c, ok := parseDERCertificate(b.Bytes)
			if !ok {
				broken = true
				continue
			}
			certs = append(certs, c)
		}
	}
	// A block pem.Decode skipped (bad base64, no end line) is broken too.
	if bytes.Count(data, []byte("-----BEGIN ")) > blocks {
		broken = true
	}
	return certs, broken || len(certs) == 0
}

// parseDERCertificate parses the first DER element of der as a
// certificate, ignoring what follows (OpenSSL's trust settings).
func parseDERCertificate(der []byte) (evidence.Certificate, bool) {
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		return evidence.Certificate{}, false
	}
	cert, err := x509.ParseCertificate(raw.FullBytes)
	if err != nil {
		return evidence.Certificate{}, false
	}
	sum := sha256.Sum256(cert.Raw)
	return evidence.Certificate{
		Subject: clean(cert.Subject.String()),
		SHA256:  hex.EncodeToString(sum[:]),
	}, true
}
