package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/stix"
)

// fakePage is one answer of a scripted TAXII server.
type fakePage struct {
	more        bool
	next        string
	ids         []int
	first, last time.Time
}

// scriptedServer answers GET objects with pages chosen by choose, and
// records the query of every request.
func scriptedServer(t *testing.T, choose func(q url.Values, n int) fakePage) (*httptest.Server, *[]url.Values) {
	t.Helper()
	var mu sync.Mutex
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		q := r.URL.Query()
		queries = append(queries, q)
		n := len(queries)
		mu.Unlock()
		p := choose(q, n)
		env := map[string]any{"more": p.more}
		if p.next != "" {
			env["next"] = p.next
		}
		var objs []any
		for _, i := range p.ids {
			objs = append(objs, indicator(i, t0))
		}
		if objs != nil {
			env["objects"] = objs
		}
		if !p.last.IsZero() {
			w.Header().Set("X-TAXII-Date-Added-First", stix.FormatTimestampMicro(p.first))
			w.Header().Set("X-TAXII-Date-Added-Last", stix.FormatTimestampMicro(p.last))
		}
		w.Header().Set("Content-Type", MediaType)
		json.NewEncoder(w).Encode(env)
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

func pullIDs(t *testing.T, srv *httptest.Server, maxPages int) (PullResult, []string, error) {
	t.Helper()
	var ids []string
	c := &Client{HTTP: srv.Client()}
	res, err := c.Pull(context.Background(), PullOptions{CollectionURL: srv.URL + "/taxii2/api1/collections/x/", MaxPages: maxPages,
		Page: func(_ context.Context, objs []stix.Object, _ time.Time) error {
			for _, o := range objs {
				ids = append(ids, o.ID)
			}
			return nil
		}})
	return res, ids, err
}

// TestPullMoreWithoutNext: TAXII 2.1 section 3.4: when more is true and
// next is absent, the client pages on with added_after set from
// X-TAXII-Date-Added-Last.
func TestPullMoreWithoutNext(t *testing.T) {
	t1, t2, t3 := t0, t0.Add(time.Second), t0.Add(2*time.Second)
	srv, queries := scriptedServer(t, func(q url.Values, n int) fakePage {
		switch q.Get("added_after") {
		case "":
			return fakePage{more: true, ids: []int{1, 2}, first: t1, last: t2}
		case stix.FormatTimestampMicro(t2.Add(-time.Microsecond)), stix.FormatTimestampMicro(t2):
			return fakePage{ids: []int{3}, first: t3, last: t3}
		}
		return fakePage{}
	})
	res, ids, err := pullIDs(t, srv, 10)
	if err != nil || !res.Complete || len(ids) != 3 || !res.AddedAfter.Equal(t3) {
		t.Fatalf("Pull = %+v, %v; ids %v", res, err, ids)
	}
	if q := (*queries)[1]; q.Get("next") != "" || q.Get("added_after") == "" {
		t.Errorf("second request %v: want added_after and no next", q)
	}
}

// TestPullStopsWithoutProgress: a server that sends the same next again,
// or more without next and without a later date_added, cannot make the
// client loop.
func TestPullStopsWithoutProgress(t *testing.T) {
	for name, page := range map[string]fakePage{
		"same next":                      {more: true, next: "again", ids: []int{1}, first: t0, last: t0},
		"more, no next, no date_added":   {more: true, ids: []int{1}},
		"more, no next, no objects":      {more: true},
		"more, no next, same date_added": {more: true, ids: []int{1, 2}, first: t0, last: t0},
	} {
		t.Run(name, func(t *testing.T) {
			srv, queries := scriptedServer(t, func(url.Values, int) fakePage { return page })
			_, _, err := pullIDs(t, srv, 50)
			if err == nil {
				t.Fatal("Pull = nil error")
			}
			if len(*queries) > 3 {
				t.Errorf("%d requests before giving up", len(*queries))
			}
		})
	}
}

// TestPullEmptyPageWithNext: a page may be empty and still say more with a
// next (a server that filters after paging); the client follows next.
func TestPullEmptyPageWithNext(t *testing.T) {
	srv, _ := scriptedServer(t, func(q url.Values, n int) fakePage {
		if q.Get("next") == "" {
			return fakePage{more: true, next: "n1"}
		}
		return fakePage{ids: []int{7}, first: t0, last: t0}
	})
	res, ids, err := pullIDs(t, srv, 10)
	if err != nil || !res.Complete || len(ids) != 1 {
		t.Fatalf("Pull = %+v, %v; ids %v", res, err, ids)
	}
}

// roundTripper answers requests in memory.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func taxiiResponse(r *http.Request, status int, hdr http.Header, body any) *http.Response {
	b, _ := json.Marshal(body)
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Content-Type", MediaType)
	return &http.Response{StatusCode: status, Header: hdr, Body: io.NopCloser(strings.NewReader(string(b))), Request: r}
}

// TestClientKeepsTokenOffPlainHTTP: the Bearer token never travels over
// plain http to a host that is not loopback, whether a discovery answer
// names such an API root or an https server redirects there.
func TestClientKeepsTokenOffPlainHTTP(t *testing.T) {
	var leaked []string
	record := func(r *http.Request) {
		if r.URL.Scheme == "http" && r.Header.Get("Authorization") != "" {
			leaked = append(leaked, r.URL.String())
		}
	}
	hc := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		record(r)
		switch r.URL.String() {
		case "https://partner.example/taxii2/":
			return taxiiResponse(r, 200, nil, Discovery{Title: "p", APIRoots: []string{"http://partner.example/taxii2/api1/"}}), nil
		case "https://moved.example/taxii2/":
			return taxiiResponse(r, http.StatusFound, http.Header{"Location": {"http://moved.example/taxii2/"}}, nil), nil
		}
		return taxiiResponse(r, 200, nil, Discovery{Title: "p"}), nil
	})}
	c := &Client{HTTP: hc, Token: "hgp_secret"}
	if _, _, err := c.FindCollection(context.Background(), "https://partner.example/taxii2/", "indicators"); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("API root over http: err = %v", err)
	}
	if _, err := c.Discover(context.Background(), "https://moved.example/taxii2/"); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("redirect to http: err = %v", err)
	}
	if len(leaked) > 0 {
		t.Errorf("token sent over plain http to %v", leaked)
	}
	// Loopback over http is fine (a local test server, a tunnel).
	loop := &Client{HTTP: &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		return taxiiResponse(r, 200, nil, Discovery{Title: "local"}), nil
	})}, Token: "hgp_secret"}
	for _, u := range []string{"http://127.0.0.1:9/taxii2/", "http://[::1]:9/taxii2/", "http://localhost:9/taxii2/"} {
		if _, err := loop.Discover(context.Background(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// TestFindCollectionBoundsRoots: a discovery answer listing a thousand API
// roots (or the default among them again) costs at most maxAPIRoots
// collection requests, the default first.
func TestFindCollectionBoundsRoots(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaType)
		if r.URL.Path == "/taxii2/" {
			roots := []string{"/r0/"}
			for i := range 1000 {
				roots = append(roots, fmt.Sprintf("/r%d/", i))
			}
			json.NewEncoder(w).Encode(map[string]any{"title": "t", "default": "/r0/", "api_roots": roots})
			return
		}
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, `{"collections":[]}`)
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client()}
	if _, _, err := c.FindCollection(context.Background(), srv.URL+"/taxii2/", "indicators"); err == nil {
		t.Fatal("found a collection no root has")
	}
	if len(asked) != maxAPIRoots || asked[0] != "/r0/collections/" || asked[1] != "/r1/collections/" {
		t.Errorf("asked %d roots (%v…), want %d, the default first and once", len(asked), asked[:min(3, len(asked))], maxAPIRoots)
	}
}
