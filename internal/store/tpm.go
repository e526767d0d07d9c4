package store

import (
	"context"
	"time"
)

// TPMStore persists the TPM attestation keys (AKs) of hardware-bound
// devices, against which their reports' quotes are verified (docs/TPM.md).
type TPMStore interface {
	// PutDeviceAK stores a device's attestation key, its TPMT_PUBLIC, once
	// credential activation has proven it. Storing the same key again
	// changes nothing; a different key for a device that has one gives
	// ErrConflict, and a device that is not enrolled ErrNotFound.
	PutDeviceAK(ctx context.Context, deviceID string, akPublic []byte, at time.Time) error
	// DeviceAK returns a device's attestation key, or ErrNotFound when none
	// is stored (a device without a TPM, or enrolled before quotes).
	DeviceAK(ctx context.Context, deviceID string) ([]byte, error)
}
