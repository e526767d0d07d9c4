package server

import "github.com/go-chi/chi/v5"

// intelRoutes registers the collective-defense API: feed, indicators,
// sightings and TAXII.
func (s *Server) intelRoutes(r chi.Router) {}
