package posture

import (
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPlistAllTypes(t *testing.T) {
	want := map[string]any{
		"string": "XProtect", "unicode": "防火墙 ✓", "int": int64(42), "negative": int64(-7), "big": int64(1 << 40),
		"real": 1.5, "true": true, "false": false,
		"date":  time.Date(2024, 11, 20, 2, 14, 9, 0, time.UTC),
		"data":  []byte{0, 1, 0xfe, 0xff},
		"array": []any{int64(1), "two", []any{int64(3)}},
		"dict":  map[string]any{"nested": map[string]any{"deep": "yes"}},
		"empty": []any{},
	}
	for _, name := range []string{"testdata/darwin/alltypes.bplist", "testdata/darwin/alltypes.plist"} {
		t.Run(name, func(t *testing.T) {
			got, err := parsePlist(readTestdata(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestPlistFiles(t *testing.T) {
	version, build, ok := parseSystemVersion(readTestdata(t, darwinTree+"/System/Library/CoreServices/SystemVersion.plist"))
	if !ok || version != "15.1.1" || build != "24B91" {
		t.Errorf("SystemVersion = %q, %q, %v", version, build, ok)
	}
	state, ok := parseALFState(readTestdata(t, darwinTree+"/Library/Preferences/com.apple.alf.plist"))
	if !ok || state != 1 {
		t.Errorf("alf globalstate = %d, %v", state, ok)
	}
	v, ok := parseBundleVersion(readTestdata(t, darwinTree+"/Library/Apple/System/Library/CoreServices/XProtect.bundle/Contents/Info.plist"))
	if !ok || v != "5284" {
		t.Errorf("XProtect version = %q, %v", v, ok)
	}
}

// makeBplist assembles a binary plist from its objects (each already encoded,
// references one byte wide) with the given top object.
func makeBplist(top int, objects ...[]byte) []byte {
	b := []byte("bplist00")
	var offsets []byte
	for _, o := range objects {
		offsets = append(offsets, byte(len(b)))
		b = append(b, o...)
	}
	table := len(b)
	b = append(b, offsets...)
	trailer := make([]byte, 32)
	trailer[6], trailer[7] = 1, 1
	binary.BigEndian.PutUint64(trailer[8:], uint64(len(objects)))
	binary.BigEndian.PutUint64(trailer[16:], uint64(top))
	binary.BigEndian.PutUint64(trailer[24:], uint64(table))
	return append(b, trailer...)
}

func TestPlistMalformed(t *testing.T) {
	// One array holding itself.
	cyclic := makeBplist(0, []byte{0xa1, 0x00})
	// Arrays of two references to the next array, 20 levels: a small file
	// that would expand to 2^20 values.
	var objs [][]byte
	for i := 0; i < 20; i++ {
		objs = append(objs, []byte{0xa2, byte(i + 1), byte(i + 1)})
	}
	objs = append(objs, []byte{0x09})
	bomb := makeBplist(0, objs...)
	good := makeBplist(0, []byte{0xd1, 0x01, 0x02}, []byte("\x5bglobalstate"), []byte{0x10, 0x01})
	if v, err := parsePlist(good); err != nil {
		t.Fatalf("hand-made plist: %v", err)
	} else if n, ok := plistInt(v, "globalstate"); !ok || n != 1 {
		t.Fatalf("hand-made plist: %#v", v)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not a plist", []byte("hello")},
		{"binary header only", []byte("bplist00")},
		{"binary truncated", good[:len(good)-5]},
		{"binary top out of range", makeBplist(5, []byte{0x09})},
		{"binary cyclic", cyclic},
		{"binary expanding", bomb},
		{"binary string past the end", makeBplist(0, []byte{0x5f, 0x10, 0xff})},
		{"binary non-string key", makeBplist(0, []byte{0xd1, 0x01, 0x01}, []byte{0x10, 0x01})},
		{"xml unclosed", []byte(`<?xml version="1.0"?><plist><dict><key>a</key><string>b</string>`)},
		{"xml key without value", []byte(`<plist><dict><key>a</key></dict></plist>`)},
		{"xml unknown element", []byte(`<plist><blob/></plist>`)},
		{"xml bad integer", []byte(`<plist><integer>x</integer></plist>`)},
		{"xml too deep", []byte("<plist>" + strings.Repeat("<array>", 100) + strings.Repeat("</array>", 100) + "</plist>")},
		{"xml empty", []byte(`<plist></plist>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := parsePlist(tt.data); !errors.Is(err, errPlist) {
				t.Errorf("parsePlist = %#v, %v; want errPlist", v, err)
			}
		})
	}
}
