package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
