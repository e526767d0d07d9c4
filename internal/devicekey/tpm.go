package devicekey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-attestation/attest"
)

// TPMOptions selects a TPM 2.0 and where its key blobs are kept.
type TPMOptions struct {
	// Simulator is the host:port of a TPM simulator's command port speaking
	// the Microsoft simulator command framing (swtpm socket --server
	// type=tcp). The simulator must already be started (swtpm --flags
	// not-need-init,startup-clear). Empty means the system TPM (/dev/tpmrm0
	// on Linux).
	Simulator string
	// SimulatorEventLog is a file holding the firmware event log the
	// simulated platform presents with its quotes; a simulator has none
	// otherwise. Tests extend the simulator's PCRs to match it. Ignored
	// for the system TPM, whose log the platform keeps.
	SimulatorEventLog string
	// StateDir holds the device key and attestation key blobs. They are
	// wrapped by the TPM's storage root key and useless on another TPM.
	StateDir string
}

// Files in the state directory.
const (
	tpmKeyFile = "tpm-device-key.blob"
	tpmAKFile  = "tpm-ak.blob"
)

// The parent of both keys is the storage root key at the TCG handle
// 0x81000001 (RSA 2048, standard template), made persistent the first time
// if the TPM has none. go-attestation v0.6.4 can create keys under another
// parent but only load them under this one, so an ECC SRK is not an option.

// TPMKey is a P-256 device key that lives in a TPM 2.0: it signs with
// TPM2_Sign (ECDSA, SHA-256) and its private part never leaves the TPM. An
// attestation key (AK) in the same TPM certified it at creation; Attestation
// and ActivateCredential let a server check that binding.
type TPMKey struct {
	mu  sync.Mutex // a TPM runs one command at a time
	tpm *attest.TPM
	ak  *attest.AK
	key *attest.Key
	sig crypto.Signer
	pub *ecdsa.PublicKey
}

var _ Key = (*TPMKey)(nil)

// OpenTPM opens the TPM and loads the device key from opts.StateDir, or
// creates an attestation key and a device key certified by it when the
// directory has none. Call Close to unload them from the TPM.
func OpenTPM(opts TPMOptions) (_ *TPMKey, err error) {
	if opts.StateDir == "" {
		return nil, errors.New("tpm: state directory is required")
	}
	t, err := openTPM(opts.Simulator, opts.SimulatorEventLog)
	if err != nil {
		return nil, err
	}
	k := &TPMKey{tpm: t}
	defer func() {
		if err != nil {
			k.Close()
		}
	}()
	akPath, keyPath := filepath.Join(opts.StateDir, tpmAKFile), filepath.Join(opts.StateDir, tpmKeyFile)
	akBlob, errAK := os.ReadFile(akPath)
	keyBlob, errKey := os.ReadFile(keyPath)
	switch {
	case errAK == nil && errKey == nil:
		if k.ak, err = t.LoadAK(akBlob); err != nil {
			return nil, fmt.Errorf("tpm: loading attestation key %s: %w", akPath, err)
		}
		if k.key, err = t.LoadKey(keyBlob); err != nil {
			return nil, fmt.Errorf("tpm: loading device key %s: %w", keyPath, err)
		}
	case errors.Is(errAK, fs.ErrNotExist) || errors.Is(errKey, fs.ErrNotExist):
		// The key's certification is only valid with its AK: make both anew.
		if err := k.create(opts.StateDir, akPath, keyPath); err != nil {
			return nil, err
		}
	case errAK != nil:
		return nil, errAK
	default:
		return nil, errKey
	}
	pub, ok := k.key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("tpm: device key is %T, want ECDSA P-256", k.key.Public())
	}
	priv, err := k.key.Private(pub)
	if err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	k.pub, k.sig = pub, priv.(crypto.Signer)
	return k, nil
}

func (k *TPMKey) create(dir, akPath, keyPath string) error {
	var err error
	if k.ak, err = k.tpm.NewAK(&attest.AKConfig{Algorithm: attest.ECDSA}); err != nil {
		return fmt.Errorf("tpm: creating attestation key: %w", err)
	}
	if k.key, err = k.tpm.NewKey(k.ak, &attest.KeyConfig{Algorithm: attest.ECDSA, Size: 256}); err != nil {
		return fmt.Errorf("tpm: creating device key: %w", err)
	}
	akBlob, err := k.ak.Marshal()
	if err != nil {
		return err
	}
	keyBlob, err := k.key.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(akPath, akBlob); err != nil {
		return err
	}
	return writeFileAtomic(keyPath, keyBlob)
}

// Public returns the device key's public key (*ecdsa.PublicKey, P-256).
func (k *TPMKey) Public() crypto.PublicKey { return k.pub }

// Sign signs a SHA-256 digest in the TPM and returns an ASN.1 DER ECDSA
// signature, as crypto.Signer requires.
func (k *TPMKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("tpm: the device key signs SHA-256 digests only, got %v", opts.HashFunc())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil, errClosed
	}
	sig, err := k.sig.Sign(nil, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("tpm: signing: %w", err)
	}
	return sig, nil
}

// errClosed is what a TPMKey's methods return after Close.
var errClosed = errors.New("tpm: the key is closed")

// Hardware reports true: the private key cannot leave the TPM.
func (k *TPMKey) Hardware() bool { return true }

// Attestation returns what a server needs to check that the device key
// lives in this TPM: the endorsement key (and its certificate when the TPM
// has one), the attestation key with its creation attestation, and the
// AK's certification of the device key.
func (k *TPMKey) Attestation() (*TPMAttestation, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil, errClosed
	}
	ek, err := k.ek()
	if err != nil {
		return nil, err
	}
	ekPub, err := x509.MarshalPKIXPublicKey(ek.Public)
	if err != nil {
		return nil, fmt.Errorf("tpm: endorsement key: %w", err)
	}
	ap := k.ak.AttestationParameters()
	cp := k.key.CertificationParameters()
	a := &TPMAttestation{
		EKPublic:            ekPub,
		AKPublic:            ap.Public,
		AKCreateData:        ap.CreateData,
		AKCreateAttestation: ap.CreateAttestation,
		AKCreateSignature:   ap.CreateSignature,
		KeyPublic:           cp.Public,
		KeyCertifyInfo:      cp.CreateAttestation,
		KeyCertifySignature: cp.CreateSignature,
	}
	if ek.Certificate != nil {
		a.EKCertificate = ek.Certificate.Raw
	}
	return a, nil
}

// ek returns the RSA endorsement key (the one credential activation uses),
// with its certificate when the TPM holds one in NV.
func (k *TPMKey) ek() (attest.EK, error) {
	eks, err := k.tpm.EKs()
	if err != nil {
		return attest.EK{}, fmt.Errorf("tpm: reading endorsement key: %w", err)
	}
	if len(eks) == 0 {
		return attest.EK{}, errors.New("tpm: no endorsement key")
	}
	return eks[0], nil
}

// ActivateCredential decrypts a server's credential challenge with the
// endorsement key. The TPM releases the secret only when the attestation
// key the challenge names is loaded in the TPM that holds the EK.
func (k *TPMKey) ActivateCredential(c TPMChallenge) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tpm == nil {
		return nil, errClosed
	}
	secret, err := k.ak.ActivateCredential(k.tpm, attest.EncryptedCredential{Credential: c.Credential, Secret: c.Secret})
	if err != nil {
		return nil, fmt.Errorf("tpm: activating credential: %w", err)
	}
	return secret, nil
}

// Close unloads the keys (flushing their transient handles, as there may be
// no resource manager) and closes the TPM.
func (k *TPMKey) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	if k.key != nil {
		errs = append(errs, k.key.Close())
		k.key = nil
	}
	if k.ak != nil {
		errs = append(errs, k.ak.Close(k.tpm))
		k.ak = nil
	}
	if k.tpm != nil {
		errs = append(errs, k.tpm.Close())
		k.tpm = nil
	}
	return errors.Join(errs...)
}

func openTPM(simulator, simulatorEventLog string) (*attest.TPM, error) {
	if simulator == "" {
		t, err := attest.OpenTPM(nil)
		if err != nil {
			return nil, fmt.Errorf("tpm: %w", err)
		}
		return t, nil
	}
	conn, err := openSimulator(simulator)
	if err != nil {
		return nil, err
	}
	if simulatorEventLog != "" {
		if conn.eventLog, err = os.ReadFile(simulatorEventLog); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tpm simulator: %w", err)
		}
	}
	t, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: conn})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("tpm: %w", err)
	}
	return t, nil
}

// writeFileAtomic writes data to a new private file (createPrivate) and
// renames it to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := writePrivateTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
