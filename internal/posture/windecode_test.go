package posture

import (
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseQFEDate(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     string // date, "" when it must be skipped
	}{
		{"month day year", "11/20/2026", "2026-11-20"},
		{"single digits", "3/9/2022", "2022-03-09"},
		{"day first", "25/7/2022", "2022-07-25"},
		{"compact", "20261120", "2026-11-20"},
		{"iso", "2026-11-20", "2026-11-20"},
		{"filetime hex", "01d9a3c0b8e6e000", "2023-06-20"},
		{"filetime hex upper", "01D9A3C0B8E6E000", "2023-06-20"},
		{"spaces", " 11/20/2026 ", "2026-11-20"},
		{"no such day", "2/30/2024", ""},
		{"month out of range", "13/13/2024", ""},
		{"two digit year", "11/20/26", ""},
		{"future", "12/31/2099", ""},
		{"too old", "19800101", ""},
		{"empty", "", ""},
		{"text", "not a date", ""},
		{"huge filetime", "ffffffffffffffff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseQFEDate(tt.in, now)
			if tt.want == "" {
				if ok {
					t.Fatalf("parsed %v, want skipped", got)
				}
				return
			}
			if !ok {
				t.Fatal("skipped")
			}
			if got, want := got.Format(time.DateOnly), tt.want; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestParseWinINETProxy(t *testing.T) {
	tests := []struct {
		name, in    string
		http, https string
	}{
		{"one for all", "proxy.example:8080", "proxy.example:8080", "proxy.example:8080"},
		{"with scheme", "http://proxy.example:8080", "http://proxy.example:8080", "http://proxy.example:8080"},
		{"per protocol", "http=h1:80;https=h2:443;ftp=f:21", "h1:80", "h2:443"},
		{"http only", "http=h1:80", "h1:80", ""},
		// Chromium (Chrome, Edge) and WinINET send the protocols no entry
		// names through the socks= proxy, SOCKS4 unless a scheme says.
		{"socks only", "socks=s:1080", "socks4://s:1080", "socks4://s:1080"},
		{"socks for the rest", "http=h1:80;socks=203.0.113.66:1080", "h1:80", "socks4://203.0.113.66:1080"},
		{"socks with scheme", "SOCKS=socks5://s:1080", "socks5://s:1080", "socks5://s:1080"},
		{"upper case and spaces", "HTTP=h1:80; HTTPS=h2:443", "h1:80", "h2:443"},
		{"fallback for the rest", "https=h2:443;other:3128", "other:3128", "h2:443"},
		{"empty", "", "", ""},
		{"separators only", ";;=;", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			http, https := parseWinINETProxy(tt.in)
			if got, want := http, tt.http; got != want {
				t.Errorf("http %q, want %q", got, want)
			}
			if got, want := https, tt.https; got != want {
				t.Errorf("https %q, want %q", got, want)
			}
		})
	}
}

func TestWinProcessName(t *testing.T) {
	tests := []struct {
		name  string
		exe   []uint16
		image string
		want  string
	}{
		{"ascii", append([]uint16{'a', '.', 'e', 'x', 'e', 0, 'x'}, make([]uint16, 10)...), "", "a.exe"},
		{"no terminator", []uint16{'T', 'V', '.', 'e', 'x', 'e'}, "", "TV.exe"},
		{"chinese", []uint16{0x5411, 0x65e5, 0x8475, '.', 'e', 'x', 'e', 0}, "", "向日葵.exe"},
		{"unpaired surrogate", []uint16{0xd800, 'x', 0}, "", "\uFFFDx"},
		{"empty uses image", []uint16{0}, `C:\Program Files\RustDesk\rustdesk.exe`, "rustdesk.exe"},
		{"path in exe field", []uint16{'C', ':', '\\', 'a', '.', 'e', 'x', 'e'}, "", "a.exe"},
		{"nothing", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := winProcessName(tt.exe, tt.image), tt.want; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestWindowsRoot(t *testing.T) {
	tests := []struct {
		name, root, systemRoot string
		wantRoot, wantDir      string
	}{
		{"live default", `\`, "", `C:\`, "Windows"},
		{"live slash", "/", `C:\Windows`, `C:\`, "Windows"},
		{"live other drive", `\`, `d:\WINNT`, `D:\`, "WINNT"},
		{"live nested", "", `E:\OS\Windows\`, `E:\`, "OS/Windows"},
		{"live bad value", `\`, `Windows`, `C:\`, "Windows"},
		{"tree", "/tmp/device", `D:\WINNT`, "/tmp/device", "Windows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, dir := windowsRoot(tt.root, tt.systemRoot)
			if root != tt.wantRoot || dir != tt.wantDir {
				t.Errorf("got (%q, %q), want (%q, %q)", root, dir, tt.wantRoot, tt.wantDir)
			}
		})
	}
}

func TestDecodeScreenLockPolicyWins(t *testing.T) {
	desktop := regValues{"ScreenSaveActive": "1", "ScreenSaverIsSecure": "0", "ScreenSaveTimeOut": "900", "SCRNSAVE.EXE": "scrnsave.scr"}
	policy := regValues{"screensaverissecure": "1", "ScreenSaveTimeOut": "120"}
	sl := decodeScreenLock(desktop, policy, nil)
	if got, want := sl.Enabled, true; got != want {
		t.Errorf("enabled %v, want %v", got, want)
	}
	if got, want := sl.IdleSeconds, 120; got != want {
		t.Errorf("idle %d, want %d", got, want)
	}
}

func FuzzDecodeProductState(f *testing.F) {
	for _, v := range []uint32{0x061100, 0x060110, 0x041010, 0x042000, 0x043010, 0xffffffff, 0} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint32) {
		ps := decodeProductState(v)
		switch ps.State {
		case "", "on", "off", "snoozed", "expired":
		default:
			t.Fatalf("state %q", ps.State)
		}
		if ps.State == "" && v&wscStateMask <= wscStateExpired {
			t.Fatalf("%#x: known state not decoded", v)
		}
		if ps.Microsoft != (v&0x0F00 == 0x0100) {
			t.Fatalf("%#x: microsoft %v", v, ps.Microsoft)
		}
	})
}

func FuzzParseWinINETProxy(f *testing.F) {
	for _, s := range []string{"proxy:8080", "http=h1:80;https=h2:443;ftp=f:21;socks=s:1080", "https=a;b", ";;=", "http=\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		http, https := parseWinINETProxy(s)
		for _, v := range []string{http, https} {
			if !utf8.ValidString(v) || len(v) > maxString {
				t.Fatalf("bad value %q", v)
			}
		}
	})
}

func FuzzParseQFEDate(f *testing.F) {
	for _, s := range []string{"11/20/2026", "20261120", "01d9a3c0b8e6e000", "2026-11-20", "99/99/9999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := parseQFEDate(s, now); ok && (got.After(now.Add(24*time.Hour)) || got.Year() < 1995) {
			t.Fatalf("%q gave %v", s, got)
		}
	})
}

func TestDecodeFirewallProfiles(t *testing.T) {
	on, off := regValues{"EnableFirewall": uint64(1)}, regValues{"EnableFirewall": uint64(0)}
	kaspersky := "Kaspersky Internet Security"
	stateOn := uint32(0x061000) // enabled, signatures current
	for _, tt := range []struct {
		name            string
		local, policy   map[string]regValues
		products        []wscProduct
		enabled         bool
		backend, offOne string
	}{
		{"all on", map[string]regValues{"DomainProfile": on, "StandardProfile": on, "PublicProfile": on}, nil, nil, true, "windows", ""},
		{"public off: on, with the profile that is off", map[string]regValues{"DomainProfile": on, "StandardProfile": on, "PublicProfile": off}, nil, nil, true, "windows", "public"},
		{"all off", map[string]regValues{"DomainProfile": off, "StandardProfile": off, "PublicProfile": off}, nil, nil, false, "windows", "domain"},
		{"group policy turns the public profile off", map[string]regValues{"DomainProfile": on, "StandardProfile": on, "PublicProfile": on},
			map[string]regValues{"PublicProfile": off}, nil, true, "windows", "public"},
		{"all off, third-party firewall on", map[string]regValues{"DomainProfile": off, "StandardProfile": off, "PublicProfile": off}, nil,
			[]wscProduct{{DisplayName: &kaspersky, ProductState: &stateOn}}, true, kaspersky, "domain"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fw, err := decodeFirewall(tt.local, tt.policy, tt.products)
			if err != nil {
				t.Fatal(err)
			}
			if fw.Enabled != tt.enabled || fw.Backend != tt.backend {
				t.Errorf("enabled %v backend %q, want %v %q", fw.Enabled, fw.Backend, tt.enabled, tt.backend)
			}
			firstOff := ""
			for _, p := range fw.Profiles {
				if !p.Enabled {
					firstOff = p.Name
					break
				}
			}
			if firstOff != tt.offOne {
				t.Errorf("first profile off = %q, want %q", firstOff, tt.offOne)
			}
		})
	}
	if _, err := decodeFirewall(nil, nil, nil); err == nil {
		t.Error("no profiles and no products: want an error")
	}
}
