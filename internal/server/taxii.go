package server

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/healthgate/healthgate/internal/taxii"
)

// taxiiRoutes mounts the TAXII 2.1 server for partner organisations
// (docs/TAXII.md). It answers TAXII error messages itself, not the
// {"error":…} shape of the rest of the API.
func (s *Server) taxiiRoutes(r chi.Router) {
	h, err := taxii.NewHandler(taxii.Options{Store: s.store, Logger: s.log.With(slog.String("component", "taxii")),
		Now: s.opts.Now, Rand: s.opts.Rand})
	if err != nil {
		// Only without a store, which New refuses before it gets here.
		s.log.Error("TAXII server disabled", slog.Any("err", err))
		return
	}
	r.Handle(taxii.Prefix+"*", h)
	r.Handle("/taxii2", http.RedirectHandler(taxii.Prefix, http.StatusMovedPermanently))
}
