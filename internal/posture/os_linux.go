package posture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// maxLogTail is how much of the end of a package log is read.
const maxLogTail = 256 << 10

// Package manager logs that record installations, newest entries last.
var packageLogs = []string{
	"var/log/apt/history.log",
	"var/log/apt/history.log.1",
	"var/log/dpkg.log",
	"var/log/dpkg.log.1",
	"var/log/pacman.log",
}

// Collect reads os-release, the kernel release and build date, and the
// time of the last package installation.
func (osCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	data, _, err := env.readHead("etc/os-release", 64<<10)
	if isNotExist(err) {
		data, _, err = env.readHead("usr/lib/os-release", 64<<10)
	}
	if err != nil {
		return fmt.Errorf("reading os-release: %w", err)
	}
	id, version := parseOSRelease(data)
	o := &evidence.OSFacts{Name: id, Version: version}
	if k, _, err := env.readHead("proc/sys/kernel/osrelease", maxString); err == nil {
		o.Kernel = clean(strings.TrimSpace(string(k)))
	}
	if v, _, err := env.readHead("proc/sys/kernel/version", maxString); err == nil {
		if t, ok := parseKernelBuilt(strings.TrimSpace(string(v))); ok && notFuture(t, env.Now()) {
			o.KernelBuilt = &t
		}
	}
	if t, ok := lastUpdate(ctx, env); ok {
		t = t.UTC()
		o.LastUpdate = &t
	}
	f.OS = o
	return nil
}

// lastUpdate returns when packages were last installed or upgraded: the
// newest of the apt, dpkg and pacman log entries and of unattended-upgrades'
// upgrade-stamp. apt's update-success-stamp is not used: it says when the
// package lists were fetched, not that anything was installed. On RPM
// systems, which keep no plain-text log, the time the package database
// last changed stands in.
func lastUpdate(ctx context.Context, env *Env) (latest time.Time, ok bool) {
	now := env.Now()
	loc := deviceLocation(env)
	consider := func(t time.Time) {
		if !ok || t.After(latest) {
			latest, ok = t, true
		}
	}
	for _, name := range packageLogs {
		if ctx.Err() != nil {
			break
		}
		data, err := env.readTail(name, maxLogTail)
		if err != nil {
			continue
		}
		if t, found := parsePackageLog(data, loc, now); found {
			consider(t)
		}
	}
	if t, found := env.newestMtime("var/lib/apt/periodic/upgrade-stamp"); found {
		consider(t)
	}
	if !ok {
		if t, found := env.newestMtime("var/lib/rpm", "var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages"); found {
			consider(t)
		}
	}
	return latest, ok
}

// deviceLocation returns the device's time zone, in which its logs are
// written: the live system's, or the tree's /etc/localtime (a zone file or
// a link into zoneinfo), or its /etc/timezone name; UTC when unknown.
func deviceLocation(env *Env) *time.Location {
	if env.live() {
		return time.Local
	}
	if data, _, err := env.readHead("etc/localtime", 1<<20); err == nil {
		if loc, err := time.LoadLocationFromTZData("Local", data); err == nil {
			return loc
		}
	}
	var name string
	if dir, err := env.path("etc"); err == nil {
		if target, err := os.Readlink(filepath.Join(dir, "localtime")); err == nil {
			if _, zone, ok := strings.Cut(filepath.ToSlash(target), "zoneinfo/"); ok {
				name = zone
			}
		}
	}
	if name == "" {
		if data, _, err := env.readHead("etc/timezone", 256); err == nil {
			name = strings.TrimSpace(string(data))
		}
	}
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return time.UTC
}
