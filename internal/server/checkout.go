package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/healthgate/healthgate/internal/store"
	"github.com/healthgate/healthgate/internal/web"
)

// checkoutRoutes serves what checkout needs: the SDK merchant pages
// include, and the agents' configuration (which page origins they answer).
func (s *Server) checkoutRoutes(r chi.Router) {
	r.Method(http.MethodGet, "/sdk/healthgate.js", web.SDK())
	r.Method(http.MethodGet, "/ui/*", web.UI())
	r.Get("/ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) })
	r.Get("/v1/agent/config", s.wrap(s.handleAgentConfig))
	r.Post("/v1/sessions", s.wrap(s.authed(store.ScopeDecisions, s.handleNewSession))) // sessions.go
}

// AgentConfig is what agents fetch from GET /v1/agent/config.
type AgentConfig struct {
	// CheckoutOrigins are the page origins allowed to ask an agent for a
	// proof on loopback.
	CheckoutOrigins []string `json:"checkout_origins"`
}

func (s *Server) handleAgentConfig(w http.ResponseWriter, r *http.Request) error {
	origins := s.opts.CheckoutOrigins
	if origins == nil {
		origins = []string{}
	}
	return writeJSON(w, http.StatusOK, AgentConfig{CheckoutOrigins: origins})
}
