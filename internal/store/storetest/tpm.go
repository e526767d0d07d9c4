package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/healthgate/healthgate/internal/store"
)

var tpmTests = []storeTest{
	{"DeviceAK", testDeviceAK},
}

func testDeviceAK(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustEnroll(t, s, "dev1")
	if _, err := s.DeviceAK(ctx, "dev1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before any AK: err = %v, want ErrNotFound", err)
	}
	ak := []byte{0x00, 0x23, 0x00, 0x0b, 0x01}
	if err := s.PutDeviceAK(ctx, "dev1", ak, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDeviceAK(ctx, "dev1", bytes.Clone(ak), t0.Add(1)); err != nil {
		t.Errorf("storing the same AK again: %v", err)
	}
	if err := s.PutDeviceAK(ctx, "dev1", []byte{0x00, 0x23, 0x00, 0x0b, 0x02}, t0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another AK for the device: err = %v, want ErrConflict", err)
	}
	got, err := s.DeviceAK(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ak) {
		t.Errorf("DeviceAK = %x, want %x (the first one)", got, ak)
	}
	if err := s.PutDeviceAK(ctx, "ghost", ak, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AK of a device that is not enrolled: err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceAK(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeviceAK of an unknown device: err = %v, want ErrNotFound", err)
	}
}
