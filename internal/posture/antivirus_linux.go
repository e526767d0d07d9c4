package posture

import (
	"context"
	"slices"

	"github.com/healthgate/healthgate/evidence"
)

// antivirusProduct says how to recognise one Linux antivirus engine.
type antivirusProduct struct {
	name       string
	installed  []string // any of these paths exists when it is installed
	daemons    []string // process names (comm) of its scanning daemon
	signatures []string // signature files, rewritten on every update
}

// linuxAntivirus lists the engines the collector knows.
var linuxAntivirus = []antivirusProduct{
	{
		name:      "ClamAV",
		installed: []string{"usr/sbin/clamd", "usr/bin/clamscan", "var/lib/clamav"},
		daemons:   []string{"clamd"},
		// freshclam replaces a database file whenever it downloads a new
		// version, so the newest mtime is the last update.
		signatures: []string{
			"var/lib/clamav/daily.cvd", "var/lib/clamav/daily.cld",
			"var/lib/clamav/main.cvd", "var/lib/clamav/main.cld",
			"var/lib/clamav/bytecode.cvd", "var/lib/clamav/bytecode.cld",
		},
	},
	{
		name:      "Microsoft Defender for Endpoint",
		installed: []string{"opt/microsoft/mdatp"},
		daemons:   []string{"wdavdaemon"},
	},
}

// Collect lists the installed antivirus engines, whether their daemon runs
// and when their signatures were last updated. A device without /proc
// reports every engine as not running.
func (antivirusCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	running := make(map[string]bool)
	if procs, err := listProcesses(ctx, env); err == nil {
		for _, p := range procs {
			running[p.name] = true
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	av := &evidence.AntivirusFacts{Products: []evidence.AntivirusProduct{}}
	for _, p := range linuxAntivirus {
		if !slices.ContainsFunc(p.installed, env.exists) {
			continue
		}
		product := evidence.AntivirusProduct{
			Name:    p.name,
			Enabled: slices.ContainsFunc(p.daemons, func(d string) bool { return running[d] }),
		}
		if t, ok := env.newestMtime(p.signatures...); ok {
			t = t.UTC()
			product.SignaturesUpdated = &t
		}
		av.Products = append(av.Products, product)
	}
	f.Antivirus = av
	return nil
}
