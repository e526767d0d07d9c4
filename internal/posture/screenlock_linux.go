package posture

import (
	"context"
	"errors"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// maxDconfFiles bounds the dconf keyfiles read.
const maxDconfFiles = 256

// GNOME's default (the gsettings schemas): the screen blanks after 300
// idle seconds and locks when it blanks.
const (
	gnomeIdleDelay = 300
)

// Collect reads the screen lock settings of the desktop installed:
//
//   - GNOME (/usr/bin/gnome-shell): the system dconf keyfiles
//     /etc/dconf/db/*.d/*, keys lock-enabled and lock-delay of
//     org/gnome/desktop/screensaver and idle-delay of
//     org/gnome/desktop/session, on top of GNOME's defaults (lock on, 300
//     s). A user's own changes live in the binary ~/.config/dconf/user
//     database, which is not read;
//   - KDE Plasma (/usr/bin/plasmashell): each user's
//     ~/.config/kscreenlockerrc ([Daemon] Autolock, Timeout in minutes),
//     KDE's defaults (on, 5 minutes) for users without one.
//
// With both, the lock counts as enabled only when every reading says so,
// and the idle time is the longest. Without a desktop the group is not
// known: "no desktop session".
func (screenLockCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	gnome := env.exists("usr/bin/gnome-shell")
	kde := env.exists("usr/bin/plasmashell") || env.exists("usr/bin/startplasma-x11") || env.exists("usr/bin/startplasma-wayland")
	if !gnome && !kde {
		return errors.New("no desktop session")
	}
	sl := &evidence.ScreenLockFacts{Enabled: true}
	add := func(enabled bool, idle int) {
		sl.Enabled = sl.Enabled && enabled
		sl.IdleSeconds = max(sl.IdleSeconds, idle)
	}
	if gnome {
		add(gnomeScreenLock(ctx, env))
	}
	if kde {
		homes, _ := env.readDir("home")
		read := 0
		for _, h := range homes {
			if read == maxHomes || ctx.Err() != nil {
				break
			}
			data, _, err := env.readHead("home/"+h.Name()+"/.config/kscreenlockerrc", maxConfig)
			if err != nil {
				continue
			}
			read++
			add(kdeScreenLock(parseKeyfile(data)))
		}
		if read == 0 {
			add(true, kdeTimeoutMins*60)
		}
	}
	if !sl.Enabled {
		sl.IdleSeconds = 0
	}
	f.ScreenLock = sl
	return ctx.Err()
}

// gnomeScreenLock applies the system dconf keyfiles, in name order, to
// GNOME's defaults.
func gnomeScreenLock(ctx context.Context, env *Env) (enabled bool, idle int) {
	lock, delay, lockDelay := true, gnomeIdleDelay, 0
	dbs, _ := env.readDir("etc/dconf/db")
	files := 0
	for _, db := range dbs {
		if !strings.HasSuffix(db.Name(), ".d") {
			continue
		}
		dir := "etc/dconf/db/" + db.Name()
		entries, _ := env.readDir(dir)
		for _, e := range entries {
			if e.IsDir() || ctx.Err() != nil {
				continue
			}
			if files++; files > maxDconfFiles {
				break
			}
			data, _, err := env.readHead(dir+"/"+e.Name(), maxConfig)
			if err != nil {
				continue
			}
			kf := parseKeyfile(data)
			if v, ok := gvariantBool(kf["org/gnome/desktop/screensaver"]["lock-enabled"]); ok {
				lock = v
			}
			if v, ok := gvariantUint(kf["org/gnome/desktop/screensaver"]["lock-delay"]); ok {
				lockDelay = v
			}
			if v, ok := gvariantUint(kf["org/gnome/desktop/session"]["idle-delay"]); ok {
				delay = v
			}
		}
	}
	// idle-delay 0 means the screen never blanks, so it never locks.
	if !lock || delay == 0 {
		return false, 0
	}
	return true, delay + lockDelay
}
