package server

import "github.com/go-chi/chi/v5"

// decisionRoutes registers the relying-party API: transaction decisions.
func (s *Server) decisionRoutes(r chi.Router) {}
