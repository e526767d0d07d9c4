package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/internal/httpsafe"
	"github.com/healthgate/healthgate/internal/stix"
	"github.com/healthgate/healthgate/internal/store"
)

// Client limits: a server, however broken or hostile, cannot make the
// client read without end.
const (
	MaxResponseBytes = 32 << 20
	DefaultMaxPages  = 1000
)

// Client talks to a TAXII 2.1 server.
type Client struct {
	HTTP  *http.Client // default: a client with a 30 s timeout
	Token string       // HTTP Bearer token
}

// http returns the HTTP client. With a token, it refuses redirects that
// would carry the token over plain http (Go forwards Authorization on a
// redirect to the same host whatever the scheme).
func (c *Client) http() *http.Client {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Token == "" {
		return hc
	}
	return httpsafe.CheckRedirects(hc, tokenSafe)
}

// tokenSafe refuses a URL the Bearer token must not travel to: plain http
// to a host that is not loopback. Discovery answers and redirects come
// from the server, so they are checked like the URL the operator gave.
func tokenSafe(u *url.URL) error {
	if httpsafe.Secure(u) {
		return nil
	}
	return fmt.Errorf("refusing to send the token to %s over plain http (https only, except to loopback)", u.Redacted())
}

// RemoteError is a TAXII error answered by a server.
type RemoteError struct {
	Status      int
	Title       string
	Description string
}

func (e *RemoteError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("taxii server: %d %s: %s", e.Status, e.Title, e.Description)
	}
	return fmt.Sprintf("taxii server: %d %s", e.Status, e.Title)
}

// do sends a request and decodes a TAXII answer into v; it returns the
// response headers.
func (c *Client) do(ctx context.Context, method, u string, body []byte, v any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		if err := tokenSafe(req.URL); err != nil {
			return nil, err
		}
	}
	req.Header.Set("Accept", MediaType)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if len(b) > MaxResponseBytes {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", u, MaxResponseBytes)
	}
	if resp.StatusCode >= 300 {
		re := &RemoteError{Status: resp.StatusCode, Title: resp.Status}
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Title != "" {
			re.Title, re.Description = eb.Title, eb.Description
		}
		return nil, re
	}
	if mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/taxii+json" ||
		(params["version"] != "" && params["version"] != "2.1") {
		return nil, fmt.Errorf("%s: answer is %q, not %s", u, resp.Header.Get("Content-Type"), MediaType)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return resp.Header, nil
}

// Discover reads the discovery resource at serverURL (…/taxii2/).
func (c *Client) Discover(ctx context.Context, serverURL string) (Discovery, error) {
	var d Discovery
	_, err := c.do(ctx, http.MethodGet, slash(serverURL), nil, &d)
	return d, err
}

// Collections lists the collections of an API root.
func (c *Client) Collections(ctx context.Context, apiRoot string) ([]CollectionResource, error) {
	var out struct {
		Collections []CollectionResource `json:"collections"`
	}
	_, err := c.do(ctx, http.MethodGet, slash(apiRoot)+"collections/", nil, &out)
	return out.Collections, err
}

// Page is one answer of GET objects.
type Page struct {
	stix.Envelope
	// DateAddedFirst and DateAddedLast come from the X-TAXII-Date-Added
	// headers; zero when absent.
	DateAddedFirst, DateAddedLast time.Time
}

// ObjectsQuery are the parameters of GET objects.
type ObjectsQuery struct {
	AddedAfter time.Time
	Next       string
	Limit      int
	Types      []string
}

// Objects reads one page of a collection (collURL ends in
// collections/{id}/).
func (c *Client) Objects(ctx context.Context, collURL string, q ObjectsQuery) (Page, error) {
	v := url.Values{}
	if !q.AddedAfter.IsZero() {
		v.Set("added_after", stix.FormatTimestampMicro(q.AddedAfter))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if len(q.Types) > 0 {
		v.Set("match[type]", strings.Join(q.Types, ","))
	}
	u := slash(collURL) + "objects/"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	var p Page
	hdr, err := c.do(ctx, http.MethodGet, u, nil, &p.Envelope)
	if err != nil {
		return p, err
	}
	for _, h := range []struct {
		name string
		dst  *time.Time
	}{{"X-TAXII-Date-Added-First", &p.DateAddedFirst}, {"X-TAXII-Date-Added-Last", &p.DateAddedLast}} {
		if s := hdr.Get(h.name); s != "" {
			t, err := stix.ParseTimestamp(s)
			if err != nil {
				return p, fmt.Errorf("%s: %w", h.name, err)
			}
			*h.dst = t
		}
	}
	return p, nil
}

// AddObjects posts objects to a collection and returns the status.
func (c *Client) AddObjects(ctx context.Context, collURL string, objs []any) (Status, error) {
	body, err := json.Marshal(map[string]any{"objects": objs})
	if err != nil {
		return Status{}, err
	}
	var st Status
	_, err = c.do(ctx, http.MethodPost, slash(collURL)+"objects/", body, &st)
	return st, err
}

// GetStatus reads a status resource.
func (c *Client) GetStatus(ctx context.Context, apiRoot, id string) (Status, error) {
	var st Status
	_, err := c.do(ctx, http.MethodGet, slash(apiRoot)+"status/"+url.PathEscape(id)+"/", nil, &st)
	return st, err
}

// FindCollection discovers the server's API roots and returns the URL of
// the first collection whose id, alias or title is name.
func (c *Client) FindCollection(ctx context.Context, serverURL, name string) (string, CollectionResource, error) {
	d, err := c.Discover(ctx, serverURL)
	if err != nil {
		return "", CollectionResource{}, err
	}
	base, err := url.Parse(slash(serverURL))
	if err != nil {
		return "", CollectionResource{}, err
	}
	// The default root first, each root once; a discovery answer may list
	// any number of roots and each costs a request, so only the first few
	// are asked.
	var roots []string
	for _, r := range append([]string{d.Default}, d.APIRoots...) {
		if r != "" && !slices.Contains(roots, r) && len(roots) < maxAPIRoots {
			roots = append(roots, r)
		}
	}
	for _, root := range roots {
		ru, err := base.Parse(root)
		if err != nil {
			continue
		}
		colls, err := c.Collections(ctx, ru.String())
		if err != nil {
			return "", CollectionResource{}, err
		}
		for _, col := range colls {
			if col.ID == name || col.Alias == name || col.Title == name {
				return slash(ru.String()) + "collections/" + url.PathEscape(col.ID) + "/", col, nil
			}
		}
	}
	return "", CollectionResource{}, fmt.Errorf("no readable collection %q on %s", name, serverURL)
}

// maxAPIRoots bounds the API roots FindCollection asks for collections.
const maxAPIRoots = 16

func slash(u string) string {
	if strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

// Pulling.

// PullOptions configure Pull.
type PullOptions struct {
	CollectionURL string
	// AddedAfter resumes after an earlier pull (PullResult.AddedAfter).
	AddedAfter time.Time
	Limit      int // objects per page; default DefaultLimit
	MaxPages   int // default DefaultMaxPages
	Types      []string
	// Page is called with each page's valid objects, in order. When it
	// returns an error the pull stops.
	Page func(ctx context.Context, objs []stix.Object, resume time.Time) error
}

// PullResult says what a pull did.
type PullResult struct {
	Objects  int // valid objects handed to Page
	Rejected int // objects that failed validation
	Pages    int
	// AddedAfter is where the next pull should resume: every object added
	// up to it has been seen.
	AddedAfter time.Time
	// Complete is false when MaxPages stopped the pull early.
	Complete bool
}

// Pull pages through a collection with next (or, from a server that says
// more without next, with added_after; TAXII 2.1 section 3.4), validating
// every object strictly, and returns where to resume.
//
// TAXII envelopes do not carry date_added, so the resume point comes from
// the X-TAXII-Date-Added-Last header: after the last page it is that
// header; after a page with more to come it is 1 µs before it, because
// further objects with that same date_added may follow (the server
// guarantees that objects with a later date_added were added later).
func (c *Client) Pull(ctx context.Context, opts PullOptions) (PullResult, error) {
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.Limit <= 0 {
		opts.Limit = DefaultLimit
	}
	res := PullResult{AddedAfter: opts.AddedAfter}
	addedAfter, next := opts.AddedAfter, ""
	for res.Pages < opts.MaxPages {
		q := ObjectsQuery{Limit: opts.Limit, Types: opts.Types, AddedAfter: addedAfter, Next: next}
		p, err := c.Objects(ctx, opts.CollectionURL, q)
		if err != nil {
			return res, err
		}
		res.Pages++
		var objs []stix.Object
		for _, raw := range p.Objects {
			obj, err := stix.Validate(raw)
			if err != nil {
				res.Rejected++
				continue
			}
			objs = append(objs, obj)
		}
		resume := res.AddedAfter
		if len(p.Objects) > 0 {
			if p.DateAddedLast.IsZero() {
				return res, errors.New("the server sent objects without X-TAXII-Date-Added-Last")
			}
			r := p.DateAddedLast
			if p.More {
				r = r.Add(-time.Microsecond)
			}
			if r.After(resume) {
				resume = r
			}
		}
		if opts.Page != nil && (len(objs) > 0 || !resume.Equal(res.AddedAfter)) {
			if err := opts.Page(ctx, objs, resume); err != nil {
				return res, err
			}
		}
		res.Objects += len(objs)
		res.AddedAfter = resume
		if !p.More {
			res.Complete = true
			return res, nil
		}
		switch {
		case p.Next != "":
			if p.Next == next {
				return res, errors.New("the server sent the same next twice")
			}
			next = p.Next
		default:
			// TAXII 2.1 section 3.4: more without next pages on with
			// added_after = X-TAXII-Date-Added-Last. Objects sharing that
			// date_added may not all be on this page: ask again from 1 µs
			// before it when that still moves on (at worst re-reading a
			// few), else from it.
			after := p.DateAddedLast
			if p.DateAddedFirst.Before(after) {
				after = after.Add(-time.Microsecond)
			}
			if len(p.Objects) == 0 || !after.After(addedAfter) {
				return res, errors.New("the server said more but sent neither next nor a later X-TAXII-Date-Added-Last")
			}
			addedAfter, next = after, ""
		}
	}
	return res, nil
}

// IndicatorSink takes the indicators pulled from a partner; the intel
// package merges them with source = partner and the partner's trust level
// (0–100).
type IndicatorSink interface {
	MergePartnerIndicators(ctx context.Context, partner string, trust int, objs []stix.Indicator) error
}

// PullIndicators pulls a partner's collection from where the last pull
// stopped, hands each page's indicators to sink and records the resume
// point in the store after every page the sink took, so a pull that fails
// half way resumes without losing or re-merging much.
func PullIndicators(ctx context.Context, c *Client, st store.PartnerStore, sink IndicatorSink, partner string, trust int, opts PullOptions) (PullResult, error) {
	stateKey := opts.CollectionURL
	from, err := st.PullState(ctx, partner, stateKey)
	if err != nil {
		return PullResult{}, err
	}
	if from.After(opts.AddedAfter) {
		opts.AddedAfter = from
	}
	opts.Types = []string{"indicator"}
	opts.Page = func(ctx context.Context, objs []stix.Object, resume time.Time) error {
		var inds []stix.Indicator
		for _, o := range objs {
			if ind, ok := o.Value.(*stix.Indicator); ok {
				inds = append(inds, *ind)
			}
		}
		if len(inds) > 0 {
			if err := sink.MergePartnerIndicators(ctx, partner, trust, inds); err != nil {
				return fmt.Errorf("merging indicators: %w", err)
			}
		}
		return st.SetPullState(ctx, partner, stateKey, resume)
	}
	return c.Pull(ctx, opts)
}
