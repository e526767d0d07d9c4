package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/store"
)

// intelRoutes registers the agent-facing protective feed. Indicator
// management is done with `healthgate intel` on the store for now; the
// admin HTTP API waits for API-key scopes (see docs/INTEL.md).
func (s *Server) intelRoutes(r chi.Router) {
	s.feed = &feedCache{store: s.store}
	r.Get("/v1/feed", s.wrap(s.handleFeed))
	r.Post("/v1/feed/full-hashes", s.wrap(s.handleFullHashes))
}

// fullHashCacheSeconds is how long an agent may keep a full-hash answer.
const fullHashCacheSeconds = 300

// feedCache keeps the feed at the newest version built: the entry set, its
// checksum and the encoded snapshot, so that a million agents asking for
// the same version cost one build. A new version is built from the
// previous one and the delta between them; only the first build (or a
// delta bigger than a quarter of the feed) reads every entry.
type feedCache struct {
	store store.Store
	mu    sync.Mutex
	cur   *feedVersion
}

type feedVersion struct {
	version  int64
	set      *intel.Set
	checksum string

	bodyOnce sync.Once
	body     []byte // encoded snapshot
	bodyErr  error

	// deltas caches encoded deltas to this version by the version they
	// start from: agents move in step, so most ask for the same few.
	deltaMu sync.Mutex
	deltas  map[int64][]byte
}

// maxCachedDeltas bounds the deltas kept per feed version.
const maxCachedDeltas = 64

func (f *feedVersion) cachedDelta(since int64) []byte {
	f.deltaMu.Lock()
	defer f.deltaMu.Unlock()
	return f.deltas[since]
}

func (f *feedVersion) cacheDelta(since int64, body []byte) {
	f.deltaMu.Lock()
	defer f.deltaMu.Unlock()
	if f.deltas == nil || len(f.deltas) >= maxCachedDeltas {
		f.deltas = map[int64][]byte{}
	}
	f.deltas[since] = body
}

// current returns the feed at the store's current version, building it if
// the cached one is older.
func (c *feedCache) current(ctx context.Context) (*feedVersion, error) {
	v, err := c.store.FeedVersion(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.version >= v {
		return c.cur, nil
	}
	if c.cur != nil {
		// Move the cached set forward by the delta since its version:
		// far cheaper than reading every entry again (docs/BENCHMARKS.md).
		next, err := c.advance(ctx, c.cur)
		if err != nil {
			return nil, err
		}
		if next != nil {
			c.cur = next
			return next, nil
		}
	}
	var add intel.Entries
	version, err := c.store.FeedSnapshot(ctx, func(kind, value string) error {
		return add.Add(intel.Entry{Kind: intel.Kind(kind), Value: value})
	})
	if err != nil {
		return nil, err
	}
	set := &intel.Set{}
	if err := set.Apply(intel.Entries{}, add); err != nil {
		return nil, err
	}
	c.cur = &feedVersion{version: version, set: set, checksum: set.Checksum()}
	return c.cur, nil
}

// advance applies the store's delta since cur to a copy of cur's set. It
// returns nil when the delta is too large to be worth it.
func (c *feedCache) advance(ctx context.Context, cur *feedVersion) (*feedVersion, error) {
	d, truncated, err := c.store.FeedDelta(ctx, cur.version, max(cur.set.Len()/4, 10_000))
	if err != nil || truncated {
		return nil, err
	}
	var add, remove intel.Entries
	for _, e := range d.Add {
		if err := add.Add(intel.Entry{Kind: intel.Kind(e.Kind), Value: e.Value}); err != nil {
			return nil, err
		}
	}
	for _, e := range d.Remove {
		if err := remove.Add(intel.Entry{Kind: intel.Kind(e.Kind), Value: e.Value}); err != nil {
			return nil, err
		}
	}
	next := *cur.set
	if err := next.Apply(remove, add); err != nil {
		return nil, err
	}
	return &feedVersion{version: d.Version, set: &next, checksum: next.Checksum()}, nil
}

func (f *feedVersion) snapshotBody() ([]byte, error) {
	f.bodyOnce.Do(func() {
		f.body, f.bodyErr = json.Marshal(intel.Feed{Version: f.version, Snapshot: true, Checksum: f.checksum, Add: f.set.Entries()})
		f.body = append(f.body, '\n')
	})
	return f.body, f.bodyErr
}

func feedETag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) error {
	var since int64
	if raw := r.URL.Query().Get("since"); raw != "" {
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < 0 || strings.TrimLeft(raw, "0123456789") != "" {
			return errorf(http.StatusBadRequest, "bad_feed_version", "since must be a feed version: a whole number of 0 or more")
		}
		since = v
	}
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		cur, err := s.feed.current(ctx)
		if err != nil {
			return err
		}
		if since > cur.version {
			return errorf(http.StatusBadRequest, "feed_version_ahead", "version %d is newer than the feed (version %d): ask for a snapshot with since=0", since, cur.version)
		}
		etag := feedETag(cur.version)
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
			w.Header().Set("ETag", etag)
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		if since == 0 {
			return s.writeFeedSnapshot(w, cur)
		}
		if body := cur.cachedDelta(since); body != nil {
			return writeFeed(w, etag, body)
		}
		// A delta bigger than half the snapshot costs the agent more to
		// apply than the snapshot costs to send: send the snapshot.
		limit := max(cur.set.Len()/2, 1000)
		d, truncated, err := s.store.FeedDelta(ctx, since, limit)
		if err != nil {
			return err
		}
		if truncated {
			// Remember the choice like a delta (the same bytes, no copy):
			// agents far behind ask in step too.
			b, err := cur.snapshotBody()
			if err != nil {
				return err
			}
			cur.cacheDelta(since, b)
			return writeFeed(w, etag, b)
		}
		if d.Version != cur.version {
			// The feed moved between the two reads; try again at the new
			// version.
			if attempt < 3 {
				continue
			}
			return errorf(http.StatusServiceUnavailable, "feed_busy", "the feed is changing quickly: try again in a minute")
		}
		feed := intel.Feed{Version: d.Version, Since: since, Checksum: cur.checksum}
		for _, e := range d.Add {
			if err := feed.Add.Add(intel.Entry{Kind: intel.Kind(e.Kind), Value: e.Value}); err != nil {
				return err
			}
		}
		for _, e := range d.Remove {
			if err := feed.Remove.Add(intel.Entry{Kind: intel.Kind(e.Kind), Value: e.Value}); err != nil {
				return err
			}
		}
		b, err := json.Marshal(feed)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		cur.cacheDelta(since, b)
		return writeFeed(w, etag, b)
	}
}

func (s *Server) writeFeedSnapshot(w http.ResponseWriter, cur *feedVersion) error {
	b, err := cur.snapshotBody()
	if err != nil {
		return err
	}
	return writeFeed(w, feedETag(cur.version), b)
}

func writeFeed(w http.ResponseWriter, etag string, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// 13.1.2) for one ETag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (s *Server) handleFullHashes(w http.ResponseWriter, r *http.Request) error {
	var req intel.FullHashRequest
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	switch n := len(req.Prefixes); {
	case n == 0:
		return errorf(http.StatusBadRequest, "bad_prefixes", "prefixes must list at least one hash prefix")
	case n > intel.MaxFullHashPrefixes:
		return errorf(http.StatusBadRequest, "too_many_prefixes", "at most %d prefixes per request, not %d", intel.MaxFullHashPrefixes, n)
	}
	prefixes := make([]string, 0, len(req.Prefixes))
	for i, p := range req.Prefixes {
		p = strings.ToLower(p)
		if _, err := intel.ParsePrefix(p); err != nil {
			return errorf(http.StatusBadRequest, "bad_prefix", "prefixes[%d] must be 8 hex digits (a 4-byte SHA-256 prefix)", i)
		}
		prefixes = append(prefixes, p)
	}
	slices.Sort(prefixes)
	prefixes = slices.Compact(prefixes)
	got, err := s.store.FullHashes(r.Context(), prefixes)
	if err != nil {
		return err
	}
	resp := intel.FullHashResponse{Matches: []intel.FullHashMatch{}, CacheSeconds: fullHashCacheSeconds}
	for _, p := range prefixes {
		if hs := got[p]; len(hs) > 0 {
			resp.Matches = append(resp.Matches, intel.FullHashMatch{Prefix: p, FullHashes: hs})
		}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// maintainIntel expires indicators whose lifetime ended, which takes them
// off the feed.
func (s *Server) maintainIntel(ctx context.Context) {
	n, err := s.store.ExpireIndicators(ctx, store.Change{Actor: "system", Reason: "lifetime ended without a new sighting", At: s.opts.Now().UTC()})
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		s.log.Warn("expiring indicators", slog.Any("err", err))
	case n > 0:
		s.log.Info("indicators expired", slog.Int64("count", n))
	}
}
