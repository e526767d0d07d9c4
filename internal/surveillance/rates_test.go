package surveillance

import (
	"strings"
	"testing"
)

func TestPrevalenceAndIncidence(t *testing.T) {
	tests := []struct {
		name    string
		part    int
		whole   int
		want    float64
		wantErr string
	}{
		{"some", 25, 1000, 0.025, ""},
		{"none", 0, 1000, 0, ""},
		{"all", 7, 7, 1, ""},
		{"no devices reporting", 0, 0, 0, "denominator 0"},
		{"negative", -1, 10, 0, "negative"},
		{"more than reporting", 11, 10, 0, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct {
				name string
				fn   func(int, int) (float64, error)
			}{{"prevalence", Prevalence}, {"incidence", Incidence}} {
				got, err := f.fn(tt.part, tt.whole)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), f.name) {
						t.Errorf("%s error = %v, want %q", f.name, err, tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("%s(%d, %d) = %v, want %v", f.name, tt.part, tt.whole, got, tt.want)
				}
			}
		})
	}
}

func TestComputeCCM(t *testing.T) {
	tests := []struct {
		name    string
		in      CCMInput
		want    CCMReport
		wantErr string
	}{
		{
			// Protected: 1000·3/2000 = 1.5; unprotected: 1000·12/1000 = 12;
			// overall 1000·15/3000 = 5; relative risk 12/1.5 = 8.
			name: "both groups",
			in:   CCMInput{Protected: Tally{Scanned: 2000, Cleaned: 3}, Unprotected: Tally{Scanned: 1000, Cleaned: 12}},
			want: CCMReport{
				Overall:      Figure{Value: 5, Defined: true},
				Protected:    Figure{Value: 1.5, Defined: true},
				Unprotected:  Figure{Value: 12, Defined: true},
				RelativeRisk: Figure{Value: 8, Defined: true},
			},
		},
		{
			name: "no unprotected devices that day",
			in:   CCMInput{Protected: Tally{Scanned: 500, Cleaned: 1}},
			want: CCMReport{Overall: Figure{Value: 2, Defined: true}, Protected: Figure{Value: 2, Defined: true}},
		},
		{
			// Relative risk is undefined when protected devices had none.
			name: "protected devices clean",
			in:   CCMInput{Protected: Tally{Scanned: 100}, Unprotected: Tally{Scanned: 100, Cleaned: 1}},
			want: CCMReport{
				Overall:     Figure{Value: 5, Defined: true},
				Protected:   Figure{Value: 0, Defined: true},
				Unprotected: Figure{Value: 10, Defined: true},
			},
		},
		{name: "nothing scanned", in: CCMInput{}, wantErr: "no devices scanned"},
		{name: "more cleaned than scanned", in: CCMInput{Unprotected: Tally{Scanned: 1, Cleaned: 2}}, wantErr: "unprotected"},
		{name: "cleaned without scans", in: CCMInput{Protected: Tally{Cleaned: 2}}, wantErr: "protected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeCCM(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ComputeCCM = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got, err := CCM(0, 1000); err != nil || got != 0 {
		t.Errorf("CCM(0, 1000) = %v, %v", got, err)
	}
}
