package postgres

import (
	"bytes"
	"context"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var _ store.TPMStore = (*DB)(nil)

// PutDeviceAK implements store.TPMStore.
//
// Across nodes the device_id primary key decides which key is stored: a
// concurrent INSERT of another key waits for the first and then inserts
// nothing. The comparison that follows is a new statement, so under READ
// COMMITTED it sees the key that won, and the loser gets ErrConflict.
func (db *DB) PutDeviceAK(ctx context.Context, deviceID string, akPublic []byte, at time.Time) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO device_aks (device_id, ak_public, stored_at) VALUES ($1, $2, $3) ON CONFLICT (device_id) DO NOTHING`,
		deviceID, akPublic, ms(at))
	if isForeignKey(err) {
		return store.ErrNotFound
	} else if err != nil {
		return err
	}
	// Inserted now or before: the stored key must be this one.
	var stored []byte
	if err := db.pool.QueryRow(ctx, `SELECT ak_public FROM device_aks WHERE device_id = $1`, deviceID).Scan(&stored); err != nil {
		return notFound(err)
	}
	if !bytes.Equal(stored, akPublic) {
		return store.ErrConflict
	}
	return nil
}

// DeviceAK implements store.TPMStore.
func (db *DB) DeviceAK(ctx context.Context, deviceID string) ([]byte, error) {
	var ak []byte
	err := db.pool.QueryRow(ctx, `SELECT ak_public FROM device_aks WHERE device_id = $1`, deviceID).Scan(&ak)
	if err != nil {
		return nil, notFound(err)
	}
	return ak, nil
}
