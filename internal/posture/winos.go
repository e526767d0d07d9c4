package posture

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Decoders of the Windows version (the registry's CurrentVersion key) and
// of the installed updates (WMI Win32_QuickFixEngineering). OS-independent,
// tested against testdata/windows/.

// winQFE is one row of Win32_QuickFixEngineering: an installed update.
type winQFE struct {
	HotFixID    *string
	InstalledOn *string
}

// decodeWindowsVersion reads the CurrentVersion key: the version from
// CurrentMajorVersionNumber and CurrentMinorVersionNumber ("10.0"), or the
// legacy CurrentVersion string ("6.1") before Windows 10; the build from
// CurrentBuild (or CurrentBuildNumber) and UBR, the update build revision
// ("22631.4460").
func decodeWindowsVersion(cv regValues) (*evidence.OSFacts, error) {
	os := &evidence.OSFacts{Name: "windows"}
	major, okMaj := cv.uint("CurrentMajorVersionNumber")
	minor, okMin := cv.uint("CurrentMinorVersionNumber")
	switch {
	case okMaj && okMin:
		os.Version = strconv.FormatUint(major, 10) + "." + strconv.FormatUint(minor, 10)
	default:
		if v, ok := cv.string("CurrentVersion"); ok && v != "" {
			os.Version = clean(v)
		}
	}
	build, ok := cv.string("CurrentBuild")
	if !ok || build == "" {
		build, _ = cv.string("CurrentBuildNumber")
	}
	if build != "" {
		if _, err := strconv.ParseUint(build, 10, 32); err == nil {
			os.Build = build
			if ubr, ok := cv.uint("UBR"); ok {
				os.Build += "." + strconv.FormatUint(ubr, 10)
			}
		}
	}
	if os.Version == "" && os.Build == "" {
		return nil, errors.New("no windows version in the registry")
	}
	return os, nil
}

// fileTimeToUnix is the number of seconds from the start of Windows
// FILETIME (1 January 1601 UTC) to the Unix epoch.
const fileTimeToUnix = 11644473600

// parseQFEDate reads Win32_QuickFixEngineering's InstalledOn, which comes
// in several forms depending on how the update was installed:
// "11/20/2024" (month/day/year; a first number above 12 is read as the
// day), "20241120", "2024-11-20", or a FILETIME in hex ("01db3b1c0a8e4000",
// 100-nanosecond intervals since 1601). Dates are taken as midnight UTC.
// ok is false for anything else, for dates before 1995 and for dates more
// than a day after now.
func parseQFEDate(s string, now time.Time) (time.Time, bool) {
	s = strings.TrimSpace(s)
	t, ok := parseQFEForms(s)
	if !ok || t.Year() < 1995 || !notFuture(t, now) {
		return time.Time{}, false
	}
	return t, true
}

func parseQFEForms(s string) (time.Time, bool) {
	if a, rest, ok := strings.Cut(s, "/"); ok {
		b, y, ok := strings.Cut(rest, "/")
		if !ok {
			return time.Time{}, false
		}
		m, err1 := strconv.Atoi(a)
		d, err2 := strconv.Atoi(b)
		year, err3 := strconv.Atoi(y)
		if err1 != nil || err2 != nil || err3 != nil || len(y) != 4 {
			return time.Time{}, false
		}
		if m > 12 {
			m, d = d, m
		}
		return validDate(year, m, d)
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if len(s) == 8 && isDigits(s) {
		t, err := time.Parse("20060102", s)
		return t, err == nil
	}
	if len(s) >= 9 && len(s) <= 16 {
		ft, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			return time.Time{}, false
		}
		// Whole seconds since 1601; a time.Duration holds only 292 years.
		secs := ft / 10_000_000
		if secs < fileTimeToUnix || secs > fileTimeToUnix+1<<40 {
			return time.Time{}, false
		}
		return time.Unix(int64(secs-fileTimeToUnix), 0).UTC(), true
	}
	return time.Time{}, false
}

// validDate returns the date year-month-day, refusing days that do not
// exist (time.Date would roll 2/30 over into March).
func validDate(year, month, day int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return t, t.Day() == day
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// newestQFE returns the newest InstalledOn date among the updates; ok is
// false when none parses.
func newestQFE(rows []winQFE, now time.Time) (newest time.Time, ok bool) {
	for _, r := range rows {
		if r.InstalledOn == nil {
			continue
		}
		if t, good := parseQFEDate(*r.InstalledOn, now); good && t.After(newest) {
			newest, ok = t, true
		}
	}
	return newest, ok
}
