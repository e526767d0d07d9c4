package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Envelope is the TAXII 2.1 envelope (TAXII 2.1 section 3.7), also used to
// read a STIX bundle, which carries its objects the same way.
type Envelope struct {
	More    bool              `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// ErrTooManyObjects is returned by DecodeEnvelope when the body holds more
// objects than allowed.
var ErrTooManyObjects = errors.New("too many objects")

// DecodeEnvelope reads a TAXII envelope or a STIX bundle from r without
// holding more than maxObjects objects: it stops at the first object over
// the limit. Objects are returned unvalidated (see Validate); the envelope
// itself is checked strictly: unknown keys, duplicate keys and trailing
// data are errors.
func DecodeEnvelope(r io.Reader, maxObjects int) (Envelope, error) {
	dec := json.NewDecoder(r)
	var env Envelope
	if err := expectDelim(dec, '{'); err != nil {
		return env, err
	}
	seen := map[string]bool{}
	var bundleType, bundleID string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return env, fmt.Errorf("envelope: %w", err)
		}
		key := tok.(string)
		if seen[key] {
			return env, fmt.Errorf("envelope: duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "more":
			err = dec.Decode(&env.More)
		case "next":
			err = dec.Decode(&env.Next)
		case "type":
			err = dec.Decode(&bundleType)
		case "id":
			err = dec.Decode(&bundleID)
		case "objects":
			err = decodeObjects(dec, &env, maxObjects)
		default:
			return env, fmt.Errorf("envelope: unknown key %q", key)
		}
		if err != nil {
			if errors.Is(err, ErrTooManyObjects) {
				return env, err
			}
			return env, fmt.Errorf("envelope: %s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return env, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return env, errors.New("envelope: data after the JSON value")
	}
	switch {
	case seen["type"] || seen["id"]:
		if bundleType != "bundle" {
			return env, fmt.Errorf("envelope: type %q: only a bundle may carry a type", bundleType)
		}
		if t, _, err := ParseID(bundleID); err != nil || t != "bundle" {
			return env, fmt.Errorf("envelope: bundle id %q is not bundle--<uuid>", bundleID)
		}
		if seen["more"] || seen["next"] {
			return env, errors.New("envelope: a bundle has no more or next")
		}
	}
	return env, nil
}

func decodeObjects(dec *json.Decoder, env *Envelope, maxObjects int) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for dec.More() {
		if len(env.Objects) >= maxObjects {
			return fmt.Errorf("%w: more than %d", ErrTooManyObjects, maxObjects)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		env.Objects = append(env.Objects, raw)
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("envelope: expected %q, found %v", string(want), tok)
	}
	return nil
}
