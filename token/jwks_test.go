package token_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/internal/issuer"
	"github.com/healthgate/healthgate/token"
)

func TestParseJWKS(t *testing.T) {
	a, b := newTestKey(1), newTestKey(2)
	rsa := `{"kty":"RSA","kid":"r1","n":"AQAB","e":"AQAB"}`
	tests := []struct {
		name    string
		jwks    string
		wantIDs string // comma separated; empty with wantErr
		wantErr string
	}{
		{name: "two keys", jwks: `{"keys":[` + a.jwk() + `,` + b.jwk() + `]}`, wantIDs: strings.Join(sorted(a.kid, b.kid), ",")},
		{name: "other key types skipped", jwks: `{"keys":[` + rsa + `,` + a.jwk() + `]}`, wantIDs: a.kid},
		{name: "encryption key skipped", jwks: `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","kid":"e","x":"` + b64.EncodeToString(a.pub()) + `"},` + b.jwk() + `]}`, wantIDs: b.kid},
		{name: "key without kid skipped", jwks: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(a.pub()) + `"},` + b.jwk() + `]}`, wantIDs: b.kid},
		{name: "only other key types", jwks: `{"keys":[` + rsa + `]}`, wantErr: "no Ed25519 signing key"},
		{name: "empty set", jwks: `{"keys":[]}`, wantErr: "no Ed25519 signing key"},
		{name: "no keys member", jwks: `{}`, wantErr: `no "keys" member`},
		{name: "not JSON", jwks: `keys`, wantErr: "parsing jwks"},
		{name: "private key", jwks: `{"keys":[` + strings.TrimSuffix(a.jwk(), "}") + `,"d":"` + b64.EncodeToString(a.priv.Seed()) + `"}]}`, wantErr: "private key"},
		{name: "duplicate kid", jwks: `{"keys":[` + a.jwk() + `,` + a.jwk() + `]}`, wantErr: "two keys with kid"},
		{name: "short x", jwks: `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`, wantErr: "not a base64url Ed25519 public key"},
		{name: "too many keys", jwks: `{"keys":[` + strings.Repeat(rsa+",", token.MaxJWKSKeys) + a.jwk() + `]}`, wantErr: "more than"},
		{name: "too large", jwks: `{"keys":[` + a.jwk() + `],"pad":"` + strings.Repeat("x", token.MaxJWKSSize) + `"}`, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := token.ParseJWKS([]byte(tt.jwks))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseJWKS error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(s.KeyIDs(), ","), tt.wantIDs; got != want {
				t.Errorf("kids = %s, want %s", got, want)
			}
		})
	}
}

func sorted(s ...string) []string {
	if s[0] > s[1] {
		s[0], s[1] = s[1], s[0]
	}
	return s
}

// jwksServer serves an issuer's current JWKS and counts the fetches.
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int32
	jwks    atomic.Value // func() []byte
	headers atomic.Value // http.Header
	status  atomic.Int32
}

func newJWKSServer(t *testing.T, jwks func() []byte) *jwksServer {
	s := &jwksServer{}
	s.jwks.Store(jwks)
	s.headers.Store(http.Header{})
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		for k, v := range s.headers.Load().(http.Header) {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if code := int(s.status.Load()); code != http.StatusOK {
			http.Error(w, "down", code)
			return
		}
		w.Write(s.jwks.Load().(func() []byte)())
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRemoteJWKSRotation: a certificate under a new kid triggers exactly one
// refresh and then verifies; certificates of the retired key still verify
// from the cache; unknown kids are refetched at most once per MinRefresh.
func TestRemoteJWKSRotation(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: epoch}
	iss := newIssuer(t, clk.Now, 1)
	srv := newJWKSServer(t, iss.JWKS)
	// Cached for an hour, so that the rotation below, whose new key signs
	// only issuer.Prepublish after it is published, finds a fresh cache
	// without the new kid: the case of a key used before relying parties
	// could know it (an emergency rotation, another issuer).
	srv.headers.Store(http.Header{"Cache-Control": {"max-age=3600"}})
	remote := token.NewRemoteJWKS(srv.URL+"/.well-known/jwks.json", token.WithClock(clk.Now))
	verify := func(tok []byte) error {
		_, err := token.Verify(ctx, tok, remote, token.WithNow(clk.Now))
		return err
	}
	stranger := newTestKey(7).sign(t, mustJSON(t, claims()))

	oldTok, _, err := iss.Issue(request)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		do       func() error
		want     error
		wantHits int32
	}{
		{name: "first use fetches", do: func() error { return verify(oldTok) }, wantHits: 1},
		{name: "cached", do: func() error { return verify(oldTok) }, wantHits: 1},
		{name: "rotate", do: func() error {
			clk.Advance(token.DefaultMinRefresh)
			if err := iss.Rotate(ctx); err != nil {
				return err
			}
			clk.Advance(issuer.Prepublish) // the new key signs from now
			return nil
		}, wantHits: 1},
		{name: "new kid refreshes once", do: func() error {
			newTok, _, err := iss.Issue(request)
			if err != nil {
				return err
			}
			if err := verify(newTok); err != nil {
				return err
			}
			return verify(newTok)
		}, wantHits: 2},
		{name: "old certificate still verifies", do: func() error { return verify(oldTok) }, wantHits: 2},
		{name: "unknown kid rate-limited", do: func() error { return verify(stranger) }, want: token.ErrUnknownKey, wantHits: 2},
		{name: "unknown kid again rate-limited", do: func() error {
			clk.Advance(token.DefaultMinRefresh - time.Second)
			return verify(stranger)
		}, want: token.ErrUnknownKey, wantHits: 2},
		{name: "unknown kid refetched after MinRefresh", do: func() error {
			clk.Advance(time.Second)
			return verify(stranger)
		}, want: token.ErrUnknownKey, wantHits: 3},
		{name: "known kids unaffected", do: func() error { return verify(oldTok) }, wantHits: 3},
		{name: "expired cache refetched", do: func() error {
			clk.Advance(token.MaxCacheAge)
			return verify(oldTok)
		}, wantHits: 4},
	}
	for _, st := range steps {
		err := st.do()
		if !errors.Is(err, st.want) {
			t.Fatalf("%s: error = %v, want %v", st.name, err, st.want)
		}
		if got, want := srv.hits.Load(), st.wantHits; got != want {
			t.Fatalf("%s: JWKS fetched %d times, want %d", st.name, got, want)
		}
	}
}

func TestRemoteJWKSFailures(t *testing.T) {
	ctx := context.Background()
	k := newTestKey(1)
	tok := k.sign(t, mustJSON(t, claims()))
	good := func() []byte { return []byte(`{"keys":[` + k.jwk() + `]}`) }

	t.Run("server error fails closed and is retried after MinRefresh", func(t *testing.T) {
		clk := &clock{t: epoch}
		srv := newJWKSServer(t, good)
		srv.status.Store(http.StatusInternalServerError)
		remote := token.NewRemoteJWKS(srv.URL, token.WithClock(clk.Now))
		for i, want := range []int32{1, 1} {
			if _, err := token.Verify(ctx, tok, remote, token.WithNow(clk.Now)); err == nil || !strings.Contains(err.Error(), "500") {
				t.Fatalf("attempt %d: error = %v, want the server's 500", i, err)
			}
			if got := srv.hits.Load(); got != want {
				t.Fatalf("attempt %d: %d fetches, want %d", i, got, want)
			}
		}
		srv.status.Store(http.StatusOK)
		clk.Advance(token.DefaultMinRefresh)
		if _, err := token.Verify(ctx, tok, remote, token.WithNow(clk.Now)); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
	t.Run("expired cache is not used when the refetch fails", func(t *testing.T) {
		clk := &clock{t: epoch}
		srv := newJWKSServer(t, good)
		remote := token.NewRemoteJWKS(srv.URL, token.WithClock(clk.Now))
		if _, err := token.Verify(ctx, tok, remote, token.WithNow(clk.Now)); err != nil {
			t.Fatal(err)
		}
		srv.status.Store(http.StatusServiceUnavailable)
		clk.Advance(token.DefaultCacheAge)
		if _, err := token.Verify(ctx, tok, remote, token.WithNow(clk.Now)); err == nil {
			t.Fatal("Verify succeeded with an expired JWKS cache")
		}
	})
	t.Run("cache-control max-age is honoured within bounds", func(t *testing.T) {
		for _, tt := range []struct {
			cacheControl string
			fresh, stale time.Duration
		}{
			{cacheControl: "public, max-age=600", fresh: 599 * time.Second, stale: 600 * time.Second},
			{cacheControl: "max-age=5", fresh: token.MinCacheAge - time.Second, stale: token.MinCacheAge},
			{cacheControl: "max-age=86400", fresh: token.MaxCacheAge - time.Second, stale: token.MaxCacheAge},
			{cacheControl: "no-store", fresh: token.MinCacheAge - time.Second, stale: token.MinCacheAge},
			{cacheControl: "max-age=abc", fresh: token.DefaultCacheAge - time.Second, stale: token.DefaultCacheAge},
		} {
			t.Run(tt.cacheControl, func(t *testing.T) {
				clk := &clock{t: epoch}
				srv := newJWKSServer(t, good)
				srv.headers.Store(http.Header{"Cache-Control": {tt.cacheControl}})
				remote := token.NewRemoteJWKS(srv.URL, token.WithClock(clk.Now))
				for _, st := range []struct {
					at   time.Duration
					hits int32
				}{{0, 1}, {tt.fresh, 1}, {tt.stale, 2}} {
					clk.t = epoch.Add(st.at)
					if _, err := remote.Key(ctx, k.kid); err != nil {
						t.Fatal(err)
					}
					if got, want := srv.hits.Load(), st.hits; got != want {
						t.Fatalf("at +%v: %d fetches, want %d", st.at, got, want)
					}
				}
			})
		}
	})
	for _, tt := range []struct {
		name    string
		body    func() []byte
		wantErr string
	}{
		{name: "oversized response", body: func() []byte { return []byte(`{"keys":[],"x":"` + strings.Repeat("a", token.MaxJWKSSize) + `"}`) }, wantErr: "larger than"},
		{name: "too many keys", body: func() []byte {
			return []byte(`{"keys":[` + strings.Repeat(`{"kty":"RSA"},`, token.MaxJWKSKeys) + k.jwk() + `]}`)
		}, wantErr: "more than"},
		{name: "not a JWKS", body: func() []byte { return []byte(`<html>`) }, wantErr: "parsing jwks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, tt.body)
			_, err := token.NewRemoteJWKS(srv.URL).Key(ctx, k.kid)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Key error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("plain http only to loopback", func(t *testing.T) {
		for _, tt := range []struct{ url, wantErr string }{
			{url: "http://jwks.example/.well-known/jwks.json", wantErr: "use https"},
			{url: "ftp://127.0.0.1/jwks.json", wantErr: "scheme must be https"},
		} {
			_, err := token.NewRemoteJWKS(tt.url).Key(ctx, k.kid)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error = %v, want one containing %q", tt.url, err, tt.wantErr)
			}
		}
	})
	t.Run("https with a custom client", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good()) }))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
		srv.StartTLS()
		defer srv.Close()
		if _, err := token.NewRemoteJWKS(srv.URL).Key(ctx, k.kid); err == nil {
			t.Error("default client trusted the test server's certificate")
		}
		if _, err := token.NewRemoteJWKS(srv.URL, token.WithHTTPClient(srv.Client())).Key(ctx, k.kid); err != nil {
			t.Errorf("Key with the test server's client: %v", err)
		}
	})
	t.Run("fetch timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		start := time.Now()
		_, err := token.NewRemoteJWKS(srv.URL, token.WithFetchTimeout(100*time.Millisecond)).Key(ctx, k.kid)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Key error = %v, want a deadline", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Key took %v despite a 100ms timeout", d)
		}
	})
}

// TestRemoteJWKSConcurrent checks that concurrent first uses share one fetch.
func TestRemoteJWKSConcurrent(t *testing.T) {
	k := newTestKey(1)
	srv := newJWKSServer(t, func() []byte { return []byte(`{"keys":[` + k.jwk() + `]}`) })
	remote := token.NewRemoteJWKS(srv.URL)
	tok := k.sign(t, mustJSON(t, claims()))
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			_, err := token.Verify(context.Background(), tok, remote, token.WithNow(func() time.Time { return epoch }))
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got, want := srv.hits.Load(), int32(1); got != want {
		t.Errorf("%d fetches, want %d", got, want)
	}
}

func ExampleNewRemoteJWKS() {
	// A relying party keeps one RemoteJWKS for the life of the process.
	keys := token.NewRemoteJWKS("https://healthgate.example/.well-known/jwks.json")
	tok := []byte("eyJhbGciOiJub25lIn0.e30.") // what the device presented
	if _, err := token.Verify(context.Background(), tok, keys); err != nil {
		fmt.Println("refused:", errors.Is(err, token.ErrAlgorithm))
	}
	// Output: refused: true
}

// TestRemoteJWKSRedirectToHTTP: an https JWKS URL that redirects to plain
// http elsewhere than loopback is refused before anything is fetched
// there: keys from an unauthenticated connection would let anyone on the
// path mint certificates.
func TestRemoteJWKSRedirectToHTTP(t *testing.T) {
	var redirected atomic.Int32
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, "http://203.0.113.7/.well-known/jwks.json", http.StatusFound)
	}))
	defer ts.Close()
	src := token.NewRemoteJWKS(ts.URL+"/.well-known/jwks.json", token.WithHTTPClient(ts.Client()), token.WithFetchTimeout(2*time.Second))
	_, err := src.Key(context.Background(), "k1")
	if err == nil || !strings.Contains(err.Error(), "http is allowed only to loopback") {
		t.Errorf("Key = %v, want the redirect to plain http refused", err)
	}
	if redirected.Load() != 1 {
		t.Errorf("%d requests to the https server, want 1", redirected.Load())
	}
}
