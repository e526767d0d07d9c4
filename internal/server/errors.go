package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
)

// httpError is an error with two audiences: Code and Message are safe to
// send to the client; Err is the internal cause and is only logged.
type httpError struct {
	Status  int
	Code    string
	Message string
	Err     error
	// Extra fields merged into the error body (e.g. an appraisal).
	Extra map[string]any
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *httpError) Unwrap() error { return e.Err }

func errorf(status int, code, format string, args ...any) *httpError {
	return &httpError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// handler is an http.Handler that returns an error instead of writing one.
type handler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
			// The client went away; there is nobody to answer.
			s.log.Debug("request abandoned by the client", slog.String("path", r.URL.Path))
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{Status: http.StatusInternalServerError, Code: "internal_error",
				Message: "the service could not handle the request", Err: err}
		}
		if he.Status >= 500 {
			s.log.Error("request failed", slog.String("path", r.URL.Path), slog.String("code", he.Code), slog.Any("err", he.Err))
		} else if he.Err != nil {
			s.log.Debug("request refused", slog.String("path", r.URL.Path), slog.String("code", he.Code), slog.Any("err", he.Err))
		}
		if he.Status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
			w.Header().Set("Allow", allowedMethods(r))
		}
		body := map[string]any{"error": map[string]string{"code": he.Code, "message": he.Message}}
		for k, v := range he.Extra {
			body[k] = v
		}
		writeJSON(w, he.Status, body)
	}
}

// allowedMethods lists the methods the router takes on r's path, for the
// Allow header every 405 must carry (RFC 9110 section 15.5.6). chi only
// sets it in its own 405 handler, not in one the server installs.
func allowedMethods(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return ""
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		// HEAD is served wherever GET is (middleware.GetHead).
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) || m == http.MethodHead && slices.Contains(allow, http.MethodGet) {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// requireType checks the request's media type.
func requireType(r *http.Request, want ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		for _, w := range want {
			if mt == w {
				return nil
			}
		}
	}
	return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be %s", want[0])
}

// readBody reads at most limit bytes of the body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	size := int64(512)
	if r.ContentLength >= 0 {
		size = min(r.ContentLength, limit) + 1 // +1: room to see the end
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), int(size))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "request body is larger than %d bytes", limit)
	case err != nil:
		return nil, &httpError{Status: http.StatusBadRequest, Code: "bad_request", Message: "could not read the request body", Err: err}
	}
	return body, nil
}

// readAll is io.ReadAll starting with a buffer of size bytes, so that a
// body of announced length is read without growing it.
func readAll(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		} else if err != nil {
			return b, err
		}
	}
}

// decodeJSON strictly decodes a JSON body: unknown fields and trailing data
// are errors.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if err := requireType(r, "application/json"); err != nil {
		return err
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes one JSON value; unknown fields and trailing data
// are errors.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{Status: http.StatusBadRequest, Code: "bad_json", Message: "request body is not valid JSON for this endpoint: " + err.Error(), Err: err}
	}
	// Not dec.More: it does not see a stray '}' or ']'.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return errorf(http.StatusBadRequest, "bad_json", "request body has data after the JSON value")
	}
	if key, ok := duplicateKey(body); ok {
		return errorf(http.StatusBadRequest, "bad_json", "request body has the key %q more than once", key)
	}
	return nil
}

// duplicateKey finds a key that appears twice in one object of the valid
// JSON in body. Keys are compared as encoding/json matches them to struct
// fields (case-insensitively), since it silently keeps the last of two
// keys that name the same field, where another parser may keep the first.
func duplicateKey(body []byte) (string, bool) {
	type frame struct {
		keys      map[string]bool // nil for an array
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF; anything else decodeStrict has refused already
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, frame{keys: map[string]bool{}, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].keys != nil {
					stack[len(stack)-1].expectKey = true
				}
			}
			continue
		case string:
			if top != nil && top.keys != nil && top.expectKey {
				folded := foldKey(tok)
				if top.keys[folded] {
					return tok, true
				}
				top.keys[folded] = true
				top.expectKey = false
				continue
			}
		}
		if top != nil && top.keys != nil {
			top.expectKey = true // a scalar value ends a member
		}
	}
}

// foldKey folds a key as encoding/json does when it matches a struct
// field: ASCII letters to upper case, any other rune to the smallest of its
// case-folding set (so the Kelvin sign is K).
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		switch {
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case r >= utf8.RuneSelf:
			for {
				f := unicode.SimpleFold(r)
				if f <= r {
					r = f
					break
				}
				r = f
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
