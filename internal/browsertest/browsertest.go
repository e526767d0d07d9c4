// Package browsertest starts headless Chromium for the tests that drive
// Healthgate's pages in a real browser (the demo checkout, the dashboard,
// the checkout SDK), and holds the few steps they share. Chromium is
// Debian's package, installed by scripts/setup-test-deps.sh.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts headless Chromium for the test and returns the context
// new tabs are made in. It skips under -short, and when Chromium is
// missing and HEALTHGATE_SKIP_BROWSER=1; otherwise a missing Chromium
// fails the test.
func Browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("HEALTHGATE_SKIP_BROWSER") == "1" {
			t.Skip("chromium not installed and HEALTHGATE_SKIP_BROWSER=1")
		}
		t.Fatal("chromium is not installed: run `make setup` (apt-get install chromium), or set HEALTHGATE_SKIP_BROWSER=1 to skip")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1000, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return ctx
}

// Tab opens url in a new tab of browser; the tab closes when the test
// ends and gives up after a minute.
func Tab(t *testing.T, browser context.Context, url string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// Click clicks the visible element sel.
func Click(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// Text is the text of the element sel, or the error in angle brackets.
func Text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return s
}

// Eventually waits up to 10 s for the text of sel to contain want.
func Eventually(t *testing.T, tab context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(Text(t, tab, sel), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s says %q, want it to come to contain %q", sel, Text(t, tab, sel), want)
}

// Screenshot saves the whole page as a PNG at path; a failure is logged,
// not fatal.
func Screenshot(t *testing.T, tab context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
	}
}
