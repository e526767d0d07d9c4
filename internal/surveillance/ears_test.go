package surveillance

import (
	"math"
	"strings"
	"testing"
)

// flat returns n copies of v.
func flat(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func cat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// alarmDays lists the days that alarmed.
func alarmDays(points []EARSPoint) []int {
	var out []int
	for i, p := range points {
		if p.Alarm {
			out = append(out, i)
		}
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEARSKnownAnswers(t *testing.T) {
	// A baseline of 8, 12, 8, 12, 8, 12, 10: sum 70, mean 10; deviations
	// ±2 six times and 0 once, sum of squares 6·4 = 24; sample variance
	// 24/6 = 4; sd 2 (above MinSigma 1).
	wavy := []float64{8, 12, 8, 12, 8, 12, 10}

	tests := []struct {
		name      string
		cfg       EARSConfig
		series    []float64
		day       int     // the day whose point is checked
		ok        bool    // whether it has a statistic
		mean      float64 // want, when ok
		sigma     float64
		stat      float64
		alarm     bool
		wantAlarm []int // every alarming day of the series; nil: not checked
	}{
		{
			// C1 at day 7: (17 - 10) / 2 = 3.5 > 3.
			name: "C1 spike over a wavy baseline", cfg: DefaultEARS(C1),
			series: cat(wavy, []float64{17}), day: 7,
			ok: true, mean: 10, sigma: 2, stat: 3.5, alarm: true, wantAlarm: []int{7},
		},
		{
			// C1 at day 7: (16 - 10) / 2 = 3, which is the upper bound
			// 10 + 3·2 = 16 itself: earsC alarms only above it.
			name: "C1 exactly at the threshold does not alarm", cfg: DefaultEARS(C1),
			series: cat(wavy, []float64{16}), day: 7,
			ok: true, mean: 10, sigma: 2, stat: 3, alarm: false, wantAlarm: []int{},
		},
		{
			// Seven days of 10: mean 10, sd 0, floored at MinSigma 1;
			// (14 - 10) / 1 = 4 > 3.
			name: "zero variance uses MinSigma", cfg: DefaultEARS(C1),
			series: cat(flat(7, 10), []float64{14}), day: 7,
			ok: true, mean: 10, sigma: 1, stat: 4, alarm: true, wantAlarm: []int{7},
		},
		{
			// (13 - 10) / 1 = 3, not above 3.
			name: "zero variance, 13 devices is not yet an alarm", cfg: DefaultEARS(C1),
			series: cat(flat(7, 10), []float64{13}), day: 7,
			ok: true, mean: 10, sigma: 1, stat: 3, alarm: false, wantAlarm: []int{},
		},
		{
			// MinSigma 0.5: (13 - 10) / 0.5 = 6 > 3.
			name: "zero variance with MinSigma 0.5", cfg: EARSConfig{Method: C1, Baseline: 7, MinSigma: 0.5, Threshold: 3},
			series: cat(flat(7, 10), []float64{13}), day: 7,
			ok: true, mean: 10, sigma: 0.5, stat: 6, alarm: true, wantAlarm: []int{7},
		},
		{
			// Only 7 days: C1 at day 6 would need days -1 … 5.
			name: "fewer than baseline days gives no statistic", cfg: DefaultEARS(C1),
			series: cat(flat(6, 10), []float64{1000}), day: 6,
			ok: false, wantAlarm: []int{},
		},
		{
			// A rise of one device a day from day 10 on: 11, 12, 13, 14.
			// C2 at day 13 uses days 4 … 10: six 10s and one 11, mean
			// 71/7 = 10.142857; squares (1/7)²·6 + (6/7)² = 42/49, variance
			// 42/49/6 = 1/7, sd 0.378, floored at 1;
			// (14 - 71/7) / 1 = 27/7 = 3.857 > 3.
			name: "C2 catches a slow rise", cfg: DefaultEARS(C2),
			series: cat(flat(10, 10), []float64{11, 12, 13, 14}), day: 13,
			ok: true, mean: 71.0 / 7, sigma: 1, stat: 27.0 / 7, alarm: true, wantAlarm: []int{13},
		},
		{
			// Same series, C1 at day 13 uses days 6 … 12: 10, 10, 10, 10,
			// 11, 12, 13, sum 76, mean 76/7; deviations -6/7 (four times),
			// 1/7, 8/7, 15/7; squares (4·36 + 1 + 64 + 225)/49 = 434/49;
			// variance 434/294 = 1.476190, sd 1.214986;
			// (14 - 76/7) / 1.214986 = (22/7) / 1.214986 = 2.5868 ≤ 3.
			// The rise has leaked into C1's own baseline: no alarm on any day.
			name: "C1 misses the slow rise its baseline absorbs", cfg: DefaultEARS(C1),
			series: cat(flat(10, 10), []float64{11, 12, 13, 14}), day: 13,
			ok: true, mean: 76.0 / 7, sigma: math.Sqrt(434.0 / 294), stat: (22.0 / 7) / math.Sqrt(434.0/294), alarm: false, wantAlarm: []int{},
		},
		{
			// Nine days (0 … 8), a jump on day 8: C1 at day 8 uses days
			// 1 … 7, all 10: (15 - 10) / 1 = 5 > 3. C2 needs days -1 … 5
			// at day 8: the guard band makes it wait for a ninth day of
			// history, so day 8 has no C2 statistic.
			name: "C1 alarms where C2 has no history yet", cfg: DefaultEARS(C1),
			series: cat(flat(8, 10), []float64{15}), day: 8,
			ok: true, mean: 10, sigma: 1, stat: 5, alarm: true, wantAlarm: []int{8},
		},
		{
			name: "C2 on the same nine days has no statistic", cfg: DefaultEARS(C2),
			series: cat(flat(8, 10), []float64{15}), day: 8,
			ok: false, wantAlarm: []int{},
		},
		{
			// Days 0 … 10 at 10, then 12, 12, 12. Every C2 baseline up to
			// day 13 (days t-9 … t-3 ≤ 10) is all 10s: mean 10, sigma 1.
			// C2(10) = 0, C2(11) = C2(12) = C2(13) = 2.
			// C3(13) = max(0, 2-1) + max(0, 2-1) + max(0, 2-1) = 3 > 2.
			// C3(12) = max(0, 0-1) + 1 + 1 = 2, not above 2.
			// C1 and C2 never pass 3 on this series.
			name: "C3 catches a sustained modest rise", cfg: DefaultEARS(C3),
			series: cat(flat(11, 10), []float64{12, 12, 12}), day: 13,
			ok: true, mean: 10, sigma: 1, stat: 3, alarm: true, wantAlarm: []int{13},
		},
		{
			name: "C3 a day earlier sums to the threshold only", cfg: DefaultEARS(C3),
			series: cat(flat(11, 10), []float64{12, 12, 12}), day: 12,
			ok: true, mean: 10, sigma: 1, stat: 2, alarm: false, wantAlarm: []int{13},
		},
		{
			// C3 needs C2 at t-2, i.e. days t-11 … t-5: the first day is 11.
			name: "C3 needs baseline plus four days", cfg: DefaultEARS(C3),
			series: cat(flat(10, 10), []float64{100}), day: 10,
			ok: false,
		},
		{
			// C3 at day 11 with only day 11 raised: C2(11) = (20-10)/1 = 10;
			// C3 = 0 + 0 + (10 - 1) = 9 > 2. The current day counts, as in
			// the documented definition (earsC's upper bound would not
			// alarm here: its two lagged terms are 0).
			name: "C3 includes the current day", cfg: DefaultEARS(C3),
			series: cat(flat(11, 10), []float64{20}), day: 11,
			ok: true, mean: 10, sigma: 1, stat: 9, alarm: true, wantAlarm: []int{11},
		},
		{
			// A missing day inside C1's baseline (days 1 … 7 at day 8).
			name: "missing value in the baseline gives no statistic", cfg: DefaultEARS(C1),
			series: cat(flat(3, 10), []float64{math.NaN()}, flat(4, 10), []float64{50}), day: 8,
			ok: false,
		},
		{
			name: "a value beyond MaxObservation is missing", cfg: DefaultEARS(C1),
			series: cat(flat(7, 10), []float64{2 * MaxObservation}), day: 7,
			ok: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			points, err := EARS(tt.series, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(points), len(tt.series); got != want {
				t.Fatalf("len(points) = %d, want %d", got, want)
			}
			p := points[tt.day]
			if got, want := p.OK, tt.ok; got != want {
				t.Fatalf("day %d OK = %v, want %v (%+v)", tt.day, got, want, p)
			}
			if got, want := p.Alarm, tt.alarm; got != want {
				t.Errorf("day %d Alarm = %v, want %v (%+v)", tt.day, got, want, p)
			}
			if tt.ok {
				if got, want := p.Mean, tt.mean; !near(got, want) {
					t.Errorf("Mean = %v, want %v", got, want)
				}
				if got, want := p.Sigma, tt.sigma; !near(got, want) {
					t.Errorf("Sigma = %v, want %v", got, want)
				}
				if got, want := p.Statistic, tt.stat; !near(got, want) {
					t.Errorf("Statistic = %v, want %v", got, want)
				}
			}
			if tt.wantAlarm != nil {
				if got, want := alarmDays(points), tt.wantAlarm; !equalInts(got, want) {
					t.Errorf("alarm days = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestEARSFirstDay(t *testing.T) {
	// earsC's default range starts at baseline+1, +3, +5 (1-based):
	// 0-based days B, B+2, B+4.
	series := flat(20, 5)
	for _, tt := range []struct {
		name   string
		method Method
		first  int
	}{
		{"C1", C1, 7},
		{"C2", C2, 9},
		{"C3", C3, 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			points, err := EARS(series, DefaultEARS(tt.method))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range points {
				if got, want := p.OK, i >= tt.first; got != want {
					t.Errorf("day %d OK = %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestEARSUpperBound(t *testing.T) {
	// Wavy baseline, mean 10, sd 2: bound 10 + 3·2 = 16 for C1.
	points, err := EARS([]float64{8, 12, 8, 12, 8, 12, 10, 0}, DefaultEARS(C1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := points[7].UpperBound, 16.0; !near(got, want) {
		t.Errorf("UpperBound = %v, want %v", got, want)
	}
}

func TestEARSConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     EARSConfig
		wantErr string // substring; "" means valid
	}{
		{"default C1", DefaultEARS(C1), ""},
		{"default C3", DefaultEARS(C3), ""},
		{"earsC thresholds", EARSConfig{Method: C1, Baseline: 7, MinSigma: 1, Threshold: 3.090232306167813}, ""},
		{"unknown method", EARSConfig{Method: 4, Baseline: 7, MinSigma: 1, Threshold: 3}, "unknown ears method"},
		{"short baseline", EARSConfig{Method: C1, Baseline: 2, MinSigma: 1, Threshold: 3}, "baseline 2"},
		{"zero min sigma", EARSConfig{Method: C1, Baseline: 7, MinSigma: 0, Threshold: 3}, "min sigma"},
		{"NaN min sigma", EARSConfig{Method: C1, Baseline: 7, MinSigma: math.NaN(), Threshold: 3}, "min sigma"},
		{"infinite min sigma", EARSConfig{Method: C1, Baseline: 7, MinSigma: math.Inf(1), Threshold: 3}, "min sigma"},
		{"zero threshold", EARSConfig{Method: C1, Baseline: 7, MinSigma: 1, Threshold: 0}, "threshold"},
		{"every problem at once", EARSConfig{}, "unknown ears method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
	if err := (EARSConfig{}).Validate(); err == nil || strings.Count(err.Error(), "\n") != 3 {
		t.Errorf("zero config should report four problems, got %v", err)
	}
	if _, err := EARS(nil, EARSConfig{}); err == nil {
		t.Error("EARS with an invalid config succeeded")
	}
}
