// Package httpsafe holds the rule Healthgate's clients apply before a
// credential (an API key, a partner token) or a trust decision (signing
// keys) travels over HTTP: https, or plain http only to this machine. It
// holds for every redirect too: Go forwards Authorization on a redirect to
// the same host whatever the scheme, and a redirect to plain http hands
// the answer to anyone on the path.
package httpsafe

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Loopback reports whether host (a URL's Hostname) is this machine:
// "localhost", in any case, or a loopback IP address. "127.x.example" is a
// DNS name that can point anywhere.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Secure reports whether u may carry a credential: https, or http to
// loopback.
func Secure(u *url.URL) bool {
	return u.Scheme == "https" || u.Scheme == "http" && Loopback(u.Hostname())
}

// CheckRedirects returns a copy of c that follows a redirect only when
// check accepts its URL; c's own CheckRedirect, or else Go's limit of 10
// redirects, still applies.
func CheckRedirects(c *http.Client, check func(*url.URL) error) *http.Client {
	guarded := *c
	next := c.CheckRedirect
	guarded.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := check(req.URL); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &guarded
}
