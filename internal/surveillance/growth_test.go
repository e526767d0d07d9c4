package surveillance

import "testing"

func TestGrowthCheck(t *testing.T) {
	tests := []struct {
		name                        string
		dayBefore, yesterday, today int
		want                        GrowthRule
	}{
		{"new hash from nowhere", 0, 0, 40, Surge},
		{"doubled overnight", 5, 12, 24, Surge},
		{"doubling but below the floor of devices", 2, 5, 10, NoGrowth},
		{"steady 45% a day", 10, 15, 22, Doubling}, // 22 ≥ 20, 22 ≥ 2·10, 15 < 22 < 2·15
		{"fast but not doubled over two days", 12, 15, 22, NoGrowth},
		{"growth from below the floor", 4, 12, 22, NoGrowth}, // 22 < 2·12, and 4 < floor 5
		{"not monotone", 10, 30, 25, NoGrowth},
		{"flat and large", 100, 100, 100, NoGrowth},
		{"exactly the ratio", 0, 10, 20, Surge},
		{"shrinking", 50, 40, 30, NoGrowth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultGrowth().Check(tt.dayBefore, tt.yesterday, tt.today)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Check(%d, %d, %d) = %q, want %q", tt.dayBefore, tt.yesterday, tt.today, got, tt.want)
			}
		})
	}
}

func TestGrowthValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  GrowthConfig
	}{
		{"zero", GrowthConfig{}},
		{"ratio below 1", GrowthConfig{MinDevices: 20, Ratio: 0.5, Floor: 5}},
		{"no floor", GrowthConfig{MinDevices: 20, Ratio: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.Check(1, 2, 3); err == nil {
				t.Error("invalid config accepted")
			}
		})
	}
	if _, err := DefaultGrowth().Check(-1, 2, 3); err == nil {
		t.Error("negative count accepted")
	}
}
