package surveillance

import (
	"errors"
	"fmt"
	"math"
)

// Method is one of the CDC Early Aberration Reporting System (EARS)
// statistics.
type Method int

// The EARS methods, from least to most sensitive.
const (
	// C1 ("mild"): the baseline is the Baseline days just before day t.
	C1 Method = iota + 1
	// C2 ("medium"): the same with a two-day guard band, days
	// t-Baseline-2 … t-3, so the first days of an outbreak do not inflate
	// their own baseline.
	C2
	// C3 ("high" in earsC, "ultra" in CDC EARS): the sum of the positive parts of C2 - 1 over day t and
	// the two days before it.
	C3
)

func (m Method) String() string {
	switch m {
	case C1:
		return "C1"
	case C2:
		return "C2"
	case C3:
		return "C3"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// MaxObservation is the largest magnitude an observation may have; larger
// or non-finite values are treated as missing. It keeps every statistic
// finite.
const MaxObservation = 1e15

// EARSConfig configures [EARS]. Use [DefaultEARS] and change what differs.
//
// Source: the earsC function of the R package surveillance (Salmon,
// Schumacher and Höhle, 2016, doi:10.18637/jss.v070.i10; file R/earsC.R and
// its manual page), which follows Hutwagner et al. (2003) and Fricker,
// Hegler and Dunfee (2008, Statistics in Medicine 27:3407-3429).
type EARSConfig struct {
	Method Method
	// Baseline is the number of days in the baseline window: 7 in EARS and
	// earsC; at least 3, as earsC requires.
	Baseline int
	// MinSigma is the floor under the baseline standard deviation, the
	// minSigma of earsC. earsC defaults to 0, which divides by zero when the
	// baseline is flat (C1 and C2 then alarm on any count above the mean and
	// the C3 statistic is infinite). Healthgate requires it to be at least
	// 1e-6 and defaults to 1 device, the larger of the two values Howard
	// Burkom suggests in the earsC manual for sparse data: after seven days
	// of exactly 10 devices, day t needs more than 13 to alarm under C1.
	MinSigma float64
	// Threshold is the alarm level for the statistic: a day alarms when its
	// statistic is strictly greater, as earsC compares the count with its
	// upper bound. Defaults are the CDC's fixed values, 3 for C1 and C2 and 2
	// for C3. earsC derives them from alpha instead, qnorm(1 - alpha), with
	// alpha 0.001 for C1 and C2 (3.090) and 0.025 for C3 (1.960); to match it
	// exactly set 3.090232306167813 and 1.959963984540054.
	Threshold float64
}

// DefaultEARS returns the defaults for m: a 7-day baseline, MinSigma 1 and
// the CDC threshold (3 for C1 and C2, 2 for C3).
func DefaultEARS(m Method) EARSConfig {
	c := EARSConfig{Method: m, Baseline: 7, MinSigma: 1, Threshold: 3}
	if m == C3 {
		c.Threshold = 2
	}
	return c
}

// Validate reports every problem with c at once.
func (c EARSConfig) Validate() error {
	var errs []error
	if c.Method < C1 || c.Method > C3 {
		errs = append(errs, fmt.Errorf("unknown ears method %d", int(c.Method)))
	}
	if c.Baseline < 3 || c.Baseline > 366 {
		errs = append(errs, fmt.Errorf("ears baseline %d outside 3..366 days", c.Baseline))
	}
	if !(c.MinSigma >= 1e-6) || math.IsInf(c.MinSigma, 0) {
		errs = append(errs, fmt.Errorf("ears min sigma %v must be finite and at least 1e-6", c.MinSigma))
	}
	if !(c.Threshold > 0 && c.Threshold <= 100) {
		errs = append(errs, fmt.Errorf("ears threshold %v outside (0, 100]", c.Threshold))
	}
	return errors.Join(errs...)
}

// EARSPoint is the verdict for one day of a series.
type EARSPoint struct {
	// OK is false when the day has no statistic: too few earlier days, or a
	// missing value (non-finite or beyond MaxObservation) on the day or in
	// its windows. Such a day never alarms; the other fields are zero.
	OK       bool
	Observed float64
	// Mean and Sigma describe day t's own baseline (for C3, that of C2 at
	// day t); Sigma is the sample standard deviation (n-1), floored at
	// MinSigma.
	Mean, Sigma float64
	Statistic   float64
	// UpperBound is Mean + Threshold × Sigma for C1 and C2, the count above
	// which day t alarms. It is zero for C3, whose alarm also depends on the
	// two days before.
	UpperBound float64
	Alarm      bool
}

// EARS computes the configured EARS statistic for every day of series, a
// daily count (or rate) with the oldest day first. Day t gets
//
//	C1(t) = (y[t] - mean(y[t-B..t-1])) / max(sd(y[t-B..t-1]), MinSigma)
//	C2(t) = (y[t] - mean(y[t-B-2..t-3])) / max(sd(y[t-B-2..t-3]), MinSigma)
//	C3(t) = max(0, C2(t-2)-1) + max(0, C2(t-1)-1) + max(0, C2(t)-1)
//
// with B the baseline and sd the sample standard deviation, and alarms when
// the statistic is greater than Threshold. The first day with a statistic
// is t = B for C1, B+2 for C2 and B+4 for C3 (counting from 0), as in
// earsC's default range.
//
// C3 is the statistic as defined in the earsC manual page and in Fricker et
// al. (2008), the sum of the positive parts of C2 - 1 over the current and
// previous two days. earsC's code instead sets the upper bound to
// y[t] + sd·(threshold - the two lagged terms), under which y[t] drops out
// and only the two earlier days decide the alarm; Healthgate follows the
// documented definition, not that code path.
func EARS(series []float64, cfg EARSConfig) ([]EARSPoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := make([]EARSPoint, len(series))
	switch cfg.Method {
	case C1:
		for t := range series {
			out[t] = shewhart(series, t, t-cfg.Baseline, cfg)
		}
	case C2:
		for t := range series {
			out[t] = shewhart(series, t, t-cfg.Baseline-2, cfg)
		}
	case C3:
		c2 := make([]EARSPoint, len(series))
		for t := range series {
			c2[t] = shewhart(series, t, t-cfg.Baseline-2, cfg)
		}
		for t := 2; t < len(series); t++ {
			if !c2[t].OK || !c2[t-1].OK || !c2[t-2].OK {
				continue
			}
			p := c2[t]
			p.Statistic = 0
			for i := t - 2; i <= t; i++ {
				p.Statistic += math.Max(0, c2[i].Statistic-1)
			}
			p.UpperBound = 0
			p.Alarm = p.Statistic > cfg.Threshold
			out[t] = p
		}
	}
	return out, nil
}

// shewhart is C1 or C2 at day t with the baseline starting at day from.
func shewhart(series []float64, t, from int, cfg EARSConfig) EARSPoint {
	if from < 0 || !present(series[t]) {
		return EARSPoint{}
	}
	base := series[from : from+cfg.Baseline]
	var sum float64
	for _, v := range base {
		if !present(v) {
			return EARSPoint{}
		}
		sum += v
	}
	mean := sum / float64(len(base))
	var ss float64
	for _, v := range base {
		ss += (v - mean) * (v - mean)
	}
	sigma := math.Max(math.Sqrt(ss/float64(len(base)-1)), cfg.MinSigma)
	stat := (series[t] - mean) / sigma
	return EARSPoint{
		OK:         true,
		Observed:   series[t],
		Mean:       mean,
		Sigma:      sigma,
		Statistic:  stat,
		UpperBound: mean + cfg.Threshold*sigma,
		Alarm:      stat > cfg.Threshold,
	}
}

func present(v float64) bool {
	return !math.IsNaN(v) && math.Abs(v) <= MaxObservation
}
