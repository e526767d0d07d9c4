package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/token"
)

var (
	healthyRoot  = filepath.Join("..", "posture", "testdata", "healthy")
	infectedRoot = filepath.Join("..", "posture", "testdata", "infected")
)

func TestScanText(t *testing.T) {
	tests := []struct {
		name     string
		root     string
		lang     string
		want     []string // in this order
		wantNot  []string
		problems bool
	}{
		{"healthy en", healthyRoot, "en",
			[]string{"Healthgate security checkup", "/ 100", "Your computer looks healthy: you can pay safely."},
			[]string{"do not pay", "What to do:"}, false},
		{"healthy zh-CN", healthyRoot, "zh-CN",
			[]string{"Healthgate 电脑安全体检", "分（满分 100）", "您的电脑很健康，可以放心付款"},
			[]string{"暂时不要付款", "怎么办："}, false},
		{"infected en", infectedRoot, "en",
			[]string{"Your computer is at high risk: do not pay for now.", "problems. Fix them in this order:", " 1. [High risk] ", "What to do: "},
			[]string{"you can pay safely"}, true},
		{"infected zh-CN", infectedRoot, "zh-CN",
			[]string{"您的电脑存在高风险，暂时不要付款", "个问题，请按顺序处理：", " 1. 【高危】", "怎么办："},
			[]string{"可以放心付款"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), []string{"scan", "--root", tt.root, "--lang", tt.lang}, &out, &errOut)
			if code != exitOK {
				t.Fatalf("exit code %d, want 0; stderr: %s", code, errOut.String())
			}
			got := out.String()
			if strings.Contains(got, "\x1b[") {
				t.Errorf("piped output contains ANSI escapes:\n%q", got)
			}
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (or has it out of order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
			rep := scan(context.Background(), tt.root, tt.lang)
			if got := len(rep.Findings) > 0; got != tt.problems {
				t.Errorf("found problems = %v, want %v", got, tt.problems)
			}
			for i, f := range rep.Findings {
				if !strings.Contains(got, f.Title) || !strings.Contains(got, f.Remediation) {
					t.Errorf("finding %s: title or remediation missing from the output", f.Code)
				}
				if i > 0 && f.Tier == token.TierContraindicated && rep.Findings[i-1].Tier != token.TierContraindicated {
					t.Errorf("finding %s (%s) listed after a less severe one", f.Code, f.Tier)
				}
			}
		})
	}
}

func TestScanColour(t *testing.T) {
	tests := []struct {
		name   string
		root   string
		lang   string
		colour string // the score's colour
	}{
		{"healthy en", healthyRoot, "en", ansiGreen},
		{"healthy zh-CN", healthyRoot, "zh-CN", ansiGreen},
		{"infected en", infectedRoot, "en", ansiRed},
		{"infected zh-CN", infectedRoot, "zh-CN", ansiRed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := scan(context.Background(), tt.root, tt.lang)
			var plain, coloured bytes.Buffer
			renderScan(&plain, rep, false)
			renderScan(&coloured, rep, true)
			if !strings.Contains(coloured.String(), tt.colour+scanTexts[tt.lang].verdict[rep.Tier]+ansiReset) {
				t.Errorf("verdict not in %q:\n%q", tt.colour, coloured.String())
			}
			if got, want := stripANSI(coloured.String()), plain.String(); got != want {
				t.Errorf("coloured output without its escapes differs from the plain output:\n%s\n---\n%s", got, want)
			}
		})
	}
}

func stripANSI(s string) string {
	for _, code := range []string{ansiReset, ansiBold, ansiRed, ansiYellow, ansiGreen, ansiDim} {
		s = strings.ReplaceAll(s, code, "")
	}
	return s
}

func TestScanJSON(t *testing.T) {
	tests := []struct {
		name      string
		root      string
		lang      string
		wantTier  string
		wantCodes []string // at least these
	}{
		{"healthy", healthyRoot, "en", token.TierAffirming, nil},
		{"infected", infectedRoot, "zh-CN", token.TierContraindicated, []string{"hosts_payment_hijack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), []string{"scan", "--json", "--root", tt.root, "--lang", tt.lang}, &out, &errOut); code != exitOK {
				t.Fatalf("exit code %d, want 0; stderr: %s", code, errOut.String())
			}
			var rep struct {
				Score    *int   `json:"score"`
				Tier     string `json:"tier"`
				Lang     string `json:"lang"`
				Findings []struct {
					Code, Tier, Title, Remediation string
				} `json:"findings"`
				Unknown map[string]string `json:"unknown"`
			}
			dec := json.NewDecoder(&out)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("decoding --json output: %v", err)
			}
			if rep.Score == nil || *rep.Score < 0 || *rep.Score > 100 {
				t.Errorf("score = %v, want 0..100", rep.Score)
			}
			if got, want := rep.Tier, tt.wantTier; got != want {
				t.Errorf("tier = %q, want %q", got, want)
			}
			if got, want := rep.Lang, tt.lang; got != want {
				t.Errorf("lang = %q, want %q", got, want)
			}
			if rep.Findings == nil || rep.Unknown == nil {
				t.Errorf("findings or unknown is null, want [] / {}")
			}
			for _, code := range tt.wantCodes {
				found := false
				for _, f := range rep.Findings {
					found = found || f.Code == code
				}
				if !found {
					t.Errorf("finding %s missing from %+v", code, rep.Findings)
				}
			}
			for _, f := range rep.Findings {
				if f.Title == "" || f.Remediation == "" {
					t.Errorf("finding %s has no text in %s", f.Code, tt.lang)
				}
			}
		})
	}
}

func TestScanUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown language", []string{"scan", "--lang", "fr", "--root", healthyRoot}, exitUsage},
		{"root is not a directory", []string{"scan", "--root", "scan_test.go"}, exitUsage},
		{"stray argument", []string{"scan", "now"}, exitUsage},
		{"help", []string{"scan", "-h"}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := Run(context.Background(), tt.args, &out, &errOut); got != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", got, tt.want, errOut.String())
			}
		})
	}
}

func TestSystemLang(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing set", nil, "en"},
		{"LANG Chinese", map[string]string{"LANG": "zh_CN.UTF-8"}, "zh-CN"},
		{"LANG Taiwan still Chinese", map[string]string{"LANG": "zh_TW.UTF-8"}, "zh-CN"},
		{"LANG English", map[string]string{"LANG": "en_US.UTF-8"}, "en"},
		{"LC_ALL wins over LANG", map[string]string{"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"},
		{"LC_MESSAGES wins over LANG", map[string]string{"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_GB.UTF-8"}, "zh-CN"},
		{"LC_ALL Chinese", map[string]string{"LC_ALL": "zh_CN.GB18030", "LC_MESSAGES": "en_US"}, "zh-CN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := systemLang(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("systemLang = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUseColour(t *testing.T) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		tty = nil // no controlling terminal here, as in CI
	} else {
		defer tty.Close()
	}
	tests := []struct {
		name string
		w    any
		env  map[string]string
		want bool
	}{
		{"buffer", &bytes.Buffer{}, nil, false},
		{"regular file", mustTemp(t), nil, false},
		{"terminal", tty, nil, tty != nil},
		{"terminal with NO_COLOR", tty, map[string]string{"NO_COLOR": "1"}, false},
		{"terminal with TERM=dumb", tty, map[string]string{"TERM": "dumb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := tt.w.(*os.File)
			if ok && f == nil {
				t.Skip("no terminal")
			}
			w, _ := tt.w.(interface{ Write([]byte) (int, error) })
			if got := useColour(w, func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("useColour = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustTemp(t *testing.T) *os.File {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkScan is one whole `healthgate scan` minus process start:
// collection over the healthy tree, appraisal and rendering.
func BenchmarkScan(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var out bytes.Buffer
		renderScan(&out, scan(ctx, healthyRoot, "en"), false)
	}
}
