package server

import "github.com/go-chi/chi/v5"

// taxiiRoutes mounts the TAXII 2.1 server for partner organisations.
func (s *Server) taxiiRoutes(r chi.Router) {}
