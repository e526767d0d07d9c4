package posture

import (
	"bufio"
	"bytes"
	"cmp"
	_ "embed"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/healthgate/healthgate/evidence"
)

//go:generate go run ./roots -dir /usr/share/ca-certificates/mozilla -extra roots/microsoft -o roots/baseline.txt

// baselineText is the known-good root baseline: Mozilla's CA bundle as
// Debian ships it (which includes the Microsoft roots Mozilla trusts), plus
// the roots of roots/microsoft: those every Windows installation ships that
// Mozilla does not trust (Microsoft Root Authority, Microsoft Root
// Certificate Authority 2010 and 2011, the time-stamping roots, …) and a
// few of Microsoft's root program common on Windows PCs in China. See
// roots/main.go for its format and how to regenerate it, and
// roots/microsoft/README.md for where each Windows root came from.
//
//go:embed roots/baseline.txt
var baselineText []byte

// rootBaseline is a set of root certificate fingerprints (SHA-256 of the
// DER encoding, hex, lower case) known to be good.
type rootBaseline map[string]bool

// baseline is the parsed embedded baseline, built once.
var baseline = sync.OnceValue(func() rootBaseline { return parseRootBaseline(baselineText) })

// parseRootBaseline reads baseline lines ("fingerprint<TAB>source<TAB>
// subject"; only the fingerprint counts). Comments, blank lines and lines
// whose first field is not a SHA-256 fingerprint are skipped.
func parseRootBaseline(data []byte) rootBaseline {
	b := rootBaseline{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fp, _, _ := strings.Cut(line, "\t")
		if fp, ok := normalizeFingerprint(fp); ok {
			b[fp] = true
		}
	}
	return b
}

// normalizeFingerprint returns a SHA-256 fingerprint in lower-case hex
// without separators ("AB:CD…" and "ab cd…" are accepted); ok is false when
// it is not 32 bytes of hex.
func normalizeFingerprint(s string) (string, bool) {
	s = strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(s)))
	if len(s) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return s, true
}

// baselineRoots returns the lookup of known-good roots: the embedded
// baseline plus extra fingerprints (for example roots the protective feed
// vouches for later). Extra fingerprints that are not SHA-256 hex are
// ignored. The result reports whether a certificate's SHA256 is known.
func baselineRoots(extra ...string) func(sha256 string) bool {
	base := baseline()
	var more rootBaseline
	for _, e := range extra {
		if fp, ok := normalizeFingerprint(e); ok {
			if more == nil {
				more = rootBaseline{}
			}
			more[fp] = true
		}
	}
	return func(fp string) bool {
		fp = strings.ToLower(fp)
		return base[fp] || more[fp]
	}
}

// addedRoots returns the certificates among ders (DER encodings, as a
// certificate store enumerates them) that known does not list, once each,
// sorted by subject then fingerprint and cut to maxReportedRoots.
// unreadable counts encodings that do not parse as a certificate.
func addedRoots(ders [][]byte, known func(string) bool) (added []evidence.Certificate, unreadable int) {
	added = []evidence.Certificate{}
	seen := map[string]bool{}
	for _, der := range ders {
		c, ok := parseDERCertificate(der)
		if !ok {
			unreadable++
			continue
		}
		if known(c.SHA256) || seen[c.SHA256] {
			continue
		}
		seen[c.SHA256] = true
		added = append(added, c)
	}
	slices.SortFunc(added, func(a, b evidence.Certificate) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.SHA256, b.SHA256))
	})
	return added[:min(len(added), maxReportedRoots)], unreadable
}

// maxReportedRoots bounds the added roots a report carries, as on Linux.
const maxReportedRoots = 256
