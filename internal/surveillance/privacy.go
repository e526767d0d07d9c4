package surveillance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// k-anonymity bounds for anything shared outside the operator's dashboard.
const (
	// DefaultK is the number of distinct devices that must be behind a
	// shared count.
	DefaultK = 50
	// MinK is the lowest k a configuration may set; below it small-cell
	// counts start to single out households and small offices.
	MinK = 11
)

// Bounds on the privacy budget ε of the Laplace noise, per device, per day,
// per key.
const (
	MinEpsilon = 0.01
	MaxEpsilon = 10
)

// KAnon reports whether count may be shared: only when at least k distinct
// devices are behind it. It returns the count unchanged and true when it
// may, and 0 and false when it must be suppressed. A k below MinK is an
// error, never a silent release.
func KAnon(count, k int) (int, bool, error) {
	if k < MinK {
		return 0, false, fmt.Errorf("k %d is below the minimum %d", k, MinK)
	}
	if count < k {
		return 0, false, nil
	}
	return count, true, nil
}

// ReleaseConfig says how counts are released to partners.
type ReleaseConfig struct {
	// K is the k-anonymity threshold; 0 means DefaultK, anything else must
	// be at least MinK.
	K int
	// Epsilon is the Laplace noise budget per device, per day, per key; 0
	// turns noise off, anything else must lie in [MinEpsilon, MaxEpsilon].
	Epsilon float64
}

// Validate reports every problem with c at once.
func (c ReleaseConfig) Validate() error {
	var errs []error
	if c.K != 0 && c.K < MinK {
		errs = append(errs, fmt.Errorf("k %d is below the minimum %d", c.K, MinK))
	}
	if c.Epsilon != 0 && !(c.Epsilon >= MinEpsilon && c.Epsilon <= MaxEpsilon) {
		errs = append(errs, fmt.Errorf("epsilon %v outside [%v, %v]", c.Epsilon, MinEpsilon, MaxEpsilon))
	}
	return errors.Join(errs...)
}

// Releaser applies [ReleaseConfig] to each count that leaves the operator.
// It is safe for concurrent use.
type Releaser struct {
	k       int
	epsilon float64

	mu   sync.Mutex
	rand io.Reader
	buf  [8]byte
}

// NewReleaser returns a releaser drawing noise from rand (crypto/rand.Reader
// in production). rand may be nil only when noise is off.
func NewReleaser(cfg ReleaseConfig, rand io.Reader) (*Releaser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("release config: %w", err)
	}
	if cfg.K == 0 {
		cfg.K = DefaultK
	}
	if cfg.Epsilon != 0 && rand == nil {
		return nil, errors.New("release with noise needs a random source")
	}
	return &Releaser{k: cfg.K, epsilon: cfg.Epsilon, rand: rand}, nil
}

// Release decides whether trueCount, a count of distinct devices for one
// key on one day, may be shared, and returns the value to share.
//
// The k threshold is applied to the true count, before noise. That keeps
// the promise made to users and partners literal: no shared number ever has
// fewer than k devices behind it. Thresholding the noisy count instead would
// make the suppression decision itself differentially private, but would
// now and then publish a count that 3 or 4 devices stand behind, with a
// zero-mean error that partners cannot tell apart. The price is that
// "released or not" reveals whether the true count reached k: at most one
// bit, near the threshold, per key and day. docs/PRIVACY.md weighs this.
//
// With noise on, the count gets Laplace noise of scale 1/ε (each device
// adds at most 1 to one key's count on one day), is rounded to the nearest
// integer and clamped at 0. Rounding and clamping are post-processing and
// cost no privacy. A shared value can therefore fall below k although the
// count behind it did not. If the random source fails nothing is released.
func (r *Releaser) Release(trueCount int) (int, bool, error) {
	v, ok, err := KAnon(trueCount, r.k)
	if err != nil || !ok {
		return 0, false, err
	}
	if r.epsilon == 0 {
		return v, true, nil
	}
	r.mu.Lock()
	noise, err := laplace(r.rand, r.buf[:], 1/r.epsilon)
	r.mu.Unlock()
	if err != nil {
		return 0, false, fmt.Errorf("draw noise: %w", err)
	}
	// Clamped to [0, 2^53]: no count is negative, and converting a float
	// beyond the int range back would wrap around.
	return int(min(max(0, math.Round(float64(v)+noise)), 1<<53)), true, nil
}

// laplace draws from the Laplace distribution with mean 0 and scale b as a
// random sign times an exponential draw -b·ln(v), with v uniform on
// (0, 1] from 52 random bits, so the logarithm never sees 0 and the noise
// is at most about 36.04b in magnitude (-ln 2^-52).
func laplace(rand io.Reader, buf []byte, b float64) (float64, error) {
	if _, err := io.ReadFull(rand, buf[:8]); err != nil {
		return 0, err
	}
	bits := binary.LittleEndian.Uint64(buf[:8])
	v := float64(bits>>12+1) / (1 << 52)
	x := -b * math.Log(v)
	if bits&1 == 1 {
		x = -x
	}
	return x, nil
}
