package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/intel"
)

// feedFile holds the protective feed in the state directory, as a snapshot
// in the wire format.
const feedFile = "feed.json"

// Feed schedule and limits.
const (
	// FeedInterval is how often the feed is fetched when all is well.
	FeedInterval = 30 * time.Minute
	// FeedJitter spreads fetches by ±10% so a fleet does not ask at once.
	FeedJitter = 0.10
	// FeedMinBackoff and FeedMaxBackoff bound the retry delay after
	// failures.
	FeedMinBackoff = time.Minute
	FeedMaxBackoff = 2 * time.Hour
	// DefaultFeedMaxBytes bounds one feed answer: a snapshot of 20 million
	// prefixes is 107 MB of base64.
	DefaultFeedMaxBytes = 256 << 20
	// maxFullHashCache bounds the full-hash answers kept in memory.
	maxFullHashCache = 4096
	// maxFullHashTTL bounds how long a full-hash answer is kept.
	maxFullHashTTL = time.Hour
)

// FeedSyncDelay says how long to wait before the next feed fetch: after a
// success (failures 0) FeedInterval ±10%; after n failures in a row
// FeedMinBackoff doubled n-1 times, capped at FeedMaxBackoff, with "equal
// jitter" (between half and all of it). u is uniform in [0, 1). It is pure,
// for the daemon loop to call.
func FeedSyncDelay(failures int, u float64) time.Duration {
	u = min(max(u, 0), 1)
	if failures <= 0 {
		return time.Duration(float64(FeedInterval) * (1 - FeedJitter + 2*FeedJitter*u))
	}
	ceiling := FeedMaxBackoff
	if failures < 20 {
		ceiling = min(FeedMinBackoff<<(failures-1), FeedMaxBackoff)
	}
	return ceiling/2 + time.Duration(float64(ceiling/2)*u)
}

// FeedConfig configures a FeedSync.
type FeedConfig struct {
	Server   string // base URL of the health service
	StateDir string
	Version  string
	Client   *http.Client
	Logger   *slog.Logger
	Now      func() time.Time
	// MaxBytes bounds one feed answer (default DefaultFeedMaxBytes).
	MaxBytes int64
}

// FeedSync keeps the protective feed: it fetches snapshots and deltas,
// checks each against the server's checksum, keeps the feed in the state
// directory, and matches the device's facts and URLs against it. Lookups
// are binary searches over sorted arrays: 10 million URL prefixes take
// 40 MB.
type FeedSync struct {
	cfg  FeedConfig
	base *url.URL

	mu       sync.RWMutex
	set      *intel.Set
	version  int64
	checksum string

	cacheMu sync.Mutex
	cache   map[string]fullHashEntry
}

type fullHashEntry struct {
	hashes []string
	until  time.Time
}

// ErrFeedChecksum means the feed after an update does not match the
// server's checksum; the update was not applied.
var ErrFeedChecksum = errors.New("feed checksum does not match")

// errFeedWrongBase means the server answered a delta from another version
// than the one asked for; the delta was not applied.
var errFeedWrongBase = errors.New("feed delta is from another version")

// NewFeedSync loads the feed kept in the state directory, if any and
// intact, and returns a FeedSync ready to update it.
func NewFeedSync(cfg FeedConfig) (*FeedSync, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must be http(s)://host[:port]", cfg.Server)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("state directory is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultFeedMaxBytes
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	f := &FeedSync{cfg: cfg, base: u, set: &intel.Set{}, cache: map[string]fullHashEntry{}}
	if err := f.load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		// A damaged feed file costs one snapshot download, nothing more.
		cfg.Logger.Warn("ignoring the stored feed", slog.Any("err", err))
	}
	return f, nil
}

func (f *FeedSync) load() error {
	b, err := os.ReadFile(filepath.Join(f.cfg.StateDir, feedFile))
	if err != nil {
		return err
	}
	var feed intel.Feed
	if err := json.Unmarshal(b, &feed); err != nil {
		return err
	}
	set := &intel.Set{}
	if err := set.Apply(intel.Entries{}, feed.Add); err != nil {
		return err
	}
	if set.Checksum() != feed.Checksum {
		return ErrFeedChecksum
	}
	f.set, f.version, f.checksum = set, feed.Version, feed.Checksum
	return nil
}

// Version returns the feed version held (0: none yet).
func (f *FeedSync) Version() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.version
}

// Len returns the number of entries held.
func (f *FeedSync) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.set.Len()
}

// Sync fetches what changed since the version held and applies it. It
// reports whether the feed changed. A checksum mismatch, a delta from
// another version or a server that no longer knows our version makes it
// start over from a snapshot, once.
func (f *FeedSync) Sync(ctx context.Context) (bool, error) {
	changed, err := f.sync(ctx, f.Version())
	var apiErr *APIError
	if errors.Is(err, ErrFeedChecksum) || errors.Is(err, errFeedWrongBase) || errors.As(err, &apiErr) && apiErr.Code == "feed_version_ahead" {
		f.cfg.Logger.Warn("feed out of step with the server: fetching a snapshot", slog.Any("err", err))
		return f.sync(ctx, 0)
	}
	return changed, err
}

func (f *FeedSync) sync(ctx context.Context, since int64) (bool, error) {
	u := f.base.JoinPath("/v1/feed")
	u.RawQuery = "since=" + strconv.FormatInt(since, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("User-Agent", SWName+"/"+f.cfg.Version)
	if since > 0 {
		req.Header.Set("If-None-Match", `"v`+strconv.FormatInt(since, 10)+`"`)
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("fetching the feed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return false, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return false, fmt.Errorf("fetching the feed: %w", err)
	}
	if int64(len(raw)) > f.cfg.MaxBytes {
		return false, fmt.Errorf("feed answer is larger than %d bytes", f.cfg.MaxBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return false, apiError(resp.StatusCode, raw)
	}
	var feed intel.Feed
	if err := json.Unmarshal(raw, &feed); err != nil {
		return false, fmt.Errorf("feed answer is not the expected JSON: %w", err)
	}
	f.mu.RLock()
	next := *f.set
	f.mu.RUnlock()
	switch {
	case feed.Snapshot:
		next = intel.Set{}
		if feed.Remove.Len() > 0 {
			return false, errors.New("feed snapshot removes entries")
		}
	case feed.Since != since:
		return false, fmt.Errorf("%w: since version %d, we asked since %d", errFeedWrongBase, feed.Since, since)
	}
	if err := next.Apply(feed.Remove, feed.Add); err != nil {
		return false, fmt.Errorf("applying the feed: %w", err)
	}
	if next.Checksum() != feed.Checksum {
		return false, ErrFeedChecksum
	}
	if err := f.persist(&next, feed.Version, feed.Checksum); err != nil {
		return false, err
	}
	f.mu.Lock()
	f.set, f.version, f.checksum = &next, feed.Version, feed.Checksum
	f.mu.Unlock()
	f.cfg.Logger.Info("feed updated", slog.Int64("version", feed.Version), slog.Bool("snapshot", feed.Snapshot),
		slog.Int("added", feed.Add.Len()), slog.Int("removed", feed.Remove.Len()), slog.Int("entries", next.Len()))
	return true, nil
}

func (f *FeedSync) persist(set *intel.Set, version int64, checksum string) error {
	b, err := json.Marshal(intel.Feed{Version: version, Snapshot: true, Checksum: checksum, Add: set.Entries()})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(f.cfg.StateDir, feedFile), b, 0o600)
}

// apiError is the error of a server answer with a status that is not
// success. Its message is bounded: it is logged with every retry.
func apiError(status int, raw []byte) *APIError {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
		return &APIError{Status: status, Code: "http_error", Message: clipMessage(string(bytes.TrimSpace(raw)))}
	}
	return &APIError{Status: status, Code: clipMessage(e.Error.Code), Message: clipMessage(e.Error.Message)}
}

// clipMessage cuts a server's message to 512 bytes of valid UTF-8.
func clipMessage(s string) string {
	if len(s) <= 512 {
		return s
	}
	return strings.ToValidUTF8(s[:512], "") + "…"
}

// Check matches the device's facts against the feed and returns findings
// with the codes the health policy knows: malware (a running program's
// hash), remote_control (a running tool), hosts_hijack (a hosts entry
// pointing at a listed address), rogue_dns (a listed DNS server),
// rogue_proxy (a proxy on a listed address) and rogue_ca (a listed root
// certificate added to the trust store). Subjects
// are the hash, tool, host name, server address or fingerprint.
func (f *FeedSync) Check(facts evidence.Facts) []evidence.Finding {
	f.mu.RLock()
	set := f.set
	f.mu.RUnlock()
	var out []evidence.Finding
	seen := map[evidence.Finding]bool{}
	add := func(code, subject string) {
		fd := evidence.Finding{Code: code, Subject: subject}
		if !seen[fd] {
			seen[fd] = true
			out = append(out, fd)
		}
	}
	if p := facts.Processes; p != nil {
		for _, r := range p.Running {
			if r.SHA256 != "" && set.HasSHA256(r.SHA256) {
				add("malware", r.SHA256)
			}
			if tool, ok := set.MatchTool(r.Name); ok {
				add("remote_control", tool)
			}
		}
	}
	if h := facts.Hosts; h != nil {
		for _, e := range h.Entries {
			if set.MatchIP(e.IP) {
				add("hosts_hijack", e.Host)
			}
		}
	}
	if d := facts.DNS; d != nil {
		for _, s := range d.Servers {
			if set.MatchIP(s) {
				add("rogue_dns", s)
			}
		}
	}
	if p := facts.Proxy; p != nil {
		// A proxy on a listed address reads everything the browser sends.
		for _, u := range []string{p.HTTP, p.HTTPS, p.PACURL} {
			if host := proxyHost(u); host != "" && set.MatchIP(host) {
				add("rogue_proxy", host)
			}
		}
	}
	if t := facts.TrustStore; t != nil {
		for _, c := range t.Added {
			if set.HasCert(c.SHA256) {
				add("rogue_ca", c.SHA256)
			}
		}
	}
	return out
}

// proxyHost returns the host of a proxy setting ("http://h:p", "h:p").
func proxyHost(v string) string {
	if v == "" {
		return ""
	}
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// URLVerdict is the answer of CheckURL.
type URLVerdict struct {
	Listed bool
	// Expression is the listed host/path expression the URL matched.
	Expression string
}

// CheckURL says whether a URL is listed. Its expressions are looked up in
// the local prefix set; only when a prefix hits does it ask the server for
// the full hashes under the hitting prefixes (never the URL), and the URL
// is listed when one of its expressions' full hashes is among them.
func (f *FeedSync) CheckURL(ctx context.Context, rawURL string) (URLVerdict, error) {
	exprs, err := intel.Expressions(rawURL)
	if err != nil {
		return URLVerdict{}, err
	}
	f.mu.RLock()
	set := f.set
	f.mu.RUnlock()
	hits := map[string][]string{} // prefix -> expressions
	var prefixes []string
	for _, e := range exprs {
		p := intel.FormatPrefix(intel.HashPrefix(e))
		if !set.HasPrefix(intel.HashPrefix(e)) {
			continue
		}
		if _, dup := hits[p]; !dup {
			prefixes = append(prefixes, p)
		}
		hits[p] = append(hits[p], e)
	}
	if len(prefixes) == 0 {
		return URLVerdict{}, nil
	}
	full, err := f.fullHashes(ctx, prefixes)
	if err != nil {
		return URLVerdict{}, err
	}
	for _, p := range prefixes {
		for _, e := range hits[p] {
			h := intel.FullHash(e)
			want := fmt.Sprintf("%x", h[:])
			for _, got := range full[p] {
				if got == want {
					return URLVerdict{Listed: true, Expression: e}, nil
				}
			}
		}
	}
	return URLVerdict{}, nil
}

// fullHashes returns the full hashes under each prefix, from the cache
// when the server's answer is still fresh.
func (f *FeedSync) fullHashes(ctx context.Context, prefixes []string) (map[string][]string, error) {
	now := f.cfg.Now()
	out := map[string][]string{}
	var ask []string
	f.cacheMu.Lock()
	for _, p := range prefixes {
		// An entry due more than maxFullHashTTL from now was cached
		// before the clock was set back: it is stale.
		if e, ok := f.cache[p]; ok && now.Before(e.until) && e.until.Sub(now) <= maxFullHashTTL {
			out[p] = e.hashes
		} else {
			ask = append(ask, p)
		}
	}
	f.cacheMu.Unlock()
	if len(ask) == 0 {
		return out, nil
	}
	if len(ask) > intel.MaxFullHashPrefixes {
		ask = ask[:intel.MaxFullHashPrefixes]
	}
	body, _ := json.Marshal(intel.FullHashRequest{Prefixes: ask})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base.JoinPath("/v1/feed/full-hashes").String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", SWName+"/"+f.cfg.Version)
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking for full hashes: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp.StatusCode, raw)
	}
	var fh intel.FullHashResponse
	if err := json.Unmarshal(raw, &fh); err != nil {
		return nil, fmt.Errorf("full-hash answer is not the expected JSON: %w", err)
	}
	ttl := time.Duration(min(max(fh.CacheSeconds, 0), int(maxFullHashTTL/time.Second))) * time.Second
	got := map[string][]string{}
	for _, m := range fh.Matches {
		got[m.Prefix] = m.FullHashes
	}
	f.cacheMu.Lock()
	defer f.cacheMu.Unlock()
	if len(f.cache)+len(ask) > maxFullHashCache {
		clear(f.cache)
	}
	for _, p := range ask {
		out[p] = got[p]
		if ttl > 0 {
			f.cache[p] = fullHashEntry{hashes: got[p], until: now.Add(ttl)}
		}
	}
	return out, nil
}
