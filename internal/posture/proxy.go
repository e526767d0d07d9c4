package posture

import (
	"cmp"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// proxyEnv holds the proxy variables of shell and pam_env files as they
// are read in order.
type proxyEnv struct {
	http, https, all, pac string
}

// parse applies the proxy variables assigned in a shell or pam_env file
// (http_proxy, https_proxy, all_proxy and auto_proxy, in either case, with
// or without export and quotes); a later assignment wins, as when the
// files are read in order. Other variables are ignored. An empty value
// unsets.
func (p *proxyEnv) parse(data []byte) {
	parseAssignments(data, func(name, value string) {
		value = clean(strings.TrimSpace(value))
		switch strings.ToLower(name) {
		case "http_proxy":
			p.http = value
		case "https_proxy":
			p.https = value
		case "all_proxy":
			p.all = value
		case "auto_proxy":
			p.pac = value
		}
	})
}

// facts returns the proxy facts of the variables read so far. all_proxy
// (curl, wget and Chromium outside a desktop with its own settings honour
// it) serves HTTP and HTTPS where their own variable is not set.
func (p *proxyEnv) facts() *evidence.ProxyFacts {
	return &evidence.ProxyFacts{HTTP: cmp.Or(p.http, p.all), HTTPS: cmp.Or(p.https, p.all), PACURL: p.pac}
}
