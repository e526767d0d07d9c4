package server

import (
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/healthgate/healthgate/internal/warning"
)

// Fast paths for the JSON of POST /v1/decisions, the busiest endpoint: a
// reader for request bodies of the common shape and a writer for the
// answer. Each gives exactly what encoding/json gives (decisionjson_test.go
// compares them on generated and fuzzed input); a body of any other shape
// is decoded by encoding/json, which also words the errors.

// decisionFields are DecisionRequest's JSON names, in field order.
var decisionFields = [...]string{"certificate", "proof", "session", "event", "account", "amount",
	"currency", "payee", "merchant_url", "channel", "ip"}

const amountField = 5

// decodeDecisionFast decodes body into req when it is one JSON object
// whose keys are DecisionRequest's names spelled exactly, each at most
// once, whose values are strings of printable ASCII without escapes (and
// for amount, also a number), with nothing but white space around it. It
// reports false for anything else, leaving req in no particular state: the
// caller then decodes with encoding/json.
func decodeDecisionFast(body []byte, req *DecisionRequest) bool {
	p := jsonReader{b: body}
	p.space()
	if !p.take('{') {
		return false
	}
	p.space()
	if p.take('}') {
		return p.end()
	}
	// The string fields, by index in decisionFields (amount is not one).
	fields := [len(decisionFields)]*string{&req.Certificate, &req.Proof, &req.Session, &req.Event, &req.Account, nil,
		&req.Currency, &req.Payee, &req.MerchantURL, &req.Channel, &req.IP}
	var seen uint16
	for {
		p.space()
		key, ok := p.plainString()
		if !ok {
			return false
		}
		f := slices.Index(decisionFields[:], key)
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		p.space()
		if !p.take(':') {
			return false
		}
		p.space()
		if f == amountField {
			start := p.i
			if p.i < len(p.b) && p.b[p.i] == '"' {
				if _, ok := p.plainString(); !ok {
					return false
				}
			} else if !p.number() {
				return false
			}
			req.Amount = json.RawMessage(body[start:p.i:p.i])
		} else {
			v, ok := p.plainString()
			if !ok {
				return false
			}
			*fields[f] = v
		}
		p.space()
		if p.take(',') {
			continue
		}
		if p.take('}') {
			return p.end()
		}
		return false
	}
}

// jsonReader reads the few JSON tokens decodeDecisionFast accepts.
type jsonReader struct {
	b []byte
	i int
}

func (p *jsonReader) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonReader) take(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *jsonReader) end() bool {
	p.space()
	return p.i == len(p.b)
}

// plainString reads a string of printable ASCII with no escapes.
func (p *jsonReader) plainString() (string, bool) {
	if !p.take('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
		p.i++
	}
	return "", false
}

// number reads a JSON number (RFC 8259 section 6).
func (p *jsonReader) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	p.take('-')
	switch {
	case p.take('0'):
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		digits()
	default:
		return false
	}
	if p.take('.') && digits() == 0 {
		return false
	}
	if p.take('e') || p.take('E') {
		if !p.take('+') {
			p.take('-')
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// warningJSON is a warning's message and remediation, encoded.
type warningJSON struct{ message, remediation []byte }

// allowMessageJSON is allowMessage, encoded.
var allowMessageJSON = must(json.Marshal(allowMessage))

// checkMessageJSON is checkMessage, encoded.
var checkMessageJSON = must(json.Marshal(checkMessage))

// must returns an encoding that cannot fail (maps and structs of strings).
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// encodeTexts encodes, once, the fixed texts answers carry: the message
// and remediation of every warning and the remediation of every finding.
func (d *decisions) encodeTexts() error {
	d.warningJSON = map[string]warningJSON{}
	for _, w := range warning.All() {
		msg, err := json.Marshal(w.Text)
		if err != nil {
			return err
		}
		rem, err := json.Marshal(remediation{Code: w.Code, Severity: w.Severity.String(), Title: w.Title, Steps: w.Steps})
		if err != nil {
			return err
		}
		d.warningJSON[w.Code] = warningJSON{msg, rem}
	}
	d.findingJSON = map[string][]byte{}
	for code, r := range d.findings {
		rem, err := json.Marshal(r)
		if err != nil {
			return err
		}
		d.findingJSON[code] = rem
	}
	return nil
}

// appendDecisionResponse appends r as json.Marshal would encode it.
// r.Signals must be compact JSON, as json.Marshal writes it.
func appendDecisionResponse(b []byte, r *DecisionResponse) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendJSONString(b, r.DecisionID)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, r.Outcome)
	b = append(b, `,"reasons":`...)
	b = appendJSONStrings(b, r.Reasons)
	// The texts are encoded once at start (encodeTexts); encoding/json
	// serves any that were not.
	b = append(b, `,"message":`...)
	if r.messageRaw != nil {
		b = append(b, r.messageRaw...)
	} else {
		b = append(b, must(json.Marshal(r.Message))...)
	}
	b = append(b, `,"remediation":`...)
	if r.Remediation == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range r.Remediation {
			if i > 0 {
				b = append(b, ',')
			}
			if m.raw != nil {
				b = append(b, m.raw...)
			} else {
				b = append(b, must(json.Marshal(m))...)
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"signals":`...)
	if r.Signals == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, r.Signals...)
	}
	if r.PolicyID != "" {
		b = append(b, `,"policy_id":`...)
		b = appendJSONString(b, r.PolicyID)
	}
	b = append(b, `,"created_at":"`...)
	b = r.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if r.Feedback != "" {
		b = append(b, `,"feedback":`...)
		b = appendJSONString(b, r.Feedback)
	}
	return append(b, '}')
}

func appendJSONStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string the way encoding/json does
// by default: <, > and & escaped for HTML, invalid UTF-8 replaced by
// U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
