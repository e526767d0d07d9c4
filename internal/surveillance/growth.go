package surveillance

import (
	"errors"
	"fmt"
	"math"
)

// GrowthConfig flags a new executable hash or domain that is spreading
// across devices faster than a baseline method like [EARS] can notice: EARS
// needs a week of history, a fresh hash has none.
//
// Two rules, each on distinct devices per day (Sightings[key].Devices summed
// over regions, or for one region):
//
//   - Surge: today ≥ MinDevices and today ≥ Ratio × yesterday. A hash that
//     no device had yesterday and 40 have today surges; one that went from
//     30 to 45 does not.
//   - Doubling: two days of strict growth from a floor, dayBefore ≥ Floor,
//     dayBefore < yesterday < today, today ≥ 2 × dayBefore and
//     today ≥ MinDevices. It catches steady spread of about 41% a day or
//     more, which never trips a Ratio of 2 in a single day.
type GrowthConfig struct {
	MinDevices int     // default 20
	Ratio      float64 // default 2; at least 1
	Floor      int     // default 5; at least 1
}

// DefaultGrowth returns MinDevices 20, Ratio 2 and Floor 5.
func DefaultGrowth() GrowthConfig {
	return GrowthConfig{MinDevices: 20, Ratio: 2, Floor: 5}
}

// Validate reports every problem with c at once.
func (c GrowthConfig) Validate() error {
	var errs []error
	if c.MinDevices < 1 {
		errs = append(errs, fmt.Errorf("growth min devices %d is below 1", c.MinDevices))
	}
	if !(c.Ratio >= 1) || math.IsInf(c.Ratio, 0) {
		errs = append(errs, fmt.Errorf("growth ratio %v must be finite and at least 1", c.Ratio))
	}
	if c.Floor < 1 {
		errs = append(errs, fmt.Errorf("growth floor %d is below 1", c.Floor))
	}
	return errors.Join(errs...)
}

// GrowthRule names the rule that raised a growth alert.
type GrowthRule string

// The growth rules; see [GrowthConfig].
const (
	NoGrowth GrowthRule = ""
	Surge    GrowthRule = "surge"
	Doubling GrowthRule = "doubling"
)

// Check applies the rules to the distinct-device counts of the last three
// days, oldest first. When both rules hold it reports Surge.
func (c GrowthConfig) Check(dayBefore, yesterday, today int) (GrowthRule, error) {
	if err := c.Validate(); err != nil {
		return NoGrowth, err
	}
	if dayBefore < 0 || yesterday < 0 || today < 0 {
		return NoGrowth, fmt.Errorf("negative count in %d, %d, %d", dayBefore, yesterday, today)
	}
	if today < c.MinDevices {
		return NoGrowth, nil
	}
	if float64(today) >= c.Ratio*float64(yesterday) {
		return Surge, nil
	}
	if dayBefore >= c.Floor && dayBefore < yesterday && yesterday < today && today >= 2*dayBefore {
		return Doubling, nil
	}
	return NoGrowth, nil
}
