package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/healthgate/healthgate/evidence"
	"github.com/healthgate/healthgate/internal/policy"
	"github.com/healthgate/healthgate/internal/posture"
	"github.com/healthgate/healthgate/token"
)

// scanLangs are the languages scan speaks: those of the policy texts.
var scanLangs = policy.Languages

// ScanReport is the machine-readable result of `healthgate scan --json`.
type ScanReport struct {
	Score    int               `json:"score"`
	Tier     string            `json:"tier"`
	Findings []ScanFinding     `json:"findings"`
	Unknown  map[string]string `json:"unknown"` // fact group -> why it could not be checked
	Lang     string            `json:"lang"`
}

// ScanFinding is one problem, in the report's language.
type ScanFinding struct {
	Code        string `json:"code"`
	Tier        string `json:"tier"`
	Title       string `json:"title"`
	Remediation string `json:"remediation"`
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("scan", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON for machines")
	lang := fs.String("lang", "", "language of the report: zh-CN or en (default: from LC_ALL, LC_MESSAGES, LANG)")
	root := fs.String("root", "/", "read the device's files under this directory")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthgate scan [--json] [--lang zh-CN|en] [--root DIR]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Checks this device locally with the built-in policy and prints a score")
		fmt.Fprintln(stderr, "from 0 to 100 with every problem and how to fix it. Nothing is sent.")
		fmt.Fprintln(stderr, "The exit code is 0 whatever the score; read the score or --json.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "healthgate scan: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *lang == "" {
		*lang = systemLang(os.Getenv)
		if ui := uiLanguage(); ui != "" && os.Getenv("LC_ALL")+os.Getenv("LC_MESSAGES")+os.Getenv("LANG") == "" {
			*lang = langOf(ui) // Windows: the display language, when no locale variable says otherwise
		}
	} else if !slices.Contains(scanLangs, *lang) {
		fmt.Fprintf(stderr, "healthgate scan: --lang %q: want zh-CN or en\n", *lang)
		return exitUsage
	}
	if fi, err := os.Stat(*root); err != nil || !fi.IsDir() {
		fmt.Fprintf(stderr, "healthgate scan: --root %q is not a directory\n", *root)
		return exitUsage
	}

	rep := scan(ctx, *root, *lang)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "healthgate scan:", err)
			return exitFail
		}
		return exitOK
	}
	renderScan(stdout, rep, useColour(stdout, os.Getenv))
	return exitOK
}

// scan collects the device's posture under root and appraises it with the
// embedded default policy, with texts in lang.
func scan(ctx context.Context, root, lang string) ScanReport {
	facts := posture.Collect(ctx, posture.Options{Root: root})
	return appraise(facts, lang)
}

// appraise turns facts into the report scan shows.
func appraise(facts evidence.Facts, lang string) ScanReport {
	res := policy.Default().Evaluate(policy.Input{Facts: facts, Platform: posture.Platform()})
	rep := ScanReport{
		Score: res.Score, Tier: res.Tier, Lang: lang,
		Findings: make([]ScanFinding, 0, len(res.Findings)),
		Unknown:  map[string]string{},
	}
	for _, f := range res.Findings { // worst first
		rep.Findings = append(rep.Findings, ScanFinding{
			Code: f.Code, Tier: f.Tier, Title: f.Title[lang], Remediation: f.Remediation[lang],
		})
	}
	for g, why := range facts.Unknown {
		rep.Unknown[g] = why
	}
	return rep
}

// systemLang picks zh-CN when the user's locale is Chinese, else en. As in
// POSIX, the first of LC_ALL, LC_MESSAGES and LANG that is set decides.
func systemLang(getenv func(string) string) string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc := getenv(v); loc != "" {
			return langOf(loc)
		}
	}
	return "en"
}

// langOf maps a locale or language tag (zh_CN.UTF-8, zh-Hans-CN, en-US) to
// the report language.
func langOf(loc string) string {
	if strings.HasPrefix(strings.ToLower(loc), "zh") {
		return "zh-CN"
	}
	return "en"
}

// useColour reports whether w is a terminal that should get colour: a
// character device (on Windows a console that accepts escape sequences),
// and NO_COLOR (https://no-color.org) unset and TERM not "dumb".
func useColour(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && consoleColour(f)
}

// scanText is the fixed wording of the report, per language.
type scanText struct {
	heading, scoreFmt, noProblems, fix, couldNotCheck, listSep, privacy string
	problems                                                            func(n int) string
	verdict                                                             map[string]string // by tier
	severity                                                            map[string]string // by tier
	groups                                                              map[string]string // fact group -> plain name
}

var scanTexts = map[string]scanText{
	"en": {
		heading:    "Healthgate security checkup",
		scoreFmt:   "%d / 100",
		noProblems: "We found no problems.",
		problems: func(n int) string {
			if n == 1 {
				return "We found 1 problem. Fix it before you pay:"
			}
			return fmt.Sprintf("We found %d problems. Fix them in this order:", n)
		},
		fix:           "What to do: ",
		couldNotCheck: "Could not check: ",
		listSep:       ", ",
		privacy:       "This checkup ran on your computer only; nothing was sent.",
		verdict: map[string]string{
			token.TierAffirming:       "Your computer looks healthy: you can pay safely.",
			token.TierWarning:         "Your computer is at risk: fix the problems below before you pay.",
			token.TierContraindicated: "Your computer is at high risk: do not pay for now.",
			token.TierNone:            "We could not check your computer.",
		},
		severity: map[string]string{
			token.TierWarning:         "At risk",
			token.TierContraindicated: "High risk",
		},
		groups: map[string]string{
			"os": "system updates", "firewall": "firewall", "antivirus": "antivirus",
			"hosts": "hosts file", "dns": "DNS settings", "proxy": "proxy settings",
			"trust_store": "trusted certificates", "processes": "running programs",
			"disk_encryption": "disk encryption", "secure_boot": "secure boot",
			"screen_lock": "screen lock", "platform_security": "system protection",
			"browsers": "browsers", "virtualization": "virtual machine",
		},
	},
	"zh-CN": {
		heading:       "Healthgate 电脑安全体检",
		scoreFmt:      "%d 分（满分 100）",
		noProblems:    "没有发现问题。",
		problems:      func(n int) string { return fmt.Sprintf("发现 %d 个问题，请按顺序处理：", n) },
		fix:           "怎么办：",
		couldNotCheck: "未能检查：",
		listSep:       "、",
		privacy:       "本次体检只在您的电脑上进行，没有上传任何信息。",
		verdict: map[string]string{
			token.TierAffirming:       "您的电脑很健康，可以放心付款",
			token.TierWarning:         "您的电脑存在安全隐患，付款前请先修复下面的问题",
			token.TierContraindicated: "您的电脑存在高风险，暂时不要付款",
			token.TierNone:            "未能检查您的电脑",
		},
		severity: map[string]string{
			token.TierWarning:         "隐患",
			token.TierContraindicated: "高危",
		},
		groups: map[string]string{
			"os": "系统更新", "firewall": "防火墙", "antivirus": "杀毒软件",
			"hosts": "hosts 文件", "dns": "DNS 设置", "proxy": "代理设置",
			"trust_store": "受信任的证书", "processes": "正在运行的程序",
			"disk_encryption": "磁盘加密", "secure_boot": "安全启动",
			"screen_lock": "锁屏", "platform_security": "系统防护",
			"browsers": "浏览器", "virtualization": "虚拟机",
		},
	},
}

// ANSI styles, used only on a terminal.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[1;31m"
	ansiYellow = "\x1b[1;33m"
	ansiGreen  = "\x1b[1;32m"
	ansiDim    = "\x1b[2m"
)

// renderScan prints the report for a person: the score and a one-line
// verdict, then one numbered problem per line with its fix, most severe
// first, then what could not be checked. Without colour it is plain text.
func renderScan(w io.Writer, rep ScanReport, colour bool) {
	tx := scanTexts[rep.Lang]
	style := func(code, s string) string {
		if !colour || s == "" {
			return s
		}
		return code + s + ansiReset
	}
	tierStyle := map[string]string{
		token.TierAffirming: ansiGreen, token.TierWarning: ansiYellow,
		token.TierContraindicated: ansiRed, token.TierNone: ansiYellow,
	}[rep.Tier]

	fmt.Fprintln(w, style(ansiBold, tx.heading))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "    "+style(tierStyle, fmt.Sprintf(tx.scoreFmt, rep.Score)))
	fmt.Fprintln(w, "    "+style(tierStyle, tx.verdict[rep.Tier]))
	fmt.Fprintln(w)
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, tx.noProblems)
	} else {
		fmt.Fprintln(w, tx.problems(len(rep.Findings)))
		for i, f := range rep.Findings {
			fmt.Fprintln(w)
			sev := tx.severity[f.Tier]
			if rep.Lang == "zh-CN" {
				sev = "【" + sev + "】"
			} else {
				sev = "[" + sev + "] "
			}
			fmt.Fprintf(w, "%2d. %s%s\n", i+1, style(severityStyle(f.Tier), sev), style(ansiBold, f.Title))
			fmt.Fprintf(w, "    %s%s\n", tx.fix, f.Remediation)
		}
	}
	if len(rep.Unknown) > 0 {
		names := make([]string, 0, len(rep.Unknown))
		for g := range rep.Unknown {
			names = append(names, g)
		}
		slices.Sort(names)
		for i, g := range names {
			if n := tx.groups[g]; n != "" {
				names[i] = n
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, style(ansiDim, tx.couldNotCheck+strings.Join(names, tx.listSep)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, style(ansiDim, tx.privacy))
}

// severityStyle is the colour of a finding's severity label.
func severityStyle(tier string) string {
	if tier == token.TierContraindicated {
		return ansiRed
	}
	return ansiYellow
}
