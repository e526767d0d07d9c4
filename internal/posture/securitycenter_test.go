package posture

import (
	"testing"
	"time"
)

func TestDecodeProductState(t *testing.T) {
	tests := []struct {
		name      string
		v         uint32
		state     string
		current   bool
		microsoft bool
		providers uint8
	}{
		{"defender on current", 0x061100, "on", true, true, 0x06},
		{"defender on stale", 0x061110, "on", false, true, 0x06},
		{"defender off", 0x060100, "off", true, true, 0x06},
		{"defender off stale", 0x060110, "off", false, true, 0x06},
		{"third party on", 0x041000, "on", true, false, 0x04},
		{"third party on stale", 0x041010, "on", false, false, 0x04},
		{"third party off", 0x040000, "off", true, false, 0x04},
		{"snoozed", 0x042000, "snoozed", true, false, 0x04},
		{"expired stale", 0x043010, "expired", false, false, 0x04},
		{"firewall product on", 0x011000, "on", true, false, 0x01},
		{"unknown state", 0x045000, "", true, false, 0x04},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := decodeProductState(tt.v)
			if got, want := ps.State, tt.state; got != want {
				t.Errorf("state %q, want %q", got, want)
			}
			if got, want := ps.SignaturesCurrent, tt.current; got != want {
				t.Errorf("signatures current %v, want %v", got, want)
			}
			if got, want := ps.Microsoft, tt.microsoft; got != want {
				t.Errorf("microsoft %v, want %v", got, want)
			}
			if got, want := ps.Providers, tt.providers; got != want {
				t.Errorf("providers %#x, want %#x", got, want)
			}
		})
	}
}

func TestWSCTimestamp(t *testing.T) {
	now := time.Date(2024, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     string // RFC 3339, "" when it must not parse
	}{
		{"rfc1123", "Thu, 28 Nov 2024 06:02:41 GMT", "2024-11-28T06:02:41Z"},
		{"numeric zone", "Thu, 28 Nov 2024 14:02:41 +0800", "2024-11-28T06:02:41Z"},
		{"future", "Thu, 28 Nov 2030 06:02:41 GMT", ""},
		{"garbage", "yesterday", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := wscTimestamp(tt.in, now)
			if tt.want == "" {
				if ok {
					t.Fatalf("parsed %v, want no time", got)
				}
				return
			}
			if !ok {
				t.Fatal("did not parse")
			}
			if got, want := got.Format(time.RFC3339), tt.want; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestWSCUnavailable(t *testing.T) {
	if got, want := wscUnavailable("Server Core", errWMINamespace).Error(), "windows security center does not exist on windows server editions"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := wscUnavailable("Client", errWMINamespace).Error(), `windows security center is not available (no root\SecurityCenter2 namespace)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
