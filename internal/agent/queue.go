package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/healthgate/healthgate/evidence"
)

// Default bounds of the report queue.
const (
	DefaultQueueMaxEntries = 100
	DefaultQueueMaxBytes   = 5 << 20
)

// queueDir is the queue's directory inside the state directory.
const queueDir = "queue"

// QueuedReport is a report that has been collected but not yet accepted by
// the server. It holds what was observed, never a signed token: evidence
// needs a fresh server nonce, so it is signed when it is finally sent.
type QueuedReport struct {
	Seq         uint64             `json:"seq"`
	CollectedAt time.Time          `json:"collected_at"`
	Facts       evidence.Facts     `json:"facts"`
	Findings    []evidence.Finding `json:"findings,omitempty"`
}

// Queue is an on-disk FIFO of reports waiting to be sent. Each entry is one
// file, written through a temporary file, fsync and rename, so a crash
// leaves either the whole entry or none of it, and entries survive a
// restart. It is bounded in entries and bytes: when full, the oldest entries
// are dropped and counted. It is safe for concurrent use.
type Queue struct {
	dir        string
	maxEntries int
	maxBytes   int64

	mu      sync.Mutex
	entries []queueEntry // oldest first
	bytes   int64
	next    uint64
	dropped int
}

type queueEntry struct {
	seq  uint64
	size int64
}

// OpenQueue opens (creating if needed) the queue in dir. maxEntries and
// maxBytes of zero or less take the defaults. Leftover temporary files of
// an interrupted write are removed; entries that cannot be read are removed
// when Peek meets them.
func OpenQueue(dir string, maxEntries int, maxBytes int64) (*Queue, error) {
	if maxEntries <= 0 {
		maxEntries = DefaultQueueMaxEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultQueueMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening report queue: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening report queue: %w", err)
	}
	q := &Queue{dir: dir, maxEntries: maxEntries, maxBytes: maxBytes, next: 1}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			os.Remove(filepath.Join(dir, name)) // a write that never reached its rename
			continue
		}
		seq, ok := parseEntryName(name)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		q.entries = append(q.entries, queueEntry{seq: seq, size: fi.Size()})
		q.bytes += fi.Size()
		q.next = max(q.next, seq+1)
	}
	slices.SortFunc(q.entries, func(a, b queueEntry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return q, nil
}

func entryName(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }

func parseEntryName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// Push appends r (its Seq is assigned) and then drops the oldest entries
// until the queue is within its bounds. It returns how many it dropped. A
// report larger than the byte bound on its own is refused.
func (q *Queue) Push(r QueuedReport) (dropped int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r.Seq = q.next
	data, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encoding queued report: %w", err)
	}
	size := int64(len(data))
	if size > q.maxBytes {
		return 0, fmt.Errorf("queued report of %d bytes exceeds the queue bound of %d bytes", size, q.maxBytes)
	}
	if err := writeFileAtomic(filepath.Join(q.dir, entryName(r.Seq)), data, 0o600); err != nil {
		return 0, fmt.Errorf("queueing report: %w", err)
	}
	syncDir(q.dir)
	q.next++
	q.entries = append(q.entries, queueEntry{seq: r.Seq, size: size})
	q.bytes += size
	for len(q.entries) > q.maxEntries || q.bytes > q.maxBytes {
		if err := q.removeLocked(q.entries[0].seq); err != nil {
			return dropped, err
		}
		dropped++
	}
	q.dropped += dropped
	return dropped, nil
}

// Peek returns the oldest entry. ok is false when the queue is empty. An
// entry that cannot be decoded (which atomic writes make unlikely) is
// removed, counted as dropped, and the next one is tried.
func (q *Queue) Peek() (r QueuedReport, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.entries) > 0 {
		e := q.entries[0]
		data, err := os.ReadFile(filepath.Join(q.dir, entryName(e.seq)))
		if err == nil {
			err = json.Unmarshal(data, &r)
		}
		if err == nil {
			r.Seq = e.seq
			return r, true, nil
		}
		if err := q.removeLocked(e.seq); err != nil {
			return QueuedReport{}, false, err
		}
		q.dropped++
	}
	return QueuedReport{}, false, nil
}

// Remove deletes the entry with sequence number seq, once it was sent.
func (q *Queue) Remove(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.removeLocked(seq)
}

func (q *Queue) removeLocked(seq uint64) error {
	i := slices.IndexFunc(q.entries, func(e queueEntry) bool { return e.seq == seq })
	if i < 0 {
		return nil
	}
	if err := os.Remove(filepath.Join(q.dir, entryName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing queued report: %w", err)
	}
	q.bytes -= q.entries[i].size
	q.entries = slices.Delete(q.entries, i, i+1)
	return nil
}

// Len returns the number of queued reports.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries)
}

// Dropped returns how many reports were dropped since the queue was opened:
// pushed out by the bounds, unreadable, or refused by the server.
func (q *Queue) Dropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// countDrop records a report dropped by the caller (refused by the server).
func (q *Queue) countDrop() {
	q.mu.Lock()
	q.dropped++
	q.mu.Unlock()
}

// syncDir flushes a directory's entries so a rename survives a power cut.
// It is best effort: Windows cannot open a directory for syncing, and NTFS
// journals renames anyway.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
