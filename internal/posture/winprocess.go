package posture

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/healthgate/healthgate/evidence"
)

// winProcess is one running Windows process as the Toolhelp snapshot and
// QueryFullProcessImageName describe it.
type winProcess struct {
	PID uint32
	// ExeFile is PROCESSENTRY32W.szExeFile: the executable's base name in
	// UTF-16, NUL-terminated within the array ("TeamViewer.exe").
	ExeFile []uint16
	// Image is the full path of the executable, "" when the process could
	// not be opened (protected processes, other sessions without rights).
	Image string
}

// winProcessName returns the report name of a process: the executable's
// base name as Toolhelp gives it, else the last element of its image path.
// UTF-16 is decoded up to the first NUL; unpaired surrogates become
// U+FFFD, so a crafted name can never yield invalid UTF-8.
func winProcessName(exe []uint16, image string) string {
	if i := slices.Index(exe, 0); i >= 0 {
		exe = exe[:i]
	}
	name := string(utf16.Decode(exe))
	if strings.TrimSpace(name) == "" {
		name = image
	}
	if i := strings.LastIndexAny(name, `\/`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(clean(name))
}

// winExeKey identifies an executable file for the hash cache.
type winExeKey struct {
	path  string
	size  int64
	mtime int64
}

// hashExecutable returns the hex SHA-256 of the file at path, or "" when
// it cannot be read or is larger than winMaxExeSize. Each file (by path,
// size and modification time) is hashed once per cache. It stops once ctx
// is done.
func hashExecutable(ctx context.Context, path string, cache map[winExeKey]string) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > winMaxExeSize {
		return ""
	}
	k := winExeKey{strings.ToLower(path), fi.Size(), fi.ModTime().UnixNano()}
	if sum, ok := cache[k]; ok {
		return sum
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		if ctx.Err() != nil {
			return ""
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return ""
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	cache[k] = sum
	return sum
}

// Limits of the Windows process list, as on Linux: distinct (name, hash)
// pairs a report carries, size of an executable hashed.
const (
	maxWinProcesses = 4096
	winMaxExeSize   = 256 << 20
)

// decodeProcesses lists the processes by name and executable hash, once
// per distinct pair, sorted. The System Idle Process (PID 0) runs no
// program and is left out. hash returns the SHA-256 of an image path, ""
// when unreadable.
func decodeProcesses(ctx context.Context, procs []winProcess, hash func(path string) string) (*evidence.ProcessFacts, error) {
	seen := map[evidence.Process]bool{}
	running := []evidence.Process{}
	for _, p := range procs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.PID == 0 {
			continue
		}
		name := winProcessName(p.ExeFile, p.Image)
		if name == "" {
			continue
		}
		pr := evidence.Process{Name: name, SHA256: hash(p.Image)}
		if !seen[pr] {
			seen[pr] = true
			running = append(running, pr)
		}
	}
	slices.SortFunc(running, func(a, b evidence.Process) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.SHA256, b.SHA256))
	})
	return &evidence.ProcessFacts{Running: running[:min(len(running), maxWinProcesses)]}, nil
}
