package posture

import (
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// parseProxyEnv applies the proxy variables assigned in a shell or
// pam_env file (http_proxy, https_proxy and auto_proxy, in either case, with
// or without export and quotes) to p; a later assignment wins, as when the
// files are read in order. Other variables are ignored. An empty value
// unsets.
func parseProxyEnv(data []byte, p *evidence.ProxyFacts) {
	parseAssignments(data, func(name, value string) {
		value = clean(strings.TrimSpace(value))
		switch strings.ToLower(name) {
		case "http_proxy":
			p.HTTP = value
		case "https_proxy":
			p.HTTPS = value
		case "auto_proxy":
			p.PACURL = value
		}
	})
}
