package intel

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is one indicator of an import file, checked and normalised.
type Record struct {
	Type       Type
	Value      string // canonical (see Normalize)
	Source     string
	Confidence int
	TTL        time.Duration // 0: the type's default
	Reason     string
	Status     string // active (default) or pending_review
	Norm       Normalized
}

// Import limits.
const (
	MaxImportRecords = 1_000_000
	maxImportLine    = 16 << 10
	// DefaultConfidence is used when a record gives none.
	DefaultConfidence = 50
)

// importLine is one JSON line of an import file.
type importLine struct {
	Type       string `json:"type"`
	Value      string `json:"value"`
	Source     string `json:"source"`
	Confidence *int   `json:"confidence"`
	TTL        string `json:"ttl"`
	Reason     string `json:"reason"`
	Status     string `json:"status"`
}

var importColumns = []string{"type", "value", "source", "confidence", "ttl", "reason", "status"}

// ParseImport reads an indicator import file: JSON lines (one object per
// line with the fields type, value, source, confidence, ttl, reason,
// status; only type and value are required) or CSV with a header line
// naming those columns (type and value required, any order). Blank lines
// and lines starting with '#' are skipped. Every record is checked; the
// first bad one fails the whole file with its line number, so an import is
// all or nothing.
func ParseImport(r io.Reader) ([]Record, error) {
	br := bufio.NewReaderSize(r, maxImportLine)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xef, 0xbb, 0xbf}) {
		br.Discard(3) // a UTF-8 byte order mark, as spreadsheets write
	}
	// Peek at the first line that is neither blank nor a comment to tell
	// JSON lines from CSV.
	head, _ := br.Peek(maxImportLine)
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] != '#' {
			if line[0] == '{' {
				return parseJSONLines(br)
			}
			break
		}
	}
	return parseCSV(br)
}

// skippable reports whether a CSV record is blank (spaces, or only empty
// cells as spreadsheets export them) or a comment indented with spaces.
func skippable(fields []string) bool {
	if len(fields) == 1 && strings.HasPrefix(strings.TrimSpace(fields[0]), "#") {
		return true
	}
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func parseJSONLines(r *bufio.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxImportLine)
	var out []Record
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		var l importLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON indicator: %v", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value", line)
		}
		conf := ""
		if l.Confidence != nil {
			conf = strconv.Itoa(*l.Confidence)
		}
		rec, err := newRecord(l.Type, l.Value, l.Source, conf, l.TTL, l.Reason, l.Status)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if out = append(out, rec); len(out) > MaxImportRecords {
			return nil, fmt.Errorf("line %d: more than %d indicators in one file", line, MaxImportRecords)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", line+1, maxImportLine)
		}
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the file has no indicators")
	}
	return out, nil
}

func parseCSV(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(&cappedReader{r: r, left: maxImportBytes})
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked below, once blank lines are skipped
	cr.ReuseRecord = true
	header, err := cr.Read()
	for err == nil && skippable(header) {
		header, err = cr.Read()
	}
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file has no indicators")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: CSV header: %v", pe.Line, pe.Err)
		}
		return nil, err
	}
	hline, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(importColumns, h) {
			return nil, fmt.Errorf("line %d: unknown column %q (want %s)", hline, trim(h), strings.Join(importColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("line %d: column %q twice", hline, h)
		}
		col[h] = i
	}
	if _, ok := col["type"]; !ok {
		return nil, fmt.Errorf("line %d: the header must name a type column (a CSV file starts with a header: type,value,…)", hline)
	}
	if _, ok := col["value"]; !ok {
		return nil, fmt.Errorf("line %d: the header must name a value column", hline)
	}
	columns := len(header) // header is reused by the next Read
	var out []Record
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("line %d: %v", pe.Line, pe.Err)
			}
			return nil, err
		}
		if skippable(fields) {
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(fields) != columns {
			return nil, fmt.Errorf("line %d: %d fields, the header has %d", line, len(fields), columns)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(fields) {
				return strings.TrimSpace(fields[i])
			}
			return ""
		}
		rec, err := newRecord(get("type"), get("value"), get("source"), get("confidence"), get("ttl"), get("reason"), get("status"))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if out = append(out, rec); len(out) > MaxImportRecords {
			return nil, fmt.Errorf("line %d: more than %d indicators in one file", line, MaxImportRecords)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the file has no indicators")
	}
	return out, nil
}

// NewRecord checks and normalises one indicator given as text, the way
// `healthgate intel add` and the import file give it.
func NewRecord(typ, value, source, confidence, ttl, reason, status string) (Record, error) {
	return newRecord(typ, value, source, confidence, ttl, reason, status)
}

func newRecord(typ, value, source, confidence, ttl, reason, status string) (Record, error) {
	t := Type(strings.ToLower(strings.TrimSpace(typ)))
	norm, err := Normalize(t, value)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Type: t, Value: norm.Value, Source: source, Confidence: DefaultConfidence, Reason: reason, Status: StatusActive, Norm: norm}
	if len(source) > 128 || len(reason) > 512 {
		return Record{}, errors.New("source is longer than 128 bytes or reason longer than 512")
	}
	if confidence != "" {
		c, err := strconv.Atoi(confidence)
		if err != nil || c < 0 || c > 100 {
			return Record{}, fmt.Errorf("confidence %q is not a number from 0 to 100", trim(confidence))
		}
		rec.Confidence = c
	}
	if ttl != "" {
		d, err := ParseDuration(ttl)
		if err != nil {
			return Record{}, err
		}
		if _, err := TTL(t, d); err != nil {
			return Record{}, err
		}
		rec.TTL = d
	}
	switch status {
	case "", StatusActive:
	case StatusPending:
		rec.Status = StatusPending
	default:
		return Record{}, fmt.Errorf("status %q must be %s or %s", trim(status), StatusActive, StatusPending)
	}
	return rec, nil
}

// ParseDuration is time.ParseDuration that also takes whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 || d > 100*365 {
			return 0, fmt.Errorf("lifetime %q is not a number of days", trim(s))
		}
		return time.Duration(d) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q is not a duration like 12h or 7d", trim(s))
	}
	return d, nil
}

// maxImportBytes bounds a CSV file (JSON lines are bounded per line); a
// variable so that a test can lower it.
var maxImportBytes int64 = 1 << 30

// cappedReader fails a read past left bytes, where io.LimitReader would
// end the file quietly and cut its last record short.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, fmt.Errorf("the file is larger than %d bytes", maxImportBytes)
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte more tells a file at the bound from a larger one
	}
	n, err := c.r.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return n - 1, fmt.Errorf("the file is larger than %d bytes", maxImportBytes)
	}
	return n, err
}
