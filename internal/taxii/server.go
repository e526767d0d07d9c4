package taxii

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
)

// MediaType is the TAXII 2.1 media type, of every request and answer body.
const MediaType = "application/taxii+json;version=2.1"

// Limits of the server.
const (
	DefaultLimit   = 100
	MaxLimit       = 1000
	MaxBodyBytes   = 10 << 20 // max_content_length of the API root
	MaxObjects     = 10_000   // objects in one POST
	maxMatchValues = 100      // values of one match[] filter
)

// Paths: the handler answers under Prefix; the one API root is APIRoot.
const (
	Prefix  = "/taxii2/"
	APIRoot = Prefix + "api1/"
)

// Store is what the server needs from the store.
type Store interface {
	store.PartnerStore
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)
}

// Options configure a Handler.
type Options struct {
	Store Store
	// PublicURL is the server's external base URL (https://host); when
	// empty, URLs in the discovery answer are built from the request.
	PublicURL string
	Title     string
	Contact   string
	Logger    *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
}

// Handler is the TAXII 2.1 server.
type Handler struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	keyMu sync.Mutex
	key   []byte
}

// NewHandler returns the TAXII server; mount it at Prefix.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("taxii: no store")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Title == "" {
		opts.Title = "Healthgate TAXII server"
	}
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	h.mux.HandleFunc(Prefix+"{$}", h.wrap(http.MethodGet, h.discovery))
	h.mux.HandleFunc(APIRoot+"{$}", h.wrap(http.MethodGet, h.apiRoot))
	h.mux.HandleFunc(APIRoot+"collections/{$}", h.wrap(http.MethodGet, h.collections))
	h.mux.HandleFunc(APIRoot+"collections/{coll}/{$}", h.wrap(http.MethodGet, h.collection))
	h.mux.HandleFunc(APIRoot+"collections/{coll}/objects/{$}", h.wrap(http.MethodGet+","+http.MethodPost, h.objects))
	h.mux.HandleFunc(APIRoot+"collections/{coll}/objects/{obj}/{$}", h.wrap(http.MethodGet, h.object))
	h.mux.HandleFunc(APIRoot+"collections/{coll}/objects/{obj}/versions/{$}", h.wrap(http.MethodGet, h.versions))
	h.mux.HandleFunc(APIRoot+"collections/{coll}/manifest/{$}", h.wrap(http.MethodGet, h.manifest))
	h.mux.HandleFunc(APIRoot+"status/{status}/{$}", h.wrap(http.MethodGet, h.status))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.writeError(w, r, &Error{Status: http.StatusNotFound, Title: "Not found",
			Description: "no TAXII endpoint at " + r.URL.Path + " (TAXII URLs end with a slash)"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Error is a TAXII error message (TAXII 2.1 section 3.6.1) and the error
// type of the handlers. Internal is only logged.
type Error struct {
	Status      int
	Title       string
	Description string
	Internal    error
}

func (e *Error) Error() string {
	if e.Internal != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Title, e.Description, e.Internal)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Description)
}

func errorf(status int, title, format string, args ...any) *Error {
	return &Error{Status: status, Title: title, Description: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

type request struct {
	*http.Request
	partner store.Partner
}

type handlerFunc func(w http.ResponseWriter, r *request) error

// wrap checks the method, authenticates the partner, negotiates the media
// type and turns returned errors into TAXII error messages.
func (h *Handler) wrap(methods string, fn handlerFunc) http.HandlerFunc {
	allowed := strings.Split(methods, ",")
	return func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			if !slices.Contains(allowed, r.Method) {
				w.Header().Set("Allow", strings.Join(allowed, ", "))
				return errorf(http.StatusMethodNotAllowed, "Method not allowed", "%s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", "))
			}
			p, err := h.authenticate(w, r)
			if err != nil {
				return err
			}
			if !acceptable(r.Header.Get("Accept")) {
				return errorf(http.StatusNotAcceptable, "Not acceptable", "this server answers only %s", MediaType)
			}
			return fn(w, &request{Request: r, partner: p})
		}()
		if err != nil {
			if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
				return
			}
			h.writeError(w, r, err)
		}
	}
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *Error
	if !errors.As(err, &te) {
		te = &Error{Status: http.StatusInternalServerError, Title: "Internal error", Description: "the server could not handle the request", Internal: err}
	}
	if te.Status >= 500 {
		h.log.Error("taxii request failed", slog.String("path", r.URL.Path), slog.Any("err", te))
	} else {
		h.log.Debug("taxii request refused", slog.String("path", r.URL.Path), slog.Any("err", te))
	}
	writeTAXII(w, te.Status, errorBody{Title: te.Title, Description: te.Description, HTTPStatus: strconv.Itoa(te.Status)})
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"title":"Internal error","http_status":"500"}`)
	}
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (store.Partner, error) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taxii"`)
		return store.Partner{}, errorf(http.StatusUnauthorized, "Unauthorized", "send a partner token: Authorization: Bearer <token>")
	}
	p, err := authenticate(r.Context(), h.opts.Store, strings.TrimSpace(tok), h.opts.Now())
	if errors.Is(err, errBadToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taxii", error="invalid_token"`)
		return store.Partner{}, errorf(http.StatusUnauthorized, "Unauthorized", "the token is unknown, expired or revoked")
	}
	return p, err
}

// acceptable reports whether an Accept header admits the TAXII 2.1 media
// type. No header admits anything.
func acceptable(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		switch mt {
		case "*/*", "application/*":
			return true
		case "application/taxii+json":
			if v, ok := params["version"]; !ok || v == "2.1" {
				return true
			}
		}
	}
	return false
}

func (h *Handler) cursorKey(ctx context.Context) ([]byte, error) {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	if h.key != nil {
		return h.key, nil
	}
	k, err := h.opts.Store.Secret(ctx, "taxii-cursor-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := io.ReadFull(rand.Reader, k)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	h.key = k
	return k, nil
}

// Discovery, API root and collections.

// Discovery is the discovery resource (TAXII 2.1 section 4.1.1).
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRootResource is the API root resource (section 4.2.1).
type APIRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// CollectionResource is the collection resource (section 5.2.1).
type CollectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

func (h *Handler) baseURL(r *http.Request) string {
	if h.opts.PublicURL != "" {
		return strings.TrimSuffix(h.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) discovery(w http.ResponseWriter, r *request) error {
	root := h.baseURL(r.Request) + APIRoot
	writeTAXII(w, http.StatusOK, Discovery{
		Title: h.opts.Title, Description: "Threat intelligence shared by Healthgate with partner organisations.",
		Contact: h.opts.Contact, Default: root, APIRoots: []string{root},
	})
	return nil
}

func (h *Handler) apiRoot(w http.ResponseWriter, r *request) error {
	writeTAXII(w, http.StatusOK, APIRootResource{
		Title: "Healthgate", Description: "Indicators and aggregated sightings for online payment protection.",
		Versions: []string{MediaType}, MaxContentLength: MaxBodyBytes,
	})
	return nil
}

func resource(p store.Partner, c Collection) CollectionResource {
	return CollectionResource{ID: c.ID, Title: c.Title, Description: c.Description, Alias: c.Alias,
		CanRead: CanRead(p, c), CanWrite: CanWrite(p, c), MediaTypes: []string{stix.MediaType}}
}

func (h *Handler) collections(w http.ResponseWriter, r *request) error {
	out := struct {
		Collections []CollectionResource `json:"collections,omitempty"`
	}{}
	for _, c := range Collections {
		if CanRead(r.partner, c) {
			out.Collections = append(out.Collections, resource(r.partner, c))
		}
	}
	writeTAXII(w, http.StatusOK, out)
	return nil
}

// lookup finds the collection of the request and checks the partner's
// right: unknown → 404, no right → 403.
func lookup(r *request, write bool) (Collection, error) {
	c, ok := CollectionByAlias(r.PathValue("coll"))
	if !ok {
		return c, errorf(http.StatusNotFound, "Collection not found", "there is no collection %q", r.PathValue("coll"))
	}
	if write && !CanWrite(r.partner, c) {
		return c, errorf(http.StatusForbidden, "Forbidden", "partner %s may not add objects to collection %s", r.partner.Name, c.Alias)
	}
	if !write && !CanRead(r.partner, c) {
		return c, errorf(http.StatusForbidden, "Forbidden", "partner %s may not read collection %s", r.partner.Name, c.Alias)
	}
	return c, nil
}

func (h *Handler) collection(w http.ResponseWriter, r *request) error {
	c, err := lookup(r, false)
	if err != nil {
		return err
	}
	writeTAXII(w, http.StatusOK, resource(r.partner, c))
	return nil
}

// Reading objects.

// query is a parsed GET of objects, manifest, an object or its versions.
type query struct {
	store.TAXIIQuery
	scope []byte
}

// parseQuery reads the URL parameters the spec defines for an endpoint;
// allowedMatch lists the match[] filters the endpoint supports.
func (h *Handler) parseQuery(r *request, c Collection, allowedMatch ...string) (query, error) {
	vals := r.URL.Query()
	q := query{TAXIIQuery: store.TAXIIQuery{Collection: c.ID, Limit: DefaultLimit}}
	bad := func(format string, args ...any) error {
		return errorf(http.StatusBadRequest, "Bad request", format, args...)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return q, bad("parameter %s is given %d times", k, len(v))
		}
		switch {
		case k == "limit", k == "next", k == "added_after":
		case strings.HasPrefix(k, "match[") && strings.HasSuffix(k, "]"):
			f := strings.TrimSuffix(strings.TrimPrefix(k, "match["), "]")
			if !slices.Contains(allowedMatch, f) {
				return q, bad("filter %s is not supported here (supported: %s)", k, strings.Join(allowedMatch, ", "))
			}
		default:
			return q, bad("unknown parameter %q", k)
		}
	}
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, bad("limit must be an integer from 1 to %d", MaxLimit)
		}
		q.Limit = n
	}
	if s := vals.Get("added_after"); s != "" {
		t, err := stix.ParseTimestamp(s)
		if err != nil {
			return q, bad("added_after: %v", err)
		}
		q.AddedAfter = t
	}
	list := func(name string, check func(string) error) ([]string, error) {
		s, ok := vals["match["+name+"]"]
		if !ok {
			return nil, nil
		}
		parts := strings.Split(s[0], ",")
		if len(parts) > maxMatchValues {
			return nil, bad("match[%s] has more than %d values", name, maxMatchValues)
		}
		for i, p := range parts {
			parts[i] = strings.TrimSpace(p)
			if err := check(parts[i]); err != nil {
				return nil, bad("match[%s]: %v", name, err)
			}
		}
		return parts, nil
	}
	var err error
	if q.IDs, err = list("id", func(s string) error { _, _, err := stix.ParseID(s); return err }); err != nil {
		return q, err
	}
	if q.Types, err = list("type", func(s string) error {
		if len(s) < 3 || len(s) > 250 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("%q is not a STIX type", s)
		}
		return nil
	}); err != nil {
		return q, err
	}
	if q.SpecVersions, err = list("spec_version", func(s string) error {
		if s != "2.0" && s != "2.1" {
			return fmt.Errorf("%q is not a STIX version", s)
		}
		return nil
	}); err != nil {
		return q, err
	}
	if q.Versions, err = list("version", func(s string) error {
		if s == "first" || s == "last" || s == "all" {
			return nil
		}
		_, err := stix.ParseTimestamp(s)
		return err
	}); err != nil {
		return q, err
	}
	for i, v := range q.Versions {
		if t, err := stix.ParseTimestamp(v); err == nil {
			q.Versions[i] = t.Format(time.RFC3339Nano)
		}
	}
	// The cursor is bound to everything but limit and next.
	scopeVals := url.Values{}
	for k, v := range vals {
		if k != "limit" && k != "next" {
			scopeVals[k] = v
		}
	}
	q.scope = cursorScope(c.ID+"\x00"+r.URL.Path, scopeVals.Encode())
	if s := vals.Get("next"); s != "" {
		key, err := h.cursorKey(r.Context())
		if err != nil {
			return q, err
		}
		cur, err := decodeCursor(key, q.scope, h.opts.Now(), s)
		if err != nil {
			return q, bad("next: %v", err)
		}
		q.After = &cur
	}
	return q, nil
}

// page runs a query and sets the paging headers; it returns the objects,
// whether there are more and the next cursor.
func (h *Handler) page(w http.ResponseWriter, r *request, q query) ([]store.TAXIIObject, bool, string, error) {
	if r.partner.ID == "" {
		return nil, false, "", errors.New("taxii: reading objects without a partner id")
	}
	// TLP: the store leaves out other partners' restricted objects, so
	// pages, cursors, versions and 404s are as if they did not exist.
	q.Reader = r.partner.ID
	objs, more, err := h.opts.Store.TAXIIObjects(r.Context(), q.TAXIIQuery)
	if err != nil {
		return nil, false, "", err
	}
	if len(objs) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", stix.FormatTimestampMicro(objs[0].DateAdded))
		w.Header().Set("X-TAXII-Date-Added-Last", stix.FormatTimestampMicro(objs[len(objs)-1].DateAdded))
	}
	next := ""
	if more {
		key, err := h.cursorKey(r.Context())
		if err != nil {
			return nil, false, "", err
		}
		last := objs[len(objs)-1]
		next = encodeCursor(key, q.scope, h.opts.Now(), store.TAXIICursor{DateAdded: last.DateAdded, ID: last.ID, Version: last.Version})
	}
	return objs, more, next, nil
}

type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

func (h *Handler) objects(w http.ResponseWriter, r *request) error {
	if r.Method == http.MethodPost {
		return h.addObjects(w, r)
	}
	c, err := lookup(r, false)
	if err != nil {
		return err
	}
	q, err := h.parseQuery(r, c, "id", "type", "version", "spec_version")
	if err != nil {
		return err
	}
	objs, more, next, err := h.page(w, r, q)
	if err != nil {
		return err
	}
	writeEnvelope(w, objs, more, next)
	return nil
}

// writeEnvelope answers a page of objects as a TAXII envelope.
func writeEnvelope(w http.ResponseWriter, objs []store.TAXIIObject, more bool, next string) {
	env := envelope{More: more, Next: next}
	for _, o := range objs {
		env.Objects = append(env.Objects, o.Body)
	}
	writeTAXII(w, http.StatusOK, env)
}

func (h *Handler) object(w http.ResponseWriter, r *request) error {
	c, err := lookup(r, false)
	if err != nil {
		return err
	}
	id := r.PathValue("obj")
	if _, _, err := stix.ParseID(id); err != nil {
		return errorf(http.StatusBadRequest, "Bad request", "%v", err)
	}
	q, err := h.parseQuery(r, c, "version", "spec_version")
	if err != nil {
		return err
	}
	q.IDs = []string{id}
	objs, more, next, err := h.page(w, r, q)
	if err != nil {
		return err
	}
	if len(objs) == 0 && q.After == nil {
		return errorf(http.StatusNotFound, "Object not found", "collection %s has no object %s matching the query", c.Alias, id)
	}
	writeEnvelope(w, objs, more, next)
	return nil
}

func (h *Handler) versions(w http.ResponseWriter, r *request) error {
	c, err := lookup(r, false)
	if err != nil {
		return err
	}
	id := r.PathValue("obj")
	if _, _, err := stix.ParseID(id); err != nil {
		return errorf(http.StatusBadRequest, "Bad request", "%v", err)
	}
	q, err := h.parseQuery(r, c, "spec_version")
	if err != nil {
		return err
	}
	q.IDs, q.Versions = []string{id}, []string{"all"}
	objs, more, next, err := h.page(w, r, q)
	if err != nil {
		return err
	}
	if len(objs) == 0 && q.After == nil {
		return errorf(http.StatusNotFound, "Object not found", "collection %s has no object %s", c.Alias, id)
	}
	out := struct {
		More     bool     `json:"more"`
		Next     string   `json:"next,omitempty"`
		Versions []string `json:"versions,omitempty"`
	}{More: more, Next: next}
	for _, o := range objs {
		out.Versions = append(out.Versions, stix.FormatVersion(o.Version))
	}
	writeTAXII(w, http.StatusOK, out)
	return nil
}

// ManifestRecord is one entry of a manifest (TAXII 2.1 section 5.3.1).
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

func (h *Handler) manifest(w http.ResponseWriter, r *request) error {
	c, err := lookup(r, false)
	if err != nil {
		return err
	}
	q, err := h.parseQuery(r, c, "id", "type", "version", "spec_version")
	if err != nil {
		return err
	}
	objs, more, next, err := h.page(w, r, q)
	if err != nil {
		return err
	}
	out := struct {
		More    bool             `json:"more"`
		Next    string           `json:"next,omitempty"`
		Objects []ManifestRecord `json:"objects,omitempty"`
	}{More: more, Next: next}
	for _, o := range objs {
		out.Objects = append(out.Objects, ManifestRecord{ID: o.ID, DateAdded: stix.FormatTimestampMicro(o.DateAdded),
			Version: stix.FormatVersion(o.Version), MediaType: stix.MediaType})
	}
	writeTAXII(w, http.StatusOK, out)
	return nil
}

// Adding objects.

// Status is the status resource (TAXII 2.1 section 4.3.1).
type Status struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp,omitempty"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []StatusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []StatusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	Pendings         []StatusDetails `json:"pendings,omitempty"`
}

// StatusDetails names one object of a request and, for a failure, why.
type StatusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

func (h *Handler) addObjects(w http.ResponseWriter, r *request) error {
	c, err := lookup(r, true)
	if err != nil {
		return err
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/taxii+json" || (params["version"] != "" && params["version"] != "2.1") {
		return errorf(http.StatusUnsupportedMediaType, "Unsupported media type", "Content-Type must be %s", MediaType)
	}
	if r.ContentLength > MaxBodyBytes {
		return errorf(http.StatusRequestEntityTooLarge, "Request too large", "the body is larger than max_content_length (%d bytes)", MaxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	env, err := stix.DecodeEnvelope(body, MaxObjects)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "Request too large", "the body is larger than max_content_length (%d bytes)", MaxBodyBytes)
	case errors.Is(err, stix.ErrTooManyObjects):
		return errorf(http.StatusRequestEntityTooLarge, "Too many objects", "at most %d objects per request", MaxObjects)
	case err != nil:
		return errorf(http.StatusBadRequest, "Bad envelope", "the body is not a TAXII envelope: %v", err)
	}
	if env.More || env.Next != "" {
		return errorf(http.StatusBadRequest, "Bad envelope", "an envelope sent to the server carries no more or next")
	}
	now := h.opts.Now().UTC()
	statusID, err := stix.NewID("status", h.opts.Rand)
	if err != nil {
		return err
	}
	statusID = strings.TrimPrefix(statusID, "status--")
	// One entry per object of the envelope, in order: a failure found
	// here, or objs[obj], which the store may still refuse.
	type entry struct {
		details StatusDetails
		obj     int
	}
	var entries []entry
	var objs []store.TAXIIObject
	for _, raw := range env.Objects {
		obj, err := stix.Validate(raw)
		if err == nil && !slices.Contains(c.Types, obj.Type) {
			err = &stix.ValidationError{ID: obj.ID, Version: stix.FormatVersion(obj.Version),
				Problems: []string{fmt.Sprintf("collection %s does not take %s objects", c.Alias, obj.Type)}}
		}
		if err != nil {
			d := StatusDetails{ID: "unknown", Message: err.Error()}
			var ve *stix.ValidationError
			if errors.As(err, &ve) {
				if ve.ID != "" && len(ve.ID) <= 300 {
					d.ID = ve.ID
				}
				d.Version, d.Message = ve.Version, strings.Join(ve.Problems, "; ")
			}
			entries = append(entries, entry{details: d, obj: -1})
			continue
		}
		objs = append(objs, store.TAXIIObject{ID: obj.ID, Type: obj.Type, SpecVersion: obj.SpecVersion, Version: obj.Version, Body: obj.Raw,
			PostedBy: r.partner.ID, PosterOnly: PosterOnly(stix.ObjectTLP(obj.Raw))})
		entries = append(entries, entry{details: StatusDetails{ID: obj.ID, Version: stix.FormatVersion(obj.Version)}, obj: len(objs) - 1})
	}
	// The status is made inside the store's transaction, from what it did:
	// it refuses versions of another's object and other content for a
	// version already stored (store.PartnerStore.AddTAXIIObjects).
	var st Status
	render := func(added store.TAXIIAdded) ([]byte, error) {
		st = Status{ID: statusID, Status: "complete", RequestTimestamp: stix.FormatTimestampMicro(now), TotalCount: len(env.Objects)}
		for _, e := range entries {
			d := e.details
			if e.obj < 0 {
				st.Failures = append(st.Failures, d)
				continue
			}
			if added.Refused != nil && added.Refused[e.obj] != nil {
				d.Message = added.Refused[e.obj].Error()
				st.Failures = append(st.Failures, d)
				continue
			}
			st.Successes = append(st.Successes, d)
		}
		for i, d := range st.Failures {
			if len(d.Message) > 2000 {
				st.Failures[i].Message = d.Message[:2000] + "…"
			}
		}
		st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
		return json.Marshal(st)
	}
	if _, err := h.opts.Store.AddTAXIIObjects(r.Context(), c.ID, objs,
		store.TAXIIStatus{ID: statusID, PartnerID: r.partner.ID, Requested: now, Render: render}); err != nil {
		return err
	}
	h.log.Info("taxii objects added", slog.String("partner", r.partner.Name), slog.String("collection", c.Alias),
		slog.Int("accepted", st.SuccessCount), slog.Int("refused", st.FailureCount))
	writeTAXII(w, http.StatusAccepted, st)
	return nil
}

func (h *Handler) status(w http.ResponseWriter, r *request) error {
	id := r.PathValue("status")
	st, err := h.opts.Store.TAXIIStatus(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && st.PartnerID != r.partner.ID {
		return errorf(http.StatusNotFound, "Status not found", "no status %q for this partner", id)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(st.Body, '\n'))
	return nil
}

// PosterOnly reports whether a partner's object marked at level may be
// served back only to that partner (FIRST TLP 2.0): AMBER and AMBER+STRICT
// limit sharing to the recipient's organisation (and its clients for
// AMBER), RED to the named recipients, so Healthgate, a recipient, must not
// pass them to other partners. CLEAR, GREEN and unmarked objects are shared
// with every partner that can read the collection.
func PosterOnly(level stix.TLPLevel) bool { return level >= stix.TLPLevelAmber }

// Publish adds objects Healthgate produces (its own indicators, aggregated
// sightings) to a collection in one transaction. The objects are
// validated like a partner's; nothing is stored if one is invalid. They
// are served to every partner that can read the collection, whatever
// their marking: Healthgate is their source and decides (it marks them
// TLP:GREEN today). A version already stored keeps its first content; an
// object whose id a partner posted first is not stored (only an object's
// creator adds versions) and makes Publish return an error, after storing
// the others.
func Publish(ctx context.Context, st store.PartnerStore, collection string, objs []any, now time.Time) error {
	c, ok := CollectionByAlias(collection)
	if !ok {
		return fmt.Errorf("taxii: no collection %q", collection)
	}
	var rows []store.TAXIIObject
	for _, o := range objs {
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		obj, err := stix.Validate(raw)
		if err != nil {
			return fmt.Errorf("taxii: publishing to %s: %w", c.Alias, err)
		}
		rows = append(rows, store.TAXIIObject{ID: obj.ID, Type: obj.Type, SpecVersion: obj.SpecVersion, Version: obj.Version, Body: obj.Raw})
	}
	added, err := st.AddTAXIIObjects(ctx, c.ID, rows, store.TAXIIStatus{Requested: now})
	if err != nil {
		return err
	}
	var errs []error
	for _, err := range added.Refused {
		// A version published again with other content (a retried pass
		// drawing fresh noise, another node) keeps what was shared first.
		if err != nil && !errors.Is(err, store.ErrTAXIIVersionExists) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("taxii: publishing to %s: %w", c.Alias, errors.Join(errs...))
	}
	return nil
}
