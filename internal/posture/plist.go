package posture

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// A minimal reader of Apple property lists, XML and binary ("bplist00"),
// for the few keys the macOS collectors need (SystemVersion.plist, the
// application firewall's settings, XProtect's Info.plist, the install
// history). Values decode to:
//
//	dict    map[string]any
//	array   []any
//	string  string
//	integer int64 (uint64 for values above math.MaxInt64)
//	real    float64
//	true, false  bool
//	date    time.Time (UTC)
//	data    []byte
//
// Binary UIDs (keyed archives) and null decode to nil. The reader is
// bounded: nesting deeper than maxPlistDepth or more than maxPlistObjects
// values fail, and a cyclic binary object graph fails rather than loops.

// Limits of the plist reader.
const (
	maxPlistDepth   = 64
	maxPlistObjects = 1 << 18
)

var errPlist = errors.New("malformed property list")

// appleEpoch is the zero of plist dates (binary form).
var appleEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// parsePlist decodes an XML or binary property list.
func parsePlist(data []byte) (any, error) {
	if bytes.HasPrefix(data, []byte("bplist00")) {
		return parseBinaryPlist(data)
	}
	return parseXMLPlist(data)
}

// plistString returns the string at key of a dict value.
func plistString(v any, key string) (string, bool) {
	d, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := d[key].(string)
	return s, ok
}

// plistInt returns the integer at key of a dict value.
func plistInt(v any, key string) (int64, bool) {
	d, ok := v.(map[string]any)
	if !ok {
		return 0, false
	}
	switch n := d[key].(type) {
	case int64:
		return n, true
	case bool: // some tools write flags as <true/>
		if n {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// XML form.

func parseXMLPlist(data []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	objects := 0
	// Find <plist>, then decode its single value.
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, errPlist
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, errPlist
			}
			break
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, errPlist
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return xmlValue(dec, t, 0, &objects)
		case xml.EndElement:
			return nil, errPlist // an empty <plist/>
		}
	}
}

// xmlValue decodes the element opened by se.
func xmlValue(dec *xml.Decoder, se xml.StartElement, depth int, objects *int) (any, error) {
	if depth > maxPlistDepth {
		return nil, fmt.Errorf("%w: nested too deep", errPlist)
	}
	if *objects++; *objects > maxPlistObjects {
		return nil, fmt.Errorf("%w: too many values", errPlist)
	}
	switch se.Name.Local {
	case "dict":
		d := map[string]any{}
		for {
			key, end, err := xmlNextStart(dec)
			if err != nil {
				return nil, err
			}
			if end {
				return d, nil
			}
			if key.Name.Local != "key" {
				return nil, errPlist
			}
			k, err := xmlText(dec)
			if err != nil {
				return nil, err
			}
			val, end, err := xmlNextStart(dec)
			if err != nil || end {
				return nil, errPlist
			}
			v, err := xmlValue(dec, val, depth+1, objects)
			if err != nil {
				return nil, err
			}
			d[k] = v
		}
	case "array":
		a := []any{}
		for {
			el, end, err := xmlNextStart(dec)
			if err != nil {
				return nil, err
			}
			if end {
				return a, nil
			}
			v, err := xmlValue(dec, el, depth+1, objects)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "true", "false":
		if _, err := xmlText(dec); err != nil {
			return nil, err
		}
		return se.Name.Local == "true", nil
	}
	text, err := xmlText(dec)
	if err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "string":
		return text, nil
	case "integer":
		text = strings.TrimSpace(text)
		if n, err := strconv.ParseInt(text, 0, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(text, 0, 64); err == nil {
			return n, nil
		}
		return nil, errPlist
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, errPlist
		}
		return f, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
		if err != nil {
			return nil, errPlist
		}
		return t.UTC(), nil
	case "data":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, errPlist
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: unknown element %q", errPlist, se.Name.Local)
}

// xmlNextStart skips to the next start element; end is true at the end
// element of the enclosing container instead.
func xmlNextStart(dec *xml.Decoder) (se xml.StartElement, end bool, err error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return se, false, errPlist
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, false, nil
		case xml.EndElement:
			return se, true, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return se, false, errPlist
			}
		}
	}
}

// xmlText reads the text of a simple element up to its end element.
func xmlText(dec *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", errPlist
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxPlistString {
				return "", fmt.Errorf("%w: string too long", errPlist)
			}
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		case xml.StartElement:
			return "", errPlist
		}
	}
}

// maxPlistString bounds one string or data value.
const maxPlistString = 1 << 20

// Binary form: an object table addressed through an offset table, found
// from a 32-byte trailer (Apple's CFBinaryPList.c).

type bplist struct {
	data     []byte
	offsets  []byte // the offset table
	offSize  int
	refSize  int
	nObjects uint64
	objects  int
}

func parseBinaryPlist(data []byte) (any, error) {
	if len(data) < 8+32 {
		return nil, errPlist
	}
	tr := data[len(data)-32:]
	p := &bplist{data: data[:len(data)-32], offSize: int(tr[6]), refSize: int(tr[7])}
	p.nObjects = binary.BigEndian.Uint64(tr[8:])
	top := binary.BigEndian.Uint64(tr[16:])
	tableAt := binary.BigEndian.Uint64(tr[24:])
	if p.offSize < 1 || p.offSize > 8 || p.refSize < 1 || p.refSize > 8 ||
		p.nObjects == 0 || top >= p.nObjects || tableAt < 8 || tableAt > uint64(len(p.data)) ||
		p.nObjects > (uint64(len(p.data))-tableAt)/uint64(p.offSize) {
		return nil, errPlist
	}
	p.offsets = p.data[tableAt : tableAt+p.nObjects*uint64(p.offSize)]
	return p.object(top, 0, nil)
}

// uint reads a big-endian unsigned integer of n bytes at off.
func (p *bplist) uint(off uint64, n int) (uint64, bool) {
	if off > uint64(len(p.data)) || uint64(n) > uint64(len(p.data))-off {
		return 0, false
	}
	var v uint64
	for _, b := range p.data[off : off+uint64(n)] {
		v = v<<8 | uint64(b)
	}
	return v, true
}

// object decodes object ref; path holds the containers being decoded, so a
// reference back to one of them (a cycle) fails.
func (p *bplist) object(ref uint64, depth int, path []uint64) (any, error) {
	if ref >= p.nObjects || depth > maxPlistDepth {
		return nil, errPlist
	}
	if p.objects++; p.objects > maxPlistObjects {
		return nil, fmt.Errorf("%w: too many values", errPlist)
	}
	var off uint64
	for i := 0; i < p.offSize; i++ {
		off = off<<8 | uint64(p.offsets[ref*uint64(p.offSize)+uint64(i)])
	}
	if off < 8 || off >= uint64(len(p.data)) {
		return nil, errPlist
	}
	marker := p.data[off]
	kind, low := marker>>4, int(marker&0x0f)
	pos := off + 1
	// count reads the length of a data, string, array or dict object.
	count := func() (uint64, bool) {
		if low != 0x0f {
			return uint64(low), true
		}
		if pos >= uint64(len(p.data)) {
			return 0, false
		}
		m := p.data[pos]
		if m>>4 != 0x1 || m&0x0f > 3 {
			return 0, false
		}
		n := 1 << (m & 0x0f)
		v, ok := p.uint(pos+1, n)
		pos += 1 + uint64(n)
		return v, ok
	}
	switch kind {
	case 0x0:
		switch marker {
		case 0x08:
			return false, nil
		case 0x09:
			return true, nil
		case 0x00:
			return nil, nil
		}
		return nil, errPlist
	case 0x1:
		if low > 4 {
			return nil, errPlist
		}
		n := 1 << low
		if n == 16 { // 128-bit: the low 8 bytes hold the value
			v, ok := p.uint(pos+8, 8)
			if !ok {
				return nil, errPlist
			}
			return int64(v), nil
		}
		v, ok := p.uint(pos, n)
		if !ok {
			return nil, errPlist
		}
		return int64(v), nil // 1, 2 and 4 bytes are unsigned, 8 signed
	case 0x2:
		switch low {
		case 2:
			v, ok := p.uint(pos, 4)
			if !ok {
				return nil, errPlist
			}
			return float64(math.Float32frombits(uint32(v))), nil
		case 3:
			v, ok := p.uint(pos, 8)
			if !ok {
				return nil, errPlist
			}
			return math.Float64frombits(v), nil
		}
		return nil, errPlist
	case 0x3:
		if marker != 0x33 {
			return nil, errPlist
		}
		v, ok := p.uint(pos, 8)
		if !ok {
			return nil, errPlist
		}
		secs := math.Float64frombits(v)
		if math.IsNaN(secs) || math.Abs(secs) > 9e9 { // about 285 years: fits a time.Duration
			return nil, errPlist
		}
		return appleEpoch.Add(time.Duration(secs * float64(time.Second))), nil
	case 0x4, 0x5, 0x6:
		n, ok := count()
		if !ok || n > maxPlistString {
			return nil, errPlist
		}
		size := n
		if kind == 0x6 {
			size = 2 * n
		}
		if pos > uint64(len(p.data)) || size > uint64(len(p.data))-pos {
			return nil, errPlist
		}
		b := p.data[pos : pos+size]
		switch kind {
		case 0x4:
			return bytes.Clone(b), nil
		case 0x5:
			return string(b), nil
		}
		u := make([]uint16, n)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case 0x8:
		return nil, nil // UID
	case 0xa, 0xd:
		n, ok := count()
		if !ok {
			return nil, errPlist
		}
		refs := n
		if kind == 0xd {
			refs = 2 * n
		}
		if pos > uint64(len(p.data)) || refs > (uint64(len(p.data))-pos)/uint64(p.refSize) {
			return nil, errPlist
		}
		for _, r := range path {
			if r == ref {
				return nil, fmt.Errorf("%w: cyclic", errPlist)
			}
		}
		path = append(path, ref)
		readRef := func(i uint64) uint64 {
			v, _ := p.uint(pos+i*uint64(p.refSize), p.refSize)
			return v
		}
		if kind == 0xa {
			a := make([]any, 0, min(n, 1024))
			for i := uint64(0); i < n; i++ {
				v, err := p.object(readRef(i), depth+1, path)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			return a, nil
		}
		d := make(map[string]any, min(n, 1024))
		for i := uint64(0); i < n; i++ {
			k, err := p.object(readRef(i), depth+1, path)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, errPlist
			}
			v, err := p.object(readRef(n+i), depth+1, path)
			if err != nil {
				return nil, err
			}
			d[ks] = v
		}
		return d, nil
	}
	return nil, errPlist
}
