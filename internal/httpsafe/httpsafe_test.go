package httpsafe

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSecure(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://partner.example/x":    true,
		"http://127.0.0.1:8080/":       true,
		"http://[::1]/":                true,
		"http://LocalHost/":            true,
		"http://127.attacker.example/": false,
		"http://partner.example/":      false,
		"ftp://127.0.0.1/":             false,
		"HTTP://127.0.0.1/":            true, // url.Parse lower-cases the scheme
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Secure(u); got != want {
			t.Errorf("Secure(%s) = %v, want %v", raw, got, want)
		}
	}
}

// TestCheckRedirects: a redirect check refuses is not followed, and the
// client's own CheckRedirect still runs for the rest.
func TestCheckRedirects(t *testing.T) {
	var hs *httptest.Server
	hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-plain":
			http.Redirect(w, r, "http://partner.example/", http.StatusFound)
		case "/to-self":
			http.Redirect(w, r, hs.URL+"/end", http.StatusFound)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer hs.Close()
	ownRan := false
	c := CheckRedirects(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { ownRan = true; return nil }},
		func(u *url.URL) error {
			if !Secure(u) {
				return &url.Error{Op: "redirect", URL: u.String(), Err: http.ErrNotSupported}
			}
			return nil
		})
	if _, err := c.Get(hs.URL + "/to-plain"); err == nil || !strings.Contains(err.Error(), "partner.example") {
		t.Errorf("redirect to plain http: err = %v, want it refused", err)
	}
	resp, err := c.Get(hs.URL + "/to-self")
	if err != nil || resp.StatusCode != http.StatusNoContent || !ownRan {
		t.Errorf("redirect to loopback: %v %v, own check ran %v", resp, err, ownRan)
	}
}
