package server

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Enrolment is the one write anyone may make without a key: each new
// device key adds a row. enrolLimiter bounds it per network (the /24 or
// /48 of the request, as the enrolment-burst signal counts them) with a
// token bucket: enrolBurst at once, then enrolPerMinute. A rollout behind
// one address is spread over minutes (agents retry with backoff); one
// address cannot fill the store. Loopback is exempt: the demo and local
// tests enrol whole simulated fleets from it.
const (
	enrolPerMinute = 60
	enrolBurst     = 600
	maxEnrolKeys   = 100_000 // networks remembered
)

type enrolLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*tokenBucket
	// limitLoopback subjects loopback to the limit too (tests).
	limitLoopback bool
}

type tokenBucket struct {
	tokens float64
	at     time.Time
}

func newEnrolLimiter(now func() time.Time) *enrolLimiter {
	return &enrolLimiter{now: now, buckets: map[string]*tokenBucket{}}
}

// allow takes a token for the request's network, or says how long until
// one is free.
func (l *enrolLimiter) allow(r *http.Request) (bool, time.Duration) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return true, 0
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsLoopback() && !l.limitLoopback {
		return true, 0
	}
	key := network(ip)
	now := l.now()
	const rate = enrolPerMinute / 60.0 // tokens a second
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxEnrolKeys {
			l.evict(now, rate)
		}
		b = &tokenBucket{tokens: enrolBurst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(enrolBurst, b.tokens+max(0, now.Sub(b.at).Seconds())*rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration(math.Ceil((1-b.tokens)/rate)) * time.Second
	}
	b.tokens--
	return true, 0
}

// evict forgets the networks whose bucket has filled up again (nothing
// to remember), or an arbitrary one when none has. l.mu is held.
func (l *enrolLimiter) evict(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*rate >= enrolBurst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxEnrolKeys {
			return
		}
		delete(l.buckets, k)
	}
}

// limitEnrolment refuses an enrolment past its network's share with 429
// and Retry-After.
func (s *Server) limitEnrolment(w http.ResponseWriter, r *http.Request) error {
	ok, retry := s.enrolLimit.allow(r)
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	return errorf(http.StatusTooManyRequests, "rate_limited", "too many enrolments from this network: try again in %d s", int(retry/time.Second))
}
