package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/healthgate/healthgate/internal/intel/intelstore"
	"github.com/healthgate/healthgate/internal/taxii"
)

// PartnerPull is a partner's TAXII collection the server pulls on a
// schedule, merging its indicators with the partner's name as source and
// Trust as confidence (intel pull does the same by hand).
type PartnerPull struct {
	Partner    string
	URL        string // the partner's TAXII discovery or API root URL
	Token      string // our Bearer token at the partner
	Collection string // default "indicators"
	Trust      int    // 0–100
	Every      time.Duration
	Client     *http.Client // default: 30 s timeout
}

// Pull schedule bounds.
const (
	DefaultPullEvery = time.Hour
	MinPullEvery     = 5 * time.Minute
	MaxPullEvery     = 24 * time.Hour
)

// Validate reports every problem of a pull configuration at once.
func (p PartnerPull) Validate() error {
	var errs []error
	if p.Partner == "" {
		errs = append(errs, errors.New("partner name is missing"))
	}
	if p.URL == "" {
		errs = append(errs, errors.New("TAXII URL is missing"))
	}
	if p.Token == "" {
		errs = append(errs, errors.New("token is missing"))
	}
	if p.Trust < 0 || p.Trust > 100 {
		errs = append(errs, fmt.Errorf("trust %d is not 0 to 100", p.Trust))
	}
	if p.Every != 0 && (p.Every < MinPullEvery || p.Every > MaxPullEvery) {
		errs = append(errs, fmt.Errorf("pull interval %v is outside [%v, %v]", p.Every, MinPullEvery, MaxPullEvery))
	}
	return errors.Join(errs...)
}

// pullLoop pulls one partner collection every p.Every (±10%) until ctx
// ends. A failed pull is logged and tried again at the next turn; the
// resume point only moves past pages that were merged.
func (s *Server) pullLoop(ctx context.Context, p PartnerPull) {
	every := p.Every
	if every == 0 {
		every = DefaultPullEvery
	}
	for {
		if err := s.pullPartner(ctx, p); err != nil && ctx.Err() == nil {
			s.log.Warn("pulling partner indicators", slog.String("partner", p.Partner), slog.Any("err", err))
		}
		wait := time.Duration(float64(every) * (0.9 + 0.2*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// PullPartners pulls every configured partner collection once, now.
func (s *Server) PullPartners(ctx context.Context) error {
	var errs []error
	for _, p := range s.opts.PartnerPulls {
		if err := s.pullPartner(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Partner, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) pullPartner(ctx context.Context, p PartnerPull) error {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	coll := p.Collection
	if coll == "" {
		coll = "indicators"
	}
	c := &taxii.Client{HTTP: client, Token: p.Token}
	collURL, _, err := c.FindCollection(ctx, p.URL, coll)
	if err != nil {
		return err
	}
	res, err := taxii.PullIndicators(ctx, c, s.store, intelstore.NewPartnerSink(s.store), p.Partner, p.Trust,
		taxii.PullOptions{CollectionURL: collURL})
	if err != nil {
		return err
	}
	if res.Objects > 0 || res.Rejected > 0 {
		s.log.Info("partner indicators pulled", slog.String("partner", p.Partner), slog.Int("objects", res.Objects),
			slog.Int("rejected", res.Rejected), slog.Int("pages", res.Pages))
	}
	return nil
}
