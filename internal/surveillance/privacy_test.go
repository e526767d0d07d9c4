package surveillance

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestKAnon(t *testing.T) {
	tests := []struct {
		name    string
		count   int
		k       int
		want    int
		wantOK  bool
		wantErr bool
	}{
		{"at k", 50, 50, 50, true, false},
		{"above k", 51, DefaultK, 51, true, false},
		{"below k", 49, 50, 0, false, false},
		{"zero", 0, 50, 0, false, false},
		{"minimum k", 11, MinK, 11, true, false},
		{"k below the minimum is an error", 100, 10, 0, false, true},
		{"k zero is an error", 100, 0, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := KAnon(tt.count, tt.k)
			if got, want := err != nil, tt.wantErr; got != want {
				t.Fatalf("err = %v, want error %v", err, want)
			}
			if got, want := ok, tt.wantOK; got != want {
				t.Errorf("ok = %v, want %v", got, want)
			}
			if got != tt.want {
				t.Errorf("KAnon(%d, %d) = %d, want %d", tt.count, tt.k, got, tt.want)
			}
		})
	}
}

func TestReleaseConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ReleaseConfig
		wantErr string
	}{
		{"defaults", ReleaseConfig{}, ""},
		{"k 11, epsilon 0.01", ReleaseConfig{K: 11, Epsilon: 0.01}, ""},
		{"epsilon 10", ReleaseConfig{Epsilon: 10}, ""},
		{"k 10", ReleaseConfig{K: 10}, "k 10 is below the minimum 11"},
		{"negative k", ReleaseConfig{K: -50}, "below the minimum"},
		{"epsilon too small", ReleaseConfig{Epsilon: 0.001}, "epsilon"},
		{"epsilon too large", ReleaseConfig{Epsilon: 11}, "epsilon"},
		{"negative epsilon", ReleaseConfig{Epsilon: -1}, "epsilon"},
		{"NaN epsilon", ReleaseConfig{Epsilon: math.NaN()}, "epsilon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewReleaser(ReleaseConfig{Epsilon: 1}, nil); err == nil {
		t.Error("noise without a random source accepted")
	}
}

func TestReleaseWithoutNoise(t *testing.T) {
	r, err := NewReleaser(ReleaseConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		count  int
		want   int
		wantOK bool
	}{
		{"default k is 50: 49 suppressed", 49, 0, false},
		{"50 released as is", 50, 50, true},
		{"large", 123456, 123456, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := r.Release(tt.count)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Release(%d) = %d, %v, want %d, %v", tt.count, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestReleaseWithNoise(t *testing.T) {
	// ε = 1: Laplace scale 1; a fixed seed makes the test deterministic.
	r, err := NewReleaser(ReleaseConfig{K: 11, Epsilon: 1}, rand.NewChaCha8([32]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := r.Release(10); ok || err != nil {
		t.Fatalf("Release(10) with k 11 released: %v, %v", ok, err)
	}
	const n, count = 50_000, 1000
	var sum, sumAbs float64
	for range n {
		got, ok, err := r.Release(count)
		if err != nil || !ok {
			t.Fatalf("Release(%d) = %v, %v", count, ok, err)
		}
		d := float64(got - count)
		sum += d
		sumAbs += math.Abs(d)
	}
	// Rounding Laplace(0, 1) to integers keeps the mean at 0 (sd of the
	// sample mean √2/√n ≈ 0.0063) and changes E|X| from 1 to
	// Σ_{j≥1} P(|X| > j-½) = Σ_{j≥1} e^{-(j-½)} = e^{-½}/(1-e^{-1}) ≈ 0.9595.
	if got := sum / n; math.Abs(got) > 0.03 {
		t.Errorf("mean noise %v, want about 0", got)
	}
	if got, want := sumAbs/n, math.Exp(-0.5)/(1-math.Exp(-1)); math.Abs(got-want) > 0.03 {
		t.Errorf("mean |noise| %v, want about %v", got, want)
	}
}

func TestReleaseClampsAtZero(t *testing.T) {
	// ε = 0.01: scale 100 around a true count of 11, so about
	// P(X < -11.5) = ½·e^{-0.115} ≈ 45% of draws would go negative.
	r, err := NewReleaser(ReleaseConfig{K: 11, Epsilon: 0.01}, rand.NewChaCha8([32]byte{4}))
	if err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for range 2000 {
		got, ok, err := r.Release(11)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if got < 0 {
			t.Fatalf("released %d", got)
		}
		if got == 0 {
			zeros++
		}
	}
	if zeros < 800 || zeros > 1000 {
		t.Errorf("%d of 2000 released as 0, want about 890", zeros)
	}
}

func TestReleaseFailsClosed(t *testing.T) {
	r, err := NewReleaser(ReleaseConfig{Epsilon: 1}, failingReader{})
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := r.Release(1000)
	if err == nil || ok || got != 0 {
		t.Fatalf("Release with a broken random source = %d, %v, %v; want nothing released", got, ok, err)
	}
}

// TestLaplaceDistribution checks the raw noise against the Laplace(0, b)
// moments and tail with a fixed seed: mean 0, E|X| = b, Var X = 2b²,
// P(|X| > b) = e^{-1}. Tolerances are about 4 standard errors for n draws.
func TestLaplaceDistribution(t *testing.T) {
	for _, tt := range []struct {
		name    string
		epsilon float64
	}{
		{"epsilon 0.1", 0.1},
		{"epsilon 0.5", 0.5},
		{"epsilon 2", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const n = 200_000
			b := 1 / tt.epsilon
			src := rand.NewChaCha8([32]byte{5})
			buf := make([]byte, 8)
			var sum, sumAbs, sumSq float64
			tail := 0
			for range n {
				x, err := laplace(src, buf, b)
				if err != nil {
					t.Fatal(err)
				}
				if math.IsInf(x, 0) || math.IsNaN(x) {
					t.Fatalf("noise %v", x)
				}
				sum += x
				sumAbs += math.Abs(x)
				sumSq += x * x
				if math.Abs(x) > b {
					tail++
				}
			}
			// sd of the mean: √2·b/√n; of mean |X|: b/√n; of the sample
			// variance: √(20b⁴/n) (Laplace fourth moment 24b⁴).
			se := 1 / math.Sqrt(n)
			if got := sum / n; math.Abs(got) > 4*math.Sqrt2*b*se {
				t.Errorf("mean %v, want 0 ± %v", got, 4*math.Sqrt2*b*se)
			}
			if got := sumAbs / n; math.Abs(got-b) > 4*b*se {
				t.Errorf("mean |X| %v, want %v ± %v", got, b, 4*b*se)
			}
			if got, want := sumSq/n, 2*b*b; math.Abs(got-want) > 4*math.Sqrt(20)*b*b*se {
				t.Errorf("variance %v, want %v", got, want)
			}
			// A binomial proportion: sd √(p(1-p)/n) ≈ 0.0011.
			if got, want := float64(tail)/n, math.Exp(-1); math.Abs(got-want) > 0.005 {
				t.Errorf("P(|X| > b) = %v, want %v", got, want)
			}
		})
	}
}

func TestLaplaceExtremes(t *testing.T) {
	// All-zero and all-one bits are the two ends of the uniform draw; both
	// must give finite noise.
	for _, tt := range []struct {
		name string
		b    byte
	}{{"zero bits", 0x00}, {"one bits", 0xff}} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReader(strings.Repeat(string([]byte{tt.b}), 8))
			x, err := laplace(src, make([]byte, 8), 100)
			if err != nil {
				t.Fatal(err)
			}
			if math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 100*40 {
				t.Errorf("noise %v", x)
			}
		})
	}
}

// TestReleaseNeverNegative: a noised count is never negative, even for a
// count at the top of the int range, where the float would wrap around.
func TestReleaseNeverNegative(t *testing.T) {
	r, err := NewReleaser(ReleaseConfig{K: 11, Epsilon: 0.01}, rand.NewChaCha8([32]byte{9}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{11, 12, 1 << 40, math.MaxInt} {
		for range 50 {
			if v, ok, err := r.Release(n); err != nil || !ok || v < 0 {
				t.Fatalf("Release(%d) = %d, %v, %v", n, v, ok, err)
			}
		}
	}
}
