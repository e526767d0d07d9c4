package evidence

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// MaxSize bounds an evidence token in bytes. A full report with a few hundred
// processes is well under 64 KiB.
const MaxSize = 256 << 10

// MediaType is the content type of an evidence token on the wire.
const MediaType = "application/jose"

// TokenType is the JWS "typ" header of evidence tokens.
const TokenType = "eat+jwt"

// Limits on the claim schema. They keep one report small enough to appraise
// quickly and bound what a hostile client can make the server store.
const (
	maxString     = 256
	maxHosts      = 512
	maxDNS        = 32
	maxAntivirus  = 16
	maxAddedRoots = 256
	maxProcesses  = 4096
	maxFindings   = 256
	maxUnknown    = 32
	maxProfiles   = 8
	maxExtensions = 512
	maxPerms      = 64
	minNonceLen   = 8  // EAT: eat_nonce is 8 to 64 bytes; we use its
	maxNonceLen   = 88 // base64url text, at most 88 characters
)

// Platforms an agent may report.
var Platforms = []string{"linux", "windows", "darwin", "android", "ios"}

// Claims is the payload of an evidence token.
type Claims struct {
	Nonce     string    `json:"eat_nonce"`
	UEID      string    `json:"ueid"` // the device id the server assigned at enrolment
	IssuedAt  int64     `json:"iat"`  // seconds since the epoch
	SWName    string    `json:"swname"`
	SWVersion string    `json:"swversion"`
	Platform  string    `json:"platform"`
	Facts     Facts     `json:"facts"`
	Findings  []Finding `json:"findings,omitempty"`
	// Session is a checkout session id when the report was asked for by a
	// payment page through a healthgate:// link.
	Session string `json:"healthgate.session,omitempty"`
	// TPMQuote binds the report to the device's TPM; a device whose key is
	// in a TPM adds it (tpm.go).
	TPMQuote *TPMQuote `json:"healthgate.tpm_quote,omitempty"`
}

// Finding is something the agent matched locally, for example a hash on the
// protective feed. Code is a stable identifier; Subject names what matched
// (a hash, a domain, a tool name) and never personal data.
type Finding struct {
	Code    string `json:"code"`
	Subject string `json:"subject,omitempty"`
	// New is true when this device had not matched Subject in the last 30
	// days: what incidence (new cases) is counted from, without the service
	// keeping which device saw what.
	New bool `json:"new,omitempty"`
}

// Algorithm returns the JWS algorithm for a public key: EdDSA for Ed25519 and
// ES256 for P-256. Other keys are not accepted for evidence.
func Algorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("ed25519 public key has the wrong size")
		}
		if smallOrder(k) {
			return "", fmt.Errorf("%w: ed25519 public key is a point of small order, which verifies forged signatures", ErrAlgorithm)
		}
		return jose.EdDSA, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("only P-256 ECDSA keys are accepted")
		}
		return jose.ES256, nil
	default:
		return "", fmt.Errorf("unsupported device key type %T", pub)
	}
}

// smallOrderY are the y coordinates, little-endian without the sign bit, of
// the Ed25519 points of order 1, 2, 4 and 8, with the non-canonical
// encodings p and p+1 of 0 and 1 (libsodium's list). A public key among them
// verifies signatures made without any private key: R = [S]B − [k]A holds
// for R the identity and S zero.
var smallOrderY = [][32]byte{
	{},     // 0: order 4
	{0: 1}, // 1: the identity
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05}, // order 8
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a}, // order 8
	pMinus(1),  // p−1: order 2
	pMinus(0),  // p: 0 again
	pMinus(-1), // p+1: 1 again
}

// pMinus returns p−n for p = 2^255−19, little-endian.
func pMinus(n int) [32]byte {
	var b [32]byte
	for i := range b {
		b[i] = 0xff
	}
	b[0] = byte(0xed - n)
	b[31] = 0x7f
	return b
}

func smallOrder(k ed25519.PublicKey) bool {
	var y [32]byte
	copy(y[:], k)
	y[31] &= 0x7f
	for _, s := range smallOrderY {
		if y == s {
			return true
		}
	}
	return false
}

// Sign validates the claims and signs them with the device key. The signer may
// be a file key or a hardware key; its public key picks the algorithm.
func Sign(c *Claims, signer crypto.Signer) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	alg, err := Algorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding evidence: %w", err)
	}
	if len(payload) > MaxSize*3/4-512 {
		return nil, fmt.Errorf("%w: the payload is %d bytes", ErrTooLarge, len(payload))
	}
	var key any = cryptosigner.Opaque(signer)
	if priv, ok := signer.(ed25519.PrivateKey); ok {
		key = priv // go-jose's native path avoids a copy per signature
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType(TokenType))
	if err != nil {
		return nil, fmt.Errorf("creating signer: %w", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("signing evidence: %w", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// Parse decodes an evidence token WITHOUT checking its signature. The
// returned claims are untrusted: use them only to find the key to verify
// with. The claim schema is checked.
func Parse(token []byte) (*Claims, error) {
	obj, err := parseCompact(token)
	if err != nil {
		return nil, err
	}
	return decodeClaims(obj.UnsafePayloadWithoutVerification())
}

// Verify checks the token's signature with pub and returns the claims. The
// algorithm is fixed by the key's type; the token's own "alg" must match it.
func Verify(token []byte, pub crypto.PublicKey) (*Claims, error) {
	alg, err := Algorithm(pub)
	if err != nil {
		return nil, err
	}
	obj, err := parseCompact(token, alg)
	if err != nil {
		return nil, err
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, ErrBadSignature
	}
	return decodeClaims(payload)
}

// KeyLookup finds the public key of the device a token names. Its error is
// returned by VerifyLookup unchanged.
type KeyLookup func(ueid string) (crypto.PublicKey, error)

// VerifyLookup verifies a token whose key is found from the device id it
// claims: the token is parsed once, the key looked up by its ueid, the
// algorithm pinned by that key's type and the signature checked before the
// claims are decoded and validated. It is Verify for servers that hold many
// device keys.
func VerifyLookup(token []byte, lookup KeyLookup) (*Claims, crypto.PublicKey, error) {
	obj, err := parseCompact(token)
	if err != nil {
		return nil, nil, err
	}
	var head struct {
		UEID string `json:"ueid"`
	}
	if err := json.Unmarshal(obj.UnsafePayloadWithoutVerification(), &head); err != nil || head.UEID == "" {
		return nil, nil, fmt.Errorf("%w: no ueid claim", ErrSchema)
	}
	pub, err := lookup(head.UEID)
	if err != nil {
		return nil, nil, err
	}
	alg, err := Algorithm(pub)
	if err != nil {
		return nil, nil, err
	}
	if got := obj.Signatures[0].Header.Algorithm; got != string(alg) {
		return nil, nil, fmt.Errorf("%w: %s token for a key that signs %s", ErrAlgorithm, got, alg)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, nil, ErrBadSignature
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, nil, err
	}
	return c, pub, nil
}

// Errors that callers map to appraisal reason codes.
var (
	ErrTooLarge     = errors.New("evidence is larger than the limit")
	ErrMalformed    = errors.New("evidence is not a compact JWS")
	ErrAlgorithm    = errors.New("evidence algorithm is not allowed for this key")
	ErrBadSignature = errors.New("evidence signature does not verify")
	ErrSchema       = errors.New("evidence claims do not match the schema")
)

func parseCompact(token []byte, algs ...jose.SignatureAlgorithm) (*jose.JSONWebSignature, error) {
	if len(token) > MaxSize {
		return nil, ErrTooLarge
	}
	token = bytes.TrimSpace(token)
	if bytes.Count(token, []byte{'.'}) != 2 {
		return nil, ErrMalformed
	}
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}
	}
	obj, err := jose.ParseSignedCompact(string(token), algs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return nil, fmt.Errorf("%w: %v", ErrAlgorithm, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, ErrMalformed
	}
	if typ, ok := obj.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; ok && typ != TokenType {
		return nil, fmt.Errorf("%w: typ %v", ErrMalformed, typ)
	}
	return obj, nil
}

func decodeClaims(payload []byte) (*Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var c Claims
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after claims", ErrSchema)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the claims against the schema and reports every problem at
// once, wrapped in ErrSchema.
func (c *Claims) Validate() error {
	var p problems
	if n := len(c.Nonce); n < minNonceLen || n > maxNonceLen {
		p.addf("eat_nonce must be %d to %d characters", minNonceLen, maxNonceLen)
	}
	p.str("ueid", c.UEID, true)
	if c.IssuedAt <= 0 {
		p.addf("iat is missing")
	}
	p.str("swname", c.SWName, true)
	p.str("swversion", c.SWVersion, false)
	p.str("healthgate.session", c.Session, false)
	if !contains(Platforms, c.Platform) {
		p.addf("platform %q is not one of %s", trim(c.Platform), strings.Join(Platforms, ", "))
	}
	c.Facts.validate(&p)
	if len(c.Findings) > maxFindings {
		p.addf("more than %d findings", maxFindings)
	}
	for i, f := range c.Findings {
		p.str(fmt.Sprintf("findings[%d].code", i), f.Code, true)
		p.str(fmt.Sprintf("findings[%d].subject", i), f.Subject, false)
	}
	if c.TPMQuote != nil {
		c.TPMQuote.validate(&p)
	}
	return p.err()
}

func (f *Facts) validate(p *problems) {
	if o := f.OS; o != nil {
		p.str("facts.os.name", o.Name, true)
		p.str("facts.os.version", o.Version, false)
		p.str("facts.os.kernel", o.Kernel, false)
		p.str("facts.os.build", o.Build, false)
	}
	if fw := f.Firewall; fw != nil {
		p.str("facts.firewall.backend", fw.Backend, false)
	}
	if av := f.Antivirus; av != nil {
		if len(av.Products) > maxAntivirus {
			p.addf("more than %d antivirus products", maxAntivirus)
		}
		for i, pr := range av.Products {
			p.str(fmt.Sprintf("facts.antivirus.products[%d].name", i), pr.Name, true)
			p.str(fmt.Sprintf("facts.antivirus.products[%d].state", i), pr.State, false)
		}
	}
	if h := f.Hosts; h != nil {
		if len(h.Entries) > maxHosts {
			p.addf("more than %d hosts entries", maxHosts)
		}
		for i, e := range h.Entries {
			p.str(fmt.Sprintf("facts.hosts.entries[%d].host", i), e.Host, true)
			p.str(fmt.Sprintf("facts.hosts.entries[%d].ip", i), e.IP, true)
		}
	}
	if d := f.DNS; d != nil {
		if len(d.Servers) > maxDNS {
			p.addf("more than %d DNS servers", maxDNS)
		}
		for i, s := range d.Servers {
			p.str(fmt.Sprintf("facts.dns.servers[%d]", i), s, true)
		}
	}
	if x := f.Proxy; x != nil {
		p.str("facts.proxy.http", x.HTTP, false)
		p.str("facts.proxy.https", x.HTTPS, false)
		p.str("facts.proxy.pac_url", x.PACURL, false)
	}
	if t := f.TrustStore; t != nil {
		if len(t.Added) > maxAddedRoots {
			p.addf("more than %d added roots", maxAddedRoots)
		}
		for i, c := range t.Added {
			p.str(fmt.Sprintf("facts.trust_store.added[%d].subject", i), c.Subject, false)
			if !isHex(c.SHA256, 64) {
				p.addf("facts.trust_store.added[%d].sha256 is not 64 hex digits", i)
			}
		}
		if t.Unreadable < 0 {
			p.addf("facts.trust_store.unreadable is negative")
		}
	}
	if pr := f.Processes; pr != nil {
		if len(pr.Running) > maxProcesses {
			p.addf("more than %d processes", maxProcesses)
		}
		for i, r := range pr.Running {
			p.str(fmt.Sprintf("facts.processes.running[%d].name", i), r.Name, true)
			if r.SHA256 != "" && !isHex(r.SHA256, 64) {
				p.addf("facts.processes.running[%d].sha256 is not 64 hex digits", i)
			}
		}
	}
	if fw := f.Firewall; fw != nil {
		if len(fw.Profiles) > maxProfiles || len(fw.Products) > maxAntivirus {
			p.addf("too many firewall profiles or products")
		}
		for i, pr := range fw.Profiles {
			p.str(fmt.Sprintf("facts.firewall.profiles[%d].name", i), pr.Name, true)
		}
		for i, pr := range fw.Products {
			p.str(fmt.Sprintf("facts.firewall.products[%d].name", i), pr.Name, true)
			p.str(fmt.Sprintf("facts.firewall.products[%d].state", i), pr.State, false)
		}
	}
	if av := f.Antivirus; av != nil {
		if len(av.Antispyware) > maxAntivirus {
			p.addf("more than %d antispyware products", maxAntivirus)
		}
		for i, pr := range av.Antispyware {
			p.str(fmt.Sprintf("facts.antivirus.antispyware[%d].name", i), pr.Name, true)
			p.str(fmt.Sprintf("facts.antivirus.antispyware[%d].state", i), pr.State, false)
		}
	}
	if d := f.DiskEncryption; d != nil {
		p.str("facts.disk_encryption.method", d.Method, false)
	}
	if s := f.ScreenLock; s != nil && s.IdleSeconds < 0 {
		p.addf("facts.screen_lock.idle_seconds is negative")
	}
	if ps := f.PlatformSecurity; ps != nil {
		p.str("facts.platform_security.xprotect_version", ps.XProtectVersion, false)
	}
	if b := f.Browsers; b != nil {
		if len(b.Extensions) > maxExtensions {
			p.addf("more than %d browser extensions", maxExtensions)
		}
		for i, e := range b.Extensions {
			p.str(fmt.Sprintf("facts.browsers.extensions[%d].browser", i), e.Browser, true)
			p.str(fmt.Sprintf("facts.browsers.extensions[%d].id", i), e.ID, true)
			p.str(fmt.Sprintf("facts.browsers.extensions[%d].name", i), e.Name, false)
			if len(e.Permissions) > maxPerms {
				p.addf("facts.browsers.extensions[%d] has more than %d permissions", i, maxPerms)
			}
			for _, perm := range e.Permissions {
				p.str(fmt.Sprintf("facts.browsers.extensions[%d].permissions", i), perm, true)
			}
		}
	}
	if v := f.Virtualization; v != nil {
		p.str("facts.virtualization.product", v.Product, false)
	}
	if len(f.Unknown) > maxUnknown {
		p.addf("more than %d unknown facts", maxUnknown)
	}
	for k, v := range f.Unknown {
		p.str("facts.unknown key", k, true)
		p.str("facts.unknown["+trim(k)+"]", v, false)
	}
}

type problems []string

func (p *problems) addf(format string, args ...any) {
	if len(*p) < 20 {
		*p = append(*p, fmt.Sprintf(format, args...))
	}
}

func (p *problems) str(name, v string, required bool) {
	switch {
	case required && v == "":
		p.addf("%s is missing", name)
	case len(v) > maxString:
		p.addf("%s is longer than %d bytes", name, maxString)
	case strings.IndexByte(v, 0) >= 0:
		// No text means a NUL, and PostgreSQL refuses to store one.
		p.addf("%s contains a NUL character", name)
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrSchema, strings.Join(p, "; "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func trim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
