package posture

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"slices"

	"github.com/healthgate/healthgate/evidence"
)

// Limits on the process list.
const (
	maxProcesses = 4096      // distinct (name, hash) pairs a report carries
	maxExeSize   = 256 << 20 // executables above this are not hashed
)

// Collect lists the running programs by name (/proc/PID/comm) and the
// SHA-256 of their executable (/proc/PID/exe), once per distinct pair.
// Each executable is hashed once per run. An executable that cannot be
// read (another user's process, a file over maxExeSize) gets no hash.
func (processCollector) Collect(ctx context.Context, env *Env, f *evidence.Facts) error {
	procs, err := listProcesses(ctx, env)
	if err != nil {
		return err
	}
	cache := make(map[exeKey]string)
	seen := make(map[evidence.Process]bool)
	running := []evidence.Process{}
	for _, p := range procs {
		sum := exeHash(ctx, env, p.pid, cache)
		if err := ctx.Err(); err != nil {
			return err
		}
		pr := evidence.Process{Name: p.name, SHA256: sum}
		if !seen[pr] {
			seen[pr] = true
			running = append(running, pr)
		}
	}
	slices.SortFunc(running, func(a, b evidence.Process) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.SHA256, b.SHA256))
	})
	if len(running) > maxProcesses {
		running = running[:maxProcesses]
	}
	f.Processes = &evidence.ProcessFacts{Running: running}
	return nil
}

// exeKey identifies an executable file for the hash cache.
type exeKey struct {
	path  string
	size  int64
	mtime int64
}

// exeHash returns the hex SHA-256 of the executable of process pid, or ""
// when it cannot be read. On the live system it reads /proc/PID/exe, which
// works even when the file was deleted or lives in another mount
// namespace; under a device tree the link's target is read under Root.
func exeHash(ctx context.Context, env *Env, pid string, cache map[exeKey]string) string {
	name := "proc/" + pid + "/exe"
	var key string
	if env.live() {
		target, err := os.Readlink("/" + name)
		if err != nil {
			return ""
		}
		key = target
	} else {
		p, err := env.path(name)
		if err != nil {
			return ""
		}
		key = p
	}
	file, fi, err := env.open(name)
	if err != nil {
		return ""
	}
	defer file.Close()
	if fi.Size() > maxExeSize {
		return ""
	}
	k := exeKey{key, fi.Size(), fi.ModTime().UnixNano()}
	if sum, ok := cache[k]; ok {
		return sum
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(ctxReader{ctx, file}, maxExeSize)); err != nil {
		return ""
	}
	sum := hex.EncodeToString(h.Sum(nil))
	cache[k] = sum
	return sum
}

// ctxReader stops reading once ctx is done, so a large hash does not
// outlive the collector's timeout by much.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
