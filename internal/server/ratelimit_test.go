package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEnrolmentRateLimit: one network enrols at most a burst at once and
// then a steady rate, with 429 and Retry-After past it; another network
// and loopback are not held back. (A malformed body spends a token too:
// the limit comes before any work.)
func TestEnrolmentRateLimit(t *testing.T) {
	e := newEnv(t)
	enrol := func(remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/enroll", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	for i := range 600 {
		if rec := enrol("203.0.113.5:40000"); rec.Code == http.StatusTooManyRequests {
			t.Fatalf("enrolment %d of the burst refused", i+1)
		}
	}
	rec := enrol("203.0.113.77:40001") // the same /24
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "rate_limited") || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("past the burst: %d %s Retry-After %q, want 429 rate_limited, 1", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if rec := enrol("198.51.100.9:40000"); rec.Code == http.StatusTooManyRequests {
		t.Error("another network was held back")
	}
	if rec := enrol("127.0.0.1:40000"); rec.Code == http.StatusTooManyRequests {
		t.Error("loopback was held back")
	}
	e.clock.Add(time.Second) // one token a second
	if rec := enrol("203.0.113.5:40000"); rec.Code == http.StatusTooManyRequests {
		t.Error("still refused a second later")
	}
	if rec := enrol("203.0.113.5:40000"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("a second enrolment in that second: %d, want 429", rec.Code)
	}
}
