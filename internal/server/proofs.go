package server

import (
	"sync"
	"time"
)

// usedProofs remembers proofs of possession until they could no longer
// verify anyway (iat + MaxProofAge, plus the clock leeway), so that a proof
// taken off the wire cannot buy a second decision. Memory is bounded: at
// maxProofs, expired entries are dropped first, then the oldest by expiry.
// Per node: on a cluster, a replay to another node within the 5 minutes is
// not caught.
type usedProofs struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time // proof hash → when it expires
}

const maxProofs = 1_000_000

// use records a proof and reports whether it was new.
func (u *usedProofs) use(h [32]byte, expires, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = make(map[[32]byte]time.Time)
	}
	if exp, ok := u.m[h]; ok && now.Before(exp) {
		return false
	}
	if len(u.m) >= maxProofs {
		for k, exp := range u.m {
			if !now.Before(exp) {
				delete(u.m, k)
			}
		}
		for k := range u.m { // still full: forget an arbitrary one
			if len(u.m) < maxProofs {
				break
			}
			delete(u.m, k)
		}
	}
	u.m[h] = expires
	return true
}
