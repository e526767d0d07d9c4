package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/devicekey"
)

// KeyMode selects where the device key lives.
type KeyMode string

// Key modes.
const (
	KeyAuto KeyMode = "auto" // the TPM when there is one, else the key file
	KeyFile KeyMode = "file" // an Ed25519 key file in the state directory
	KeyTPM  KeyMode = "tpm"  // a P-256 key in the TPM, or an error
)

// OpenKey opens the device key. tpmAddr, when set, is a TPM simulator's
// command port (swtpm); otherwise the system TPM is used (/dev/tpmrm0 on
// Linux). In auto mode a missing or unusable TPM falls back to the key file
// and says so in the log. A TPM key should be closed (io.Closer) when done.
func OpenKey(mode KeyMode, tpmAddr, stateDir string, log *slog.Logger) (devicekey.Key, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch mode {
	case KeyFile:
		return devicekey.LoadOrCreateFile(filepath.Join(stateDir, keyFile))
	case KeyTPM, KeyAuto:
		k, err := devicekey.OpenTPM(devicekey.TPMOptions{Simulator: tpmAddr, StateDir: stateDir})
		if err == nil {
			log.Info("device key is in the TPM", slog.Bool("hardware", true))
			return k, nil
		}
		if mode == KeyTPM {
			return nil, err
		}
		log.Warn("no usable TPM: using the device key file, which is not hardware-bound",
			slog.Bool("hardware", false), slog.String("error", err.Error()))
		return devicekey.LoadOrCreateFile(filepath.Join(stateDir, keyFile))
	default:
		return nil, fmt.Errorf("key mode %q: want auto, file or tpm", mode)
	}
}

// attestingKey is a device key that can prove it lives in a TPM.
type attestingKey interface {
	Attestation() (*devicekey.TPMAttestation, error)
	ActivateCredential(devicekey.TPMChallenge) ([]byte, error)
}

// enrollAnswer is the server's answer to an enrolment.
type enrollAnswer struct {
	DeviceID string `json:"device_id"`
	JKT      string `json:"jkt"`
	Hardware bool   `json:"hardware"`
	// Activation is the credential challenge of a TPM enrolment (202).
	Activation *devicekey.TPMChallenge `json:"activation,omitempty"`
}

// enroll posts the enrolment body. A TPM key adds its attestation, and
// answers the server's credential challenge with the secret only that TPM
// can decrypt (docs/TPM.md).
func (a *Agent) enroll(ctx context.Context, body map[string]any, resp *enrollAnswer) error {
	k, ok := a.key.(attestingKey)
	if !ok {
		_, err := a.post(ctx, "/v1/enroll", "application/json", body, resp)
		return err
	}
	att, err := k.Attestation()
	if err != nil {
		return err
	}
	body["tpm"] = att
	if a.quotes() {
		body["quotes"] = true // the server keeps the AK and requires quotes; bound into the challenge
	}
	if _, err := a.post(ctx, "/v1/enroll", "application/json", body, resp); err != nil {
		return err
	}
	if resp.Activation == nil {
		return nil // already enrolled as hardware-bound
	}
	secret, err := k.ActivateCredential(*resp.Activation)
	if err != nil {
		return err
	}
	body["activation"] = devicekey.TPMActivation{Secret: secret, ExpiresAt: resp.Activation.ExpiresAt}
	*resp = enrollAnswer{}
	_, err = a.post(ctx, "/v1/enroll/activate", "application/json", body, resp)
	return err
}

// quotingKey is a device key whose TPM quotes its PCRs.
type quotingKey interface {
	attestingKey
	Quote(extraData []byte) (*evidence.TPMQuote, error)
}

// quotes reports whether the device key binds reports to TPM quotes.
func (a *Agent) quotes() bool {
	_, ok := a.key.(quotingKey)
	return ok
}

// addQuote binds a report to the TPM: the attestation key the server stored
// at enrolment quotes the PCRs over the report's nonce (docs/TPM.md). A key
// that is not in a TPM adds nothing.
func (a *Agent) addQuote(c *evidence.Claims) error {
	k, ok := a.key.(quotingKey)
	if !ok {
		return nil
	}
	q, err := k.Quote(evidence.TPMQuoteData(c.Nonce))
	if err != nil {
		return fmt.Errorf("quoting the TPM's PCRs: %w", err)
	}
	if q.EventLog == nil {
		a.log.Debug("no firmware event log to send with the TPM quote")
	}
	c.TPMQuote = q
	return nil
}

// withHardware adds "hardware" (whether the server enrolled the device key
// as hardware-bound) to the server's report answer, keeping its order.
func withHardware(raw []byte, hardware bool) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	if _, ok := m["hardware"]; ok {
		return raw
	}
	trimmed := bytes.TrimRight(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[len(trimmed)-1] != '}' {
		return raw
	}
	out := append([]byte(nil), trimmed[:len(trimmed)-1]...)
	if len(m) > 0 {
		out = append(out, ',')
	}
	return append(out, fmt.Sprintf(`"hardware":%t}`, hardware)...)
}
