// Package devicekey gives the agent its device key as a crypto.Signer. The
// default backend is an Ed25519 key in a PKCS #8 PEM file readable only by
// its owner (on Windows also SYSTEM and Administrators); hardware backends
// (TPM) satisfy the same Key interface.
package devicekey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key is a device key.
type Key interface {
	crypto.Signer
	// Hardware reports whether the private key cannot leave a hardware
	// module (TPM, Secure Enclave).
	Hardware() bool
}

type fileKey struct{ ed25519.PrivateKey }

func (fileKey) Hardware() bool { return false }

// LoadOrCreateFile loads the Ed25519 key at path, or creates it when the
// file does not exist: mode 0600, or on Windows a protected DACL for its
// owner, SYSTEM and Administrators only. A key file readable by others is
// refused. Agents that start together on one state directory all get the
// key that ends up in the file.
func LoadOrCreateFile(path string) (Key, error) {
	k, err := loadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = createFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another agent created it first, or path is a symbolic link to a
		// missing file: use what is there, never a second key.
		k, err = loadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("device key %s exists but cannot be opened (a symbolic link to a missing file?): %w", path, err)
		}
	}
	return k, err
}

func loadFile(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("device key %s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("device key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("device key %s is %T, want Ed25519", path, k)
	}
	return fileKey{priv}, nil
}

// createFile writes a new key to path unless a file is already there, when
// it returns an error wrapping fs.ErrExist.
func createFile(path string) (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Write a temporary file, then link it in place so a crash never
	// leaves half a key and a key another agent put there first stays.
	tmp, err := writePrivateTemp(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// A file system without hard links: replace, as rename does.
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	}
	return fileKey{priv}, nil
}

// writePrivateTemp writes data to a new file next to path that only its
// owner can read (createPrivate), synced, and returns its name. The name is
// random: a file left by a crash keeps its old permissions if reopened.
func writePrivateTemp(path string, data []byte) (string, error) {
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%x.tmp", path, suffix)
	f, err := createPrivate(tmp)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if errClose := f.Close(); err == nil {
		err = errClose
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// JWK is the public JSON Web Key of a device key (OKP Ed25519 or EC P-256).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
}

// PublicJWK returns the JWK of a public key.
func PublicJWK(pub crypto.PublicKey) (JWK, error) {
	enc := base64.RawURLEncoding
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return JWK{}, errors.New("ed25519 public key has the wrong size")
		}
		return JWK{Kty: "OKP", Crv: "Ed25519", X: enc.EncodeToString(k)}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return JWK{}, errors.New("only P-256 keys are supported")
		}
		b, err := k.Bytes() // uncompressed point 0x04 || X || Y
		if err != nil {
			return JWK{}, err
		}
		return JWK{Kty: "EC", Crv: "P-256", X: enc.EncodeToString(b[1:33]), Y: enc.EncodeToString(b[33:])}, nil
	default:
		return JWK{}, fmt.Errorf("unsupported key type %T", pub)
	}
}

// PublicKey parses the JWK back into a public key, validating it.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519" && j.Y == "":
		x, err := decodeCanonical(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("jwk: bad Ed25519 x")
		}
		return ed25519.PublicKey(x), nil
	case j.Kty == "EC" && j.Crv == "P-256":
		x, errX := decodeCanonical(j.X)
		y, errY := decodeCanonical(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("jwk: bad P-256 coordinates")
		}
		pt := append([]byte{4}, append(x, y...)...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("jwk: unsupported key kty=%q crv=%q", j.Kty, j.Crv)
	}
}

// decodeCanonical decodes unpadded base64url, refusing any other spelling
// of the same bytes (set unused bits, line breaks), which would give the
// same key another thumbprint.
func decodeCanonical(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && base64.RawURLEncoding.EncodeToString(b) != s {
		err = errors.New("not canonical base64url")
	}
	return b, err
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url.
func (j JWK) Thumbprint() string {
	var in []byte
	switch j.Kty {
	case "EC":
		in, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y})
	default:
		in, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X})
	}
	sum := sha256.Sum256(in)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
