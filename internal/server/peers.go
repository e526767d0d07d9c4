package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/healthgate/healthgate/internal/store"
)

// On a store that several nodes share (store.Peers: PostgreSQL), each node
// keeps counting in memory what the others see: their decisions, in the
// velocity windows and account sets, and their announcements of enrolment
// networks and virtual machines, in the device traits. Nothing here is
// stored: networks travel as keyed tags, and a node that is not listening
// misses announcements (a restart forgets the last hour anyway).

// Kinds of announcement.
const (
	announceEnrolment = "enrolment" // enrolmentNote: a device enrolled from a network
	announceVirtual   = "virtual"   // virtualNote: what a device's report said of virtualisation
	announceKeys      = "api-keys"  // keysNote: a relying party's API keys changed in the store
)

type keysNote struct {
	RelyingParty string `json:"rp"`
}

// AnnounceKeysChanged tells the servers sharing peers that the API keys of
// a relying party changed in the store (revoked, or cut short by a
// rotation), so that they drop the keys they cached and the change takes
// effect at once rather than within KeyCacheTTL. The CLI calls it.
func AnnounceKeysChanged(ctx context.Context, peers store.Peers, rpID string) error {
	body, err := json.Marshal(keysNote{RelyingParty: rpID})
	if err != nil {
		return err
	}
	return peers.Announce(ctx, announceKeys, body)
}

type enrolmentNote struct {
	Device  string `json:"device"`
	Network string `json:"network"` // networkTag
}

type virtualNote struct {
	Device  string `json:"device"`
	Virtual bool   `json:"virtual"`
}

// networkTag is the keyed tag under which device traits count a network's
// enrolments: the same at every node (the key is a service secret), never
// the network itself.
func (s *Server) networkTag(network string) string {
	return s.dec.hash("enrolment-network", "", network)
}

// announce tells the other nodes, if there are any, what this one saw. A
// failure only weakens their signals: it is logged, not returned.
func (s *Server) announce(ctx context.Context, kind string, note any) {
	if s.peers == nil {
		return
	}
	body, err := json.Marshal(note)
	if err == nil {
		err = s.peers.Announce(ctx, kind, body)
	}
	if err != nil {
		s.log.Warn("telling other nodes", slog.String("kind", kind), slog.Any("err", err))
	}
}

// watchPeers counts what other nodes see until ctx ends.
func (s *Server) watchPeers(ctx context.Context) {
	d := s.dec
	s.peers.WatchPeers(ctx, d.loadedAt, d.loaded, store.PeerHandlers{
		Decision: func(dec store.Decision) {
			d.tracker.Observe(activity(dec))
			if dec.DeviceID != "" {
				d.accounts.add(dec.RPID, dec.DeviceID, dec.Account)
			}
			s.metrics.peerDecisions.Inc()
		},
		Announcement: s.peerAnnouncement,
		Watching: func() {
			s.metrics.peerWatch.Set(1)
		},
		Lost: func(err error) {
			s.metrics.peerWatch.Set(0)
			s.log.Warn("lost the watch on other nodes; reconnecting", slog.Any("err", err))
		},
	})
	s.metrics.peerWatch.Set(0)
}

// peerAnnouncement takes in what another node announced.
func (s *Server) peerAnnouncement(kind string, body []byte) {
	var err error
	switch kind {
	case announceEnrolment:
		var n enrolmentNote
		if err = json.Unmarshal(body, &n); err == nil && n.Device != "" && n.Network != "" {
			s.traits.add(n.Device, n.Network, s.opts.Now())
		}
	case announceVirtual:
		var n virtualNote
		if err = json.Unmarshal(body, &n); err == nil && n.Device != "" {
			s.traits.reported(n.Device, n.Virtual)
		}
	case announceKeys:
		var n keysNote
		if err = json.Unmarshal(body, &n); err == nil && n.RelyingParty != "" {
			s.dec.keys.forgetRP(n.RelyingParty)
		}
	default:
		return // a newer node's kind: nothing this one can use
	}
	if err != nil {
		s.log.Debug("ignoring a malformed announcement", slog.String("kind", kind), slog.Any("err", err))
		return
	}
	s.metrics.peerAnnouncements.WithLabelValues(kind).Inc()
}

// peerTimeout bounds an announcement in a request's path.
const peerTimeout = 2 * time.Second
