package posture

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Env is the device a collector reads: its file tree and its clock.
type Env struct {
	// Root is the directory that stands for the device's "/". Symbolic
	// links inside it are followed as if Root were "/": an absolute target
	// resolves under Root and ".." stops at Root.
	Root string
	// Now is the device clock.
	Now func() time.Time
}

// maxSymlinks bounds the links followed in one path, as Linux does.
const maxSymlinks = 40

// live reports whether Env reads the running system itself. Root is "/"
// or "" there, or `\` on Windows, where Collect's filepath.Clean turns "/"
// into that.
func (e *Env) live() bool {
	return e.Root == "/" || e.Root == "" || e.Root == string(filepath.Separator)
}

// path returns the host path of the device path name (slash-separated,
// relative to the device's "/"), with every symbolic link followed under
// Root. On the live system the kernel resolves links itself, and "/" is
// liveRoot(): on Windows the system drive, not the current directory's.
func (e *Env) path(name string) (string, error) {
	if e.live() {
		return filepath.Join(liveRoot(), filepath.FromSlash(name)), nil
	}
	var done []string // resolved components below Root
	todo := name
	hops := 0
	for todo != "" {
		var comp string
		comp, todo, _ = strings.Cut(todo, "/")
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(e.Root, filepath.Join(done...), comp)
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, comp)
			continue
		}
		if hops++; hops > maxSymlinks {
			return "", fmt.Errorf("%s: too many symbolic links", name)
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		target = filepath.ToSlash(target)
		if path.IsAbs(target) {
			done = done[:0]
		}
		todo = target + "/" + todo
	}
	return filepath.Join(e.Root, filepath.Join(done...)), nil
}

// lstat is os.Lstat of a device path: links in the directories above name
// are followed, name itself is not.
func (e *Env) lstat(name string) (fs.FileInfo, error) {
	dir, err := e.path(path.Dir(path.Join("/", name)))
	if err != nil {
		return nil, err
	}
	return os.Lstat(filepath.Join(dir, path.Base(name)))
}

// stat is os.Stat of a device path.
func (e *Env) stat(name string) (fs.FileInfo, error) {
	p, err := e.path(name)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
}

// exists reports whether a device path exists, without following a link at
// its last component.
func (e *Env) exists(name string) bool {
	_, err := e.lstat(name)
	return err == nil
}

// readDir lists a device directory, sorted by name.
func (e *Env) readDir(name string) ([]fs.DirEntry, error) {
	p, err := e.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadDir(p)
}

// open opens a regular file of the device. Anything else (a FIFO, a
// device) is refused: opening it could block for ever.
func (e *Env) open(name string) (*os.File, fs.FileInfo, error) {
	p, err := e.path(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", name)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	return f, fi, nil
}

// readHead reads at most max bytes from the start of a device file;
// truncated says the file is longer.
func (e *Env) readHead(name string, max int64) (data []byte, truncated bool, err error) {
	f, _, err := e.open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > max {
		return data[:max], true, nil
	}
	return data, false, nil
}

// readTail reads at most the last max bytes of a device file, starting at
// a line boundary when it skips anything.
func (e *Env) readTail(name string, max int64) ([]byte, error) {
	f, fi, err := e.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	skip := fi.Size() - max
	if skip <= 0 {
		return io.ReadAll(io.LimitReader(f, max))
	}
	if _, err := f.Seek(skip, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, err
	}
	if i := strings.IndexByte(string(data), '\n'); i >= 0 {
		return data[i+1:], nil
	}
	return nil, nil
}

// newestMtime returns the latest modification time among the device paths
// that exist, ignoring times in the future; ok is false when none counts.
func (e *Env) newestMtime(names ...string) (newest time.Time, ok bool) {
	now := e.Now()
	for _, n := range names {
		fi, err := e.stat(n)
		if err != nil {
			continue
		}
		if t := fi.ModTime(); notFuture(t, now) && t.After(newest) {
			newest, ok = t, true
		}
	}
	return newest, ok
}

// isNotExist reports whether err says a file is missing.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

// maxString is the longest string a report carries (evidence limits every
// string to 256 bytes).
const maxString = 256

// clean makes device text fit a report: valid UTF-8, no control
// characters, at most maxString bytes, cut at a character boundary.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) <= maxString {
		return s
	}
	cut := maxString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
