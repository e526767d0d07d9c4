package posture

import (
	"bytes"
	"strings"
	"time"
)

// parseOSRelease returns the ID and VERSION_ID of an os-release file
// (os-release(5)). ID defaults to "linux" as the format says.
func parseOSRelease(data []byte) (id, version string) {
	id = "linux"
	parseAssignments(data, func(name, value string) {
		switch name {
		case "ID":
			if v := clean(value); v != "" {
				id = v
			}
		case "VERSION_ID":
			version = clean(value)
		}
	})
	return id, version
}

// Layouts of the package logs' time stamps.
const (
	aptLayout    = "2006-01-02 15:04:05" // history.log End-Date, dpkg.log
	pacmanLayout = "2006-01-02T15:04:05-0700"
	pacmanOld    = "2006-01-02 15:04"
)

// parsePackageLog returns the time of the latest package installation or
// upgrade recorded in a package manager log: apt's history.log
// ("End-Date: 2026-11-20  10:11:12"), dpkg.log ("2026-11-20 10:11:12
// status installed pkg:amd64 1.2") or pacman.log ("[2026-11-20T10:11:12+0100]
// [ALPM] upgraded …"). Times without a zone are in loc. Entries later than
// the day after now are ignored. ok is false when none was found.
func parsePackageLog(data []byte, loc *time.Location, now time.Time) (latest time.Time, ok bool) {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		t, found := packageLogLine(string(line), loc)
		if found && notFuture(t, now) && (!ok || t.After(latest)) {
			latest, ok = t, true
		}
	}
	return latest, ok
}

func packageLogLine(line string, loc *time.Location) (time.Time, bool) {
	line = strings.TrimRight(line, "\r")
	if rest, ok := strings.CutPrefix(line, "End-Date:"); ok {
		return parseLogTime(aptLayout, strings.Join(strings.Fields(rest), " "), loc)
	}
	if rest, ok := strings.CutPrefix(line, "["); ok {
		stamp, msg, ok := strings.Cut(rest, "] ")
		if !ok || !(strings.HasPrefix(msg, "[ALPM] installed ") || strings.HasPrefix(msg, "[ALPM] upgraded ")) {
			return time.Time{}, false
		}
		if t, ok := parseLogTime(pacmanLayout, stamp, loc); ok {
			return t, true
		}
		return parseLogTime(pacmanOld, stamp, loc)
	}
	if len(line) > len(aptLayout) && strings.HasPrefix(line[len(aptLayout):], " status installed ") {
		return parseLogTime(aptLayout, line[:len(aptLayout)], loc)
	}
	return time.Time{}, false
}

func parseLogTime(layout, s string, loc *time.Location) (time.Time, bool) {
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
