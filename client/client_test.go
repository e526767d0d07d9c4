package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/healthgate/healthgate/client"
)

func timeNow() time.Time { return time.Now() }

func TestNewRejectsCleartext(t *testing.T) {
	if _, err := client.New("http://example.com", "k"); err == nil {
		t.Error("http to a remote host accepted")
	}
	if _, err := client.New("https://example.com", ""); err == nil {
		t.Error("empty key accepted")
	}
}

func TestTypedErrors(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   error
	}{{401, client.ErrUnauthorized}, {403, client.ErrForbidden}, {404, client.ErrNotFound}, {400, client.ErrBadRequest}, {413, client.ErrBadRequest}, {503, client.ErrUnavailable}} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			w.Write([]byte(`{"error":{"code":"x","message":"y"}}`))
		}))
		c, _ := client.New(hs.URL, "k")
		_, err := c.Decide(context.Background(), client.Transaction{})
		var ce *client.Error
		if !errors.Is(err, tt.want) || !errors.As(err, &ce) || ce.Code != "x" {
			t.Errorf("%d: err = %v", tt.status, err)
		}
		hs.Close()
	}
}

func TestNewBaseURL(t *testing.T) {
	for _, tt := range []struct {
		base string
		ok   bool
	}{
		{"https://hg.example", true},
		{"https://hg.example/", true},
		{"https://hg.example/healthgate/", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"http://127.attacker.example", false}, // a DNS name, not a loopback address
		{"http://127.0.0.1.nip.io", false},
		{"http://hg.example", false},
		{"https://hg.example/?tenant=1", false}, // the path would land in the query
		{"https://hg.example/#top", false},
		{"hg.example", false},
	} {
		_, err := client.New(tt.base, "hgk_k")
		if got := err == nil; got != tt.ok {
			t.Errorf("New(%q): err = %v, want ok %v", tt.base, err, tt.ok)
		}
	}
}

func TestNewRejectsKeyWithWhiteSpace(t *testing.T) {
	for _, key := range []string{"hgk_abc\n", " hgk_abc", "hgk_a bc", "hgk_\x00"} {
		_, err := client.New("https://hg.example", key)
		if err == nil {
			t.Errorf("New accepted key %q", key)
			continue
		}
		if strings.Contains(err.Error(), strings.TrimSpace(key)) {
			t.Errorf("the error %q shows the key", err)
		}
	}
}

func TestBaseURLPathJoined(t *testing.T) {
	var got string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		w.Write([]byte(`{"decision_id":"d1","outcome":"allow"}`))
	}))
	defer hs.Close()
	c, err := client.New(hs.URL+"/hg/", "hgk_k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decide(context.Background(), client.Transaction{}); err != nil {
		t.Fatal(err)
	}
	if got != "/hg/v1/decisions" {
		t.Errorf("path = %q, want /hg/v1/decisions", got)
	}
}

// An answer without a known outcome is an error, never a decision a
// caller could read as "no objection".
func TestDecisionWithoutOutcomeIsAnError(t *testing.T) {
	for _, body := range []string{`{}`, `{"decision_id":"d1","outcome":""}`, `{"decision_id":"d1","outcome":"ALLOW"}`, `null`} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		}))
		c, _ := client.New(hs.URL, "hgk_k")
		d, err := c.Decide(context.Background(), client.Transaction{})
		if err == nil {
			t.Errorf("%s: decision %+v, want an error", body, d)
		}
		d, err = c.Decision(context.Background(), "d1")
		if err == nil {
			t.Errorf("%s: Decision gave %+v, want an error", body, d)
		}
		hs.Close()
	}
}

func TestAnswerTooLarge(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"decision_id":"d1","outcome":"allow","signals":"`))
		w.Write(bytes.Repeat([]byte("a"), 2<<20))
		w.Write([]byte(`"}`))
	}))
	defer hs.Close()
	c, _ := client.New(hs.URL, "hgk_k")
	_, err := c.Decide(context.Background(), client.Transaction{})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want one that says the answer is too large", err)
	}
}

// The key goes to the configured server only: a redirect (which could
// take it to plain http or elsewhere) is not followed.
func TestRedirectNotFollowed(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		w.Write([]byte(`{"decision_id":"d1","outcome":"allow"}`))
	}))
	defer other.Close()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer hs.Close()
	c, _ := client.New(hs.URL, "hgk_secret")
	_, err := c.Decide(context.Background(), client.Transaction{})
	if err == nil {
		t.Error("a redirected decision was accepted")
	}
	if leaked.Load() {
		t.Error("the API key followed the redirect")
	}
}

func TestErrorsNeverShowTheKey(t *testing.T) {
	const key = "hgk_0123456789abcdef_" + "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthorized","message":"unknown key"}}`))
	}))
	c, _ := client.New(hs.URL, key)
	_, err401 := c.Decide(context.Background(), client.Transaction{})
	hs.Close()
	_, errDown := c.Decide(context.Background(), client.Transaction{})
	for _, err := range []error{err401, errDown} {
		if err == nil || strings.Contains(err.Error(), "feedface") {
			t.Errorf("err = %v", err)
		}
	}
}

func TestContextEndsACall(t *testing.T) {
	stop := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hs.Close()
	defer close(stop)
	c, _ := client.New(hs.URL, "hgk_k")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Decide(ctx, client.Transaction{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func TestErrorWithoutJSONBody(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer hs.Close()
	c, _ := client.New(hs.URL, "hgk_k")
	err := c.Feedback(context.Background(), "d1", "fraud")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 502 || ce.Code != "http_error" || !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("err = %#v", err)
	}
}
