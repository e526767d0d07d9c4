package server

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"

	"github.com/healthgate/healthgate/internal/intel"
	"github.com/healthgate/healthgate/internal/risk"
	"github.com/healthgate/healthgate/internal/store"
)

// intelLists holds the active phishing/fake-merchant domains and fraud
// payees in memory, so a decision checks them without a store read. The
// maintain pass reloads them every minute.
type intelLists struct {
	mu      sync.RWMutex
	domains map[string]bool
	payees  map[string]bool
	urls    map[[32]byte]bool // full hashes of listed URL expressions
}

func (l *intelLists) reload(ctx context.Context, st store.Store) error {
	load := func(t intel.Type) (map[string]bool, error) {
		ins, err := st.Indicators(ctx, store.IndicatorFilter{Type: string(t), Status: intel.StatusActive})
		if err != nil {
			return nil, err
		}
		m := make(map[string]bool, len(ins))
		for _, in := range ins {
			m[in.Value] = true
		}
		return m, nil
	}
	domains, err := load(intel.TypeDomain)
	if err != nil {
		return err
	}
	payees, err := load(intel.TypePayee)
	if err != nil {
		return err
	}
	ins, err := st.Indicators(ctx, store.IndicatorFilter{Type: string(intel.TypeURL), Status: intel.StatusActive})
	if err != nil {
		return err
	}
	urls := make(map[[32]byte]bool, len(ins))
	for _, in := range ins {
		var h [32]byte
		if b, err := hex.DecodeString(in.FullHash); err == nil && len(b) == len(h) {
			copy(h[:], b)
			urls[h] = true
		}
	}
	l.mu.Lock()
	l.domains, l.payees, l.urls = domains, payees, urls
	l.mu.Unlock()
	return nil
}

// intelSignals says whether the merchant's host (or a parent domain), its
// URL (any of the expressions a browser visit of it is looked up by, as
// agents look URLs up in the feed) or the payee is on an active intel
// list. The host is looked up in the canonical
// form domain indicators are stored in (the feed's), so that "支付宝.example",
// "EVIL.example.." or "3279880203" find "xn--….example", "evil.example" and
// "195.127.0.11".
func (s *Server) intelSignals(merchantHost, merchantURL, payee string) risk.IntelSignals {
	host := strings.TrimSuffix(merchantHost, ".")
	if expr, err := intel.DomainExpression(merchantHost); err == nil {
		host = strings.TrimSuffix(expr, "/")
	}
	l := &s.intelLists
	l.mu.RLock()
	defer l.mu.RUnlock()
	var sig risk.IntelSignals
	for h := host; h != "" && !sig.MerchantPhishing; {
		sig.MerchantPhishing = l.domains[h]
		_, h, _ = strings.Cut(h, ".")
	}
	if merchantURL != "" && !sig.MerchantPhishing && len(l.urls) > 0 {
		exprs, _ := intel.Expressions(merchantURL)
		for _, x := range exprs {
			if l.urls[intel.FullHash(x)] {
				sig.MerchantPhishing = true
				break
			}
		}
	}
	if payee != "" {
		if n, err := intel.Normalize(intel.TypePayee, payee); err == nil {
			sig.PayeePhishing = l.payees[n.Value]
		}
	}
	return sig
}

func (s *Server) maintainIntelLists(ctx context.Context) {
	if err := s.intelLists.reload(ctx, s.store); err != nil {
		s.log.Warn("reloading intel lists for decisions", slog.Any("err", err))
	}
}
