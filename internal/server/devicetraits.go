package server

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// deviceTraits tracks, in memory only, how many devices enrolled from each
// network (/24 for IPv4, /48 for IPv6; by its keyed tag, networkTag) in the
// last hour, and which network each device enrolled from: a burst from one
// network is a device farm registering fake identities (risk signal
// network_enrolments_1h). Networks are never stored; a restart forgets the
// last hour, which only weakens the signal for that hour. Nodes sharing a
// store tell each other (peers.go). Every map is bounded.
type deviceTraits struct {
	mu      sync.Mutex
	nets    map[string][]time.Time
	devices map[string]string
	// virtual remembers, from each device's last report, whether it is a
	// virtual machine or an emulator: device farms run on them.
	virtual map[string]bool
}

const (
	enrolWindow     = time.Hour
	maxEnrolNets    = 100_000
	maxEnrolPerNet  = 1_000
	maxEnrolDevices = 200_000
)

func newDeviceTraits() *deviceTraits {
	return &deviceTraits{nets: make(map[string][]time.Time), devices: make(map[string]string), virtual: make(map[string]bool)}
}

// requestNetwork returns the /24 or /48 (network in decisions.go) the
// request came from.
func requestNetwork(r *http.Request) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", false
	}
	return network(ip), true
}

func (e *deviceTraits) add(deviceID, net string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	times := prune(e.nets[net], now)
	if len(times) >= maxEnrolPerNet {
		times = times[1:]
	}
	if _, ok := e.nets[net]; !ok && len(e.nets) >= maxEnrolNets {
		e.evictNets(now)
	}
	e.nets[net] = append(times, now)
	if len(e.devices) >= maxEnrolDevices {
		for k := range e.devices { // forget an arbitrary device
			delete(e.devices, k)
			break
		}
	}
	e.devices[deviceID] = net
}

// recent is how many devices enrolled in the last hour from the network
// deviceID enrolled from; 0 when that is not known.
func (e *deviceTraits) recent(deviceID string, now time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	net, ok := e.devices[deviceID]
	if !ok {
		return 0
	}
	times := prune(e.nets[net], now)
	e.nets[net] = times
	return len(times)
}

// evictNets drops networks with no enrolment in the window, or an arbitrary
// one when all are busy.
func (e *deviceTraits) evictNets(now time.Time) {
	for k, v := range e.nets {
		if len(prune(v, now)) == 0 {
			delete(e.nets, k)
		}
	}
	for k := range e.nets {
		if len(e.nets) < maxEnrolNets {
			return
		}
		delete(e.nets, k)
	}
}

func prune(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) > enrolWindow {
		i++
	}
	return times[i:]
}

// reported records what a device's latest report said about
// virtualisation, and whether that changed what this node knew.
func (e *deviceTraits) reported(deviceID string, virtual bool) (changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !virtual {
		_, changed = e.virtual[deviceID]
		delete(e.virtual, deviceID)
		return changed
	}
	if e.virtual[deviceID] {
		return false
	}
	if len(e.virtual) >= maxEnrolDevices {
		for k := range e.virtual {
			delete(e.virtual, k)
			break
		}
	}
	e.virtual[deviceID] = true
	return true
}

// isVirtual says whether the device's latest report (on this node, since
// the last restart) said it is a virtual machine or an emulator.
func (e *deviceTraits) isVirtual(deviceID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.virtual[deviceID]
}
