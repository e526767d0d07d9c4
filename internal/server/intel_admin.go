package server

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/store"
)

// intelAdminRoutes is the operator's HTTP API for indicators (scope admin):
// the same operations as `healthgate intel add|import|list|retire`, with the
// relying party and key in the audit trail.
func (s *Server) intelAdminRoutes(r chi.Router) {
	r.Post("/v1/admin/indicators", s.wrap(s.authed(store.ScopeAdmin, s.handleAddIndicators)))
	r.Get("/v1/admin/indicators", s.wrap(s.authed(store.ScopeAdmin, s.handleListIndicators)))
	r.Get("/v1/admin/indicators/{id}", s.wrap(s.authed(store.ScopeAdmin, s.handleGetIndicator)))
	r.Post("/v1/admin/indicators/{id}/retire", s.wrap(s.authed(store.ScopeAdmin, s.handleRetireIndicator)))
	r.Post("/v1/admin/indicators/{id}/activate", s.wrap(s.authed(store.ScopeAdmin, s.handleActivateIndicator)))
}

// maxAdminIndicators bounds one POST; larger sets go through `intel import`.
const maxAdminIndicators = 10_000

type indicatorInput struct {
	Type       string `json:"type"`
	Value      string `json:"value"`
	Source     string `json:"source,omitempty"`
	Confidence *int   `json:"confidence,omitempty"`
	TTL        string `json:"ttl,omitempty"` // "7d", "12h"
	Reason     string `json:"reason,omitempty"`
	Status     string `json:"status,omitempty"` // active (default) or pending_review
}

type indicatorOutput struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Value      string `json:"value"`
	Source     string `json:"source"`
	Confidence int    `json:"confidence"`
	Status     string `json:"status"`
	FirstSeen  string `json:"first_seen"`
	LastSeen   string `json:"last_seen"`
	Expires    string `json:"expires,omitempty"`
}

func indicatorOut(in store.Indicator) indicatorOutput {
	o := indicatorOutput{ID: in.ID, Type: in.Type, Value: in.Value, Source: in.Source, Confidence: in.Confidence,
		Status: in.Status, FirstSeen: in.FirstSeen.UTC().Format(timeFormat), LastSeen: in.LastSeen.UTC().Format(timeFormat)}
	if !in.Expires.IsZero() {
		o.Expires = in.Expires.UTC().Format(timeFormat)
	}
	return o
}

const timeFormat = "2006-01-02T15:04:05Z07:00"

func (s *Server) actor(r *http.Request) string { return "rp:" + relyingParty(r.Context()) }

// handleAddIndicators takes {"indicators": [...]}: all are checked first;
// one bad entry refuses the request with its index and nothing is stored.
func (s *Server) handleAddIndicators(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Indicators []indicatorInput `json:"indicators"`
	}
	if err := decodeJSON(w, r, 8<<20, &req); err != nil {
		return err
	}
	if n := len(req.Indicators); n == 0 || n > maxAdminIndicators {
		return errorf(http.StatusBadRequest, "bad_indicators", "send 1 to %d indicators", maxAdminIndicators)
	}
	now := s.opts.Now().UTC()
	ins := make([]store.Indicator, 0, len(req.Indicators))
	for i, in := range req.Indicators {
		conf := ""
		if in.Confidence != nil {
			conf = strconv.Itoa(*in.Confidence)
		}
		source := in.Source
		if source == "" {
			source = s.actor(r)
		}
		rec, err := intel.NewRecord(in.Type, in.Value, source, conf, in.TTL, in.Reason, in.Status)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad_indicator", "indicators[%d]: %v", i, err)
		}
		ind, err := intelstore.NewIndicator(rec, now)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad_indicator", "indicators[%d]: %v", i, err)
		}
		ins = append(ins, ind)
	}
	stored, err := s.store.PutIndicators(r.Context(), ins, store.Change{Actor: s.actor(r), Reason: "admin API", At: now})
	if err != nil {
		return err
	}
	if err := intelstore.Share(r.Context(), s.store, stored, now); err != nil {
		s.log.Warn("sharing indicators over TAXII", "err", err)
	}
	out := make([]indicatorOutput, len(stored))
	for i, in := range stored {
		out[i] = indicatorOut(in)
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"indicators": out})
}

func (s *Server) handleListIndicators(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			return errorf(http.StatusBadRequest, "bad_limit", "limit must be 1 to 10000")
		}
		limit = n
	}
	if t := q.Get("type"); t != "" && !validType(t) {
		return errorf(http.StatusBadRequest, "bad_type", "unknown indicator type %q", t)
	}
	if st := q.Get("status"); st != "" && !slices.Contains(intel.Statuses, st) {
		return errorf(http.StatusBadRequest, "bad_status", "unknown indicator status %q (want one of %s)", st, strings.Join(intel.Statuses, ", "))
	}
	// One more than asked says whether the list was cut.
	ins, err := s.store.Indicators(r.Context(), store.IndicatorFilter{Type: q.Get("type"), Status: q.Get("status"), Limit: limit + 1})
	if err != nil {
		return err
	}
	more := len(ins) > limit
	ins = ins[:min(len(ins), limit)]
	out := make([]indicatorOutput, len(ins))
	for i, in := range ins {
		out[i] = indicatorOut(in)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"indicators": out, "more": more})
}

func validType(t string) bool {
	for _, v := range intel.Types {
		if string(v) == t {
			return true
		}
	}
	return false
}

func (s *Server) handleGetIndicator(w http.ResponseWriter, r *http.Request) error {
	in, err := s.store.Indicator(r.Context(), chi.URLParam(r, "id"), "", "")
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no such indicator")
	} else if err != nil {
		return err
	}
	events, err := s.store.IndicatorEvents(r.Context(), in.ID)
	if err != nil {
		return err
	}
	audit := make([]map[string]any, len(events))
	for i, e := range events {
		audit[i] = map[string]any{"at": e.At.UTC().Format(timeFormat), "actor": e.Actor, "action": e.Action,
			"from_status": e.FromStatus, "to_status": e.ToStatus, "reason": e.Reason}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"indicator": indicatorOut(in), "audit": audit})
}

func (s *Server) handleRetireIndicator(w http.ResponseWriter, r *http.Request) error {
	return s.setIndicatorStatus(w, r, intel.StatusRetired)
}

// handleActivateIndicator puts an indicator on the feed, typically one that
// surveillance promoted as suspicious after an analyst reviewed it.
func (s *Server) handleActivateIndicator(w http.ResponseWriter, r *http.Request) error {
	return s.setIndicatorStatus(w, r, intel.StatusActive)
}

func (s *Server) setIndicatorStatus(w http.ResponseWriter, r *http.Request, status string) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, maxJSONBody, &req); err != nil {
		return err
	}
	if req.Reason == "" || len(req.Reason) > 512 {
		return errorf(http.StatusBadRequest, "bad_reason", "say why (at most 512 bytes)")
	}
	if status == intel.StatusActive {
		// Its lifetime is not renewed by a status change: an indicator
		// past its expiry would be active until the next maintenance pass
		// expires it again. Adding it again renews it.
		in, err := s.store.Indicator(r.Context(), chi.URLParam(r, "id"), "", "")
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "not_found", "no such indicator")
		} else if err != nil {
			return err
		}
		if now := s.opts.Now(); !in.Expires.IsZero() && !in.Expires.After(now) {
			return errorf(http.StatusConflict, "indicator_expired", "the indicator's lifetime ended at %s: add it again (POST /v1/admin/indicators) to renew it",
				in.Expires.UTC().Format(timeFormat))
		}
	}
	in, err := s.store.SetIndicatorStatus(r.Context(), chi.URLParam(r, "id"), status,
		store.Change{Actor: s.actor(r), Reason: req.Reason, At: s.opts.Now().UTC()})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no such indicator")
	} else if err != nil {
		return err
	}
	if status == intel.StatusActive {
		if err := intelstore.Share(r.Context(), s.store, []store.Indicator{in}, s.opts.Now().UTC()); err != nil {
			s.log.Warn("sharing an activated indicator over TAXII", "err", err)
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"indicator": indicatorOut(in)})
}
