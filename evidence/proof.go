package evidence

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// ProofType is the JWS "typ" of a proof of possession.
const ProofType = "healthgate-pop+jwt"

// Transaction is what a payment page asks the device to vouch for. The same
// fields, canonicalised by TransactionHash, are what the relying party sends
// to POST /v1/decisions.
type Transaction struct {
	Account     string `json:"account"`
	Amount      string `json:"amount"` // decimal, as sent to the decision API
	Currency    string `json:"currency"`
	Payee       string `json:"payee"`
	MerchantURL string `json:"merchant_url"`
}

// TransactionHash returns the base64url SHA-256 of the canonical form of a
// transaction: a version line and the five fields, one per line. A field
// holding a line break cannot be canonicalised and is an error. The agent
// computes it from the fields a page sends (/sdk/healthgate.js sends them,
// not a hash), and the service again from the decision request.
func TransactionHash(tx Transaction) (string, error) {
	fields := []string{tx.Account, tx.Amount, tx.Currency, tx.Payee, tx.MerchantURL}
	for _, f := range fields {
		if strings.ContainsAny(f, "\r\n") {
			return "", errors.New("transaction fields must not contain line breaks")
		}
	}
	sum := sha256.Sum256([]byte("healthgate-tx-v1\n" + strings.Join(fields, "\n")))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// Proof is the payload of a proof of possession: the device key signs the
// transaction hash for one origin, now.
type Proof struct {
	TxHash   string `json:"tx"`
	Origin   string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	// ID makes every proof unique (SignProof fills it), so the service can
	// refuse a proof used twice even for two identical payments.
	ID string `json:"jti,omitempty"`
}

// URLOrigin returns the origin of an http(s) URL the way browsers write it
// in the Origin header, which is what a proof made for a checkout page
// names in aud: lower-case scheme and host, and the port only when it is
// not the scheme's default.
func URLOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Opaque != "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an http(s) URL with a host", raw)
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has a bad port", raw)
		}
		if !(u.Scheme == "http" && n == 80 || u.Scheme == "https" && n == 443) {
			host += ":" + strconv.Itoa(n)
		}
	}
	return u.Scheme + "://" + host, nil
}

// ParseOrigin reads an origin written on its own (an allowlist entry such
// as https://shop.example, a trailing slash allowed) and returns it as
// URLOrigin does; user info, a path, a query or a fragment is an error.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.User != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port], nothing after)", s)
	}
	return URLOrigin(s)
}

// MaxProofAge bounds how old a proof may be when the decision is made.
const MaxProofAge = 5 * time.Minute

// SignProof signs a proof of possession with the device key.
func SignProof(p Proof, signer crypto.Signer) ([]byte, error) {
	if p.TxHash == "" || p.IssuedAt <= 0 {
		return nil, errors.New("proof needs a transaction hash and iat")
	}
	alg, err := Algorithm(signer.Public())
	if err != nil {
		return nil, err
	}
	if p.ID == "" {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		p.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(signer)},
		(&jose.SignerOptions{}).WithType(ProofType))
	if err != nil {
		return nil, err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return nil, err
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return nil, err
	}
	if alg == jose.ES256 {
		// VerifyProof takes only the low-s form of an ECDSA signature.
		return lowS(out)
	}
	return []byte(out), nil
}

// p256HalfN is half the order of P-256: an ECDSA signature (r, s) with s
// above it has the twin (r, n−s), which verifies as well.
var p256HalfN = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// lowS rewrites an ES256 compact JWS so that its signature's s is at most
// n/2, the one form of the two that VerifyProof accepts.
func lowS(tok string) ([]byte, error) {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("signer made a malformed ES256 signature")
	}
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfN) <= 0 {
		return []byte(tok), nil
	}
	s.Sub(elliptic.P256().Params().N, s).FillBytes(sig[32:])
	return []byte(tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)), nil
}

// checkOneSpelling refuses every spelling of a compact JWS but the one a
// signer makes: base64url without padding, with no white space or line
// breaks (decoders skip them) and with the unused bits of each segment's
// last character zero (decoders ignore them). The service recognises a
// proof used twice by its bytes, so a second spelling would be a replay.
func checkOneSpelling(tok []byte) error {
	for _, b := range tok {
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.') {
			return fmt.Errorf("%w: proof holds a byte that is not base64url", ErrMalformed)
		}
	}
	for _, seg := range bytes.Split(tok, []byte{'.'}) {
		if _, err := base64.RawURLEncoding.Strict().DecodeString(string(seg)); err != nil {
			return fmt.Errorf("%w: proof is not in canonical base64url", ErrMalformed)
		}
	}
	return nil
}

// VerifyProof checks a proof's signature with the device's public key (the
// algorithm pinned by the key type) and its freshness against now.
func VerifyProof(tok []byte, pub crypto.PublicKey, now time.Time) (*Proof, error) {
	alg, err := Algorithm(pub)
	if err != nil {
		return nil, err
	}
	if len(tok) > 4096 {
		return nil, ErrTooLarge
	}
	if err := checkOneSpelling(tok); err != nil {
		return nil, err
	}
	obj, err := jose.ParseSignedCompact(string(tok), []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(obj.Signatures) != 1 || obj.Signatures[0].Protected.ExtraHeaders[jose.HeaderType] != ProofType {
		return nil, fmt.Errorf("%w: not a proof of possession", ErrMalformed)
	}
	if sig := obj.Signatures[0].Signature; alg == jose.ES256 && len(sig) == 64 && new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfN) > 0 {
		return nil, fmt.Errorf("%w: ES256 proof signature is not in low-s form", ErrMalformed)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, ErrBadSignature
	}
	var p Proof
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.TxHash == "" {
		return nil, fmt.Errorf("%w: proof claims", ErrSchema)
	}
	iat := time.Unix(p.IssuedAt, 0)
	if iat.After(now.Add(time.Minute)) || now.Sub(iat) > MaxProofAge {
		return nil, fmt.Errorf("%w: proof is not fresh", ErrSchema)
	}
	return &p, nil
}
