package surveillance

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzEARS feeds arbitrary series to every method and checks that nothing
// panics, that every statistic is finite, and that a day without a statistic
// never alarms.
func FuzzEARS(f *testing.F) {
	f.Add([]byte{}, uint8(7), false)
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), uint8(3), true)
	seed := make([]byte, 0, 15*8)
	for i := range 15 {
		seed = binary.LittleEndian.AppendUint64(seed, math.Float64bits(float64(10+i%3)))
	}
	f.Add(seed, uint8(7), false)
	f.Add(seed, uint8(3), true)

	f.Fuzz(func(t *testing.T, raw []byte, baseline uint8, small bool) {
		var series []float64
		for len(raw) >= 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw))
			if small {
				// Also explore ordinary counts, which random bits rarely hit.
				v = float64(binary.LittleEndian.Uint64(raw) % 1000)
			}
			series = append(series, v)
			raw = raw[8:]
		}
		for _, m := range []Method{C1, C2, C3} {
			cfg := DefaultEARS(m)
			cfg.Baseline = 3 + int(baseline)%20
			points, err := EARS(series, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(points) != len(series) {
				t.Fatalf("%v: %d points for %d days", m, len(points), len(series))
			}
			for i, p := range points {
				for _, v := range []float64{p.Observed, p.Mean, p.Sigma, p.Statistic, p.UpperBound} {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("%v day %d: non-finite value in %+v", m, i, p)
					}
				}
				if !p.OK && (p.Alarm || p != (EARSPoint{})) {
					t.Fatalf("%v day %d: point without statistic is %+v", m, i, p)
				}
				if p.OK && p.Sigma < cfg.MinSigma {
					t.Fatalf("%v day %d: sigma %v below MinSigma", m, i, p.Sigma)
				}
			}
		}
	})
}
