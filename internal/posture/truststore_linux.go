package posture

import (
	"cmp"
	"context"
	"slices"

	"github.com/healthgate/healthgate/evidence"
)

// Directories where administrators add trust anchors on top of the
// distribution's bundle: Debian and Ubuntu, Fedora and RHEL, Arch.
var trustAnchorDirs = []string{
	"usr/local/share/ca-certificates",
	"etc/pki/ca-trust/source/anchors",
	"etc/ca-certificates/trust-source/anchors",
}

// Limits on the trust store walk.
const (
	maxAddedRoots  = 256     // certificates a report carries
	maxAnchorFiles = 4096    // files looked at
	maxAnchorDepth = 8       // directory levels below an anchor directory
	maxAnchorBytes = 1 << 20 // size of one certificate file
)

// Collect lists every certificate in the added-anchor directories. Files
// that hold no parsable certificate count as unreadable.
func (trustStoreCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	ts := &evidence.TrustStoreFacts{Added: []evidence.Certificate{}}
	seen := make(map[string]bool)
	files := 0
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		entries, err := env.readDir(dir)
		if err != nil {
			if depth > 0 && !isNotExist(err) {
				ts.Unreadable++
			}
			return nil
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := dir + "/" + e.Name()
			fi, err := env.stat(name)
			switch {
			case err != nil:
				ts.Unreadable++
			case fi.IsDir():
				if depth < maxAnchorDepth {
					if err := walk(name, depth+1); err != nil {
						return err
					}
				}
			default:
				if files++; files > maxAnchorFiles {
					return nil
				}
				data, cut, err := env.readHead(name, maxAnchorBytes)
				if err != nil || cut {
					ts.Unreadable++
					continue
				}
				certs, broken := parseCertificates(data)
				if broken {
					ts.Unreadable++
				}
				for _, c := range certs {
					if !seen[c.SHA256] {
						seen[c.SHA256] = true
						ts.Added = append(ts.Added, c)
					}
				}
			}
		}
		return nil
	}
	for _, dir := range trustAnchorDirs {
		if err := walk(dir, 0); err != nil {
			return err
		}
	}
	slices.SortFunc(ts.Added, func(a, b evidence.Certificate) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.SHA256, b.SHA256))
	})
	if len(ts.Added) > maxAddedRoots {
		ts.Added = ts.Added[:maxAddedRoots]
	}
	f.TrustStore = ts
	return nil
}
