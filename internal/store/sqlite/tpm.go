package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

var _ store.TPMStore = (*DB)(nil)

// PutDeviceAK implements store.TPMStore.
func (db *DB) PutDeviceAK(ctx context.Context, deviceID string, akPublic []byte, at time.Time) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT INTO device_aks (device_id, ak_public, stored_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING`,
		deviceID, akPublic, ms(at))
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") {
			return store.ErrNotFound
		}
		return err
	}
	// Inserted now or before: the stored key must be this one.
	var stored []byte
	if err := db.write.QueryRowContext(ctx, `SELECT ak_public FROM device_aks WHERE device_id = ?`, deviceID).Scan(&stored); err != nil {
		return err
	}
	if !bytes.Equal(stored, akPublic) {
		return store.ErrConflict
	}
	return nil
}

// DeviceAK implements store.TPMStore.
func (db *DB) DeviceAK(ctx context.Context, deviceID string) ([]byte, error) {
	var ak []byte
	err := db.read.QueryRowContext(ctx, `SELECT ak_public FROM device_aks WHERE device_id = ?`, deviceID).Scan(&ak)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return ak, err
}
