package posture

import (
	"cmp"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// parseWinINETProxy reads WinINET's ProxyServer value (Internet Options,
// the proxy most Windows programs use). It is either one proxy for every
// protocol ("proxy.example:8080", possibly with a scheme,
// "http://proxy.example:8080") or a list of protocol=proxy pairs separated
// by ';' ("http=p1:80;https=p2:443;ftp=p3:21;socks=p4:1080"). It returns
// the proxies for HTTP and HTTPS. An entry without '=' in a list applies
// to the protocols the list does not name, as WinINET does; failing that,
// a socks= entry does (WinINET and Chromium, so Chrome and Edge, send
// those protocols through it), reported as "socks4://p4:1080" (SOCKS4,
// what both speak to it) unless it names its own scheme.
func parseWinINETProxy(s string) (http, https string) {
	var fallback, socks string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' }) {
		proto, server, found := strings.Cut(part, "=")
		if !found {
			if fallback == "" {
				fallback = part
			}
			continue
		}
		server = strings.TrimSpace(server)
		switch strings.ToLower(strings.TrimSpace(proto)) {
		case "http":
			if http == "" {
				http = server
			}
		case "https":
			if https == "" {
				https = server
			}
		case "socks":
			if socks == "" && server != "" {
				socks = server
				if !strings.Contains(socks, "://") {
					socks = "socks4://" + socks
				}
			}
		}
	}
	fallback = cmp.Or(fallback, socks)
	if http == "" {
		http = fallback
	}
	if https == "" {
		https = fallback
	}
	return clean(http), clean(https)
}

// decodeWinINET builds proxy facts from the values of an Internet
// Settings key: ProxyServer counts only while ProxyEnable is non-zero;
// AutoConfigURL (a PAC file) counts whenever it is set.
func decodeWinINET(v regValues) *evidence.ProxyFacts {
	p := &evidence.ProxyFacts{}
	if on, _ := v.uint("ProxyEnable"); on != 0 {
		if server, ok := v.string("ProxyServer"); ok {
			p.HTTP, p.HTTPS = parseWinINETProxy(server)
		}
	}
	if pac, ok := v.string("AutoConfigURL"); ok {
		p.PACURL = clean(pac)
	}
	return p
}
