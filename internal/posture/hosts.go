package posture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/healthgate/healthgate/evidence"
)

// Limits on the hosts file.
const (
	maxHostsEntries = 512 // entries a report carries (the evidence limit)
	// maxHostsBytes is how much of the file is read, line by line (memory
	// stays bounded by the entries kept): far more than the largest
	// ad-blocking lists, so that padding cannot push a hijack out of
	// reach; the rest of a larger file is ignored and the facts say so.
	maxHostsBytes = 64 << 20
	maxHostsLine  = 64 << 10 // a longer line is skipped
)

// readHosts reads and parses a device's hosts file (see parseHosts). A
// file that does not exist has no entries.
func (e *Env) readHosts(name, hostname string) (*evidence.HostsFacts, error) {
	f, _, err := e.open(name)
	if isNotExist(err) {
		return &evidence.HostsFacts{Entries: []evidence.HostEntry{}}, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading hosts file: %w", err)
	}
	defer f.Close()
	entries, truncated, err := scanHosts(&limitedReader{r: f, left: maxHostsBytes}, hostname)
	if errors.Is(err, errHostsTooLarge) {
		truncated = true // the line the limit cut is not read
	} else if err != nil {
		return nil, fmt.Errorf("reading hosts file: %w", err)
	}
	return &evidence.HostsFacts{Entries: entries, Truncated: truncated}, nil
}

var errHostsTooLarge = errors.New("hosts file larger than the limit")

// limitedReader fails once left bytes are read, where io.LimitReader would
// end the file and let its cut last line be read as a whole one.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errHostsTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// parseHosts is scanHosts over a file read whole.
func parseHosts(data []byte, hostname string) (entries []evidence.HostEntry, truncated bool) {
	entries, truncated, _ = scanHosts(bytes.NewReader(data), hostname)
	return entries, truncated
}

// parseHosts returns the entries of a hosts file that are not the standard
// loopback and IPv6 multicast lines, one per distinct (host, address) pair
// in file order, with host names lower-cased and without a trailing dot.
// Lines that do not parse, invalid addresses and invalid host names are
// skipped. hostname is the device's own name (from /etc/hostname), whose
// loopback line is standard too; it may be empty. truncated is true when
// there were more than maxHostsEntries entries: then the entries kept are
// those on other addresses first, then on loopback, then on 0.0.0.0 or ::,
// so that the thousands of blocking lines of an ad-blocking hosts file
// cannot hide a hijack appended after them.
func scanHosts(r io.Reader, hostname string) (entries []evidence.HostEntry, truncated bool, err error) {
	hostname = normalizeHost(hostname)
	type kept struct {
		e    evidence.HostEntry
		rank int
	}
	var all []kept
	var perRank [3]int
	seen := make(map[evidence.HostEntry]bool) // only entries kept
	br := bufio.NewReaderSize(r, maxHostsLine)
	for {
		line, rerr := br.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			for errors.Is(rerr, bufio.ErrBufferFull) { // skip the rest of an overlong line
				_, rerr = br.ReadSlice('\n')
			}
			if rerr != nil && rerr != io.EOF {
				err = rerr
				break
			}
			continue
		}
		if rerr != nil && rerr != io.EOF {
			err = rerr // a line without its end is not read
			break
		}
		if len(line) == 0 && rerr == io.EOF {
			break
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(string(line))
		if len(fields) < 2 || len(fields[0]) > 64 {
			continue
		}
		addr, perr := netip.ParseAddr(fields[0])
		if perr != nil {
			continue
		}
		rank := hostsRank(addr)
		for _, h := range fields[1:] {
			h = normalizeHost(h)
			if h == "" || standardHostsEntry(addr, h, hostname) {
				continue
			}
			e := evidence.HostEntry{Host: h, IP: addr.String()}
			if seen[e] {
				continue
			}
			if perRank[rank] == maxHostsEntries {
				truncated = true
				continue
			}
			perRank[rank]++
			seen[e] = true
			all = append(all, kept{e, rank})
		}
	}
	if len(all) > maxHostsEntries {
		truncated = true
		// Keep the first entries of the lowest ranks, in file order.
		counts := [3]int{}
		left := maxHostsEntries
		for r := range counts {
			counts[r] = min(perRank[r], left)
			left -= counts[r]
		}
		filtered := all[:0]
		for _, k := range all {
			if counts[k.rank] > 0 {
				counts[k.rank]--
				filtered = append(filtered, k)
			}
		}
		all = filtered
	}
	entries = make([]evidence.HostEntry, len(all))
	for i, k := range all {
		entries[i] = k.e
	}
	return entries, truncated, err
}

// hostsRank orders hosts entries by how likely they redirect a name
// somewhere harmful: 0 for a real address, 1 for loopback, 2 for the
// unspecified address (0.0.0.0, ::), which ad blockers use to make a name
// unreachable.
func hostsRank(addr netip.Addr) int {
	switch addr = addr.Unmap().WithZone(""); {
	case addr.IsUnspecified():
		return 2
	case addr.IsLoopback():
		return 1
	}
	return 0
}

// Networks of the standard IPv6 lines (ff02::1 ip6-allnodes, fe00::0
// ip6-localnet, …) that every distribution writes.
var (
	ipv6LinkMulticast = netip.MustParsePrefix("ff02::/16")
	ipv6LocalNet      = netip.MustParsePrefix("fe00::/16")
)

// standardHostsEntry reports whether (addr, host) is one of the lines
// distributions write themselves: localhost names on loopback, the
// device's own name on loopback (Debian's 127.0.1.1 line), and the IPv6
// multicast names. A payment domain on loopback is not standard and stays.
func standardHostsEntry(addr netip.Addr, host, hostname string) bool {
	addr = addr.Unmap().WithZone("")
	if ipv6LinkMulticast.Contains(addr) || ipv6LocalNet.Contains(addr) {
		return true
	}
	if !addr.IsLoopback() {
		return false
	}
	switch host {
	case "localhost", "localhost.localdomain", "localhost4", "localhost4.localdomain4",
		"localhost6", "localhost6.localdomain6":
		return true
	}
	if strings.HasPrefix(host, "ip6-") {
		return true
	}
	// Debian writes "127.0.1.1 name.domain name" for the device's own
	// name; other systems put the name on 127.0.0.1 or ::1.
	debian := addr == netip.AddrFrom4([4]byte{127, 0, 1, 1})
	if hostname == "" {
		return debian && !strings.Contains(host, ".")
	}
	short, _, _ := strings.Cut(hostname, ".")
	return host == hostname || host == short || debian && strings.HasPrefix(host, short+".")
}

// normalizeHost returns h lower-cased without a trailing dot, or "" when
// it is not a valid DNS host name (letters, digits, '-' and '_' in labels
// of 1 to 63 bytes, at most 253 bytes in all).
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return ""
	}
	label := 0
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '.':
			if label == 0 {
				return ""
			}
			label = 0
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			if label++; label > 63 {
				return ""
			}
		default:
			return ""
		}
	}
	if label == 0 {
		return ""
	}
	return h
}
