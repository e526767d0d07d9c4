package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Kinds of simulated device.
type Kind int

const (
	Healthy  Kind = iota // antivirus on with fresh signatures, firewall on, patched
	AtRisk               // healthy but the firewall is off
	Infected             // payment site hijacked, rogue root CA, remote-control tool, no protection
)

// WriteDevice writes the file tree of a simulated device under root, in the
// layout the Linux collectors read, with dates relative to now so the tree
// is as fresh (or as stale) as the story needs.
func WriteDevice(root string, kind Kind, now time.Time) error {
	infected := kind == Infected
	files := map[string]string{
		"etc/os-release":              "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
		"proc/sys/kernel/osrelease":   "6.1.0-27-amd64\n",
		"etc/resolv.conf":             "nameserver 1.1.1.1\nnameserver 8.8.8.8\n",
		"var/log/apt/history.log":     fmt.Sprintf("\nStart-Date: %s\nCommandline: apt-get upgrade -y\nUpgrade: openssl:amd64 (3.0.14-1~deb12u2, 3.0.15-1~deb12u1)\nEnd-Date: %s\n", now.Add(-49*time.Hour).Format("2006-01-02  15:04:05"), now.Add(-48*time.Hour).Format("2006-01-02  15:04:05")),
		"proc/1/comm":                 "systemd\n",
		"proc/812/comm":               "sshd\n",
		"usr/lib/systemd/systemd":     "demo systemd binary\n",
		"usr/sbin/sshd":               "demo sshd binary\n",
		"etc/hosts":                   "127.0.0.1\tlocalhost\n127.0.1.1\tdemo-pc\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"etc/ufw/ufw.conf":            "ENABLED=yes\nLOGLEVEL=low\n",
		"usr/sbin/clamd":              "demo clamd binary\n",
		"proc/640/comm":               "clamd\n",
		"var/lib/clamav/daily.cld":    "ClamAV-VDB:demo\n",
		"usr/lib/firefox-esr/firefox": "demo firefox binary\n",
		"proc/1500/comm":              "firefox-esr\n",
	}
	links := map[string]string{
		"proc/1/exe":    "/usr/lib/systemd/systemd",
		"proc/812/exe":  "/usr/sbin/sshd",
		"proc/640/exe":  "/usr/sbin/clamd",
		"proc/1500/exe": "/usr/lib/firefox-esr/firefox",
	}
	if kind == AtRisk {
		files["etc/ufw/ufw.conf"] = "ENABLED=no\n"
	}
	if infected {
		// The attacks that steal payments: a hijacked payment domain, a
		// rogue root CA to intercept TLS, a remote-control tool running,
		// and no antivirus or firewall left to notice.
		files["etc/hosts"] += "203.0.113.66\talipay.com www.alipay.com\n"
		files["etc/ufw/ufw.conf"] = "ENABLED=no\n"
		files["etc/environment"] = "http_proxy=\"http://203.0.113.66:8080\"\nhttps_proxy=\"http://203.0.113.66:8080\"\n"
		for _, k := range []string{"usr/sbin/clamd", "proc/640/comm", "var/lib/clamav/daily.cld"} {
			delete(files, k)
		}
		delete(links, "proc/640/exe")
		files["opt/teamviewer/tv_bin/teamviewerd"] = "demo remote-control daemon\n"
		files["proc/4242/comm"] = "teamviewerd\n"
		links["proc/4242/exe"] = "/opt/teamviewer/tv_bin/teamviewerd"
		ca, err := rogueCA(now)
		if err != nil {
			return err
		}
		files["usr/local/share/ca-certificates/secure-payment-root.crt"] = ca
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	for name, target := range links {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
	}
	return nil
}

// rogueCA makes a self-signed root like the ones banking trojans install to
// read TLS traffic to payment sites.
func rogueCA(now time.Time) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "Secure Payment Root CA", Organization: []string{"Secure Payment Services"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}
