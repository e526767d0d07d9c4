package demo

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/healthgate/healthgate/internal/browsertest"
)

// TestCheckoutInBrowser pays at the demo shop in a real browser as four
// devices and checks what the page tells the person paying.
func TestCheckoutInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := context.Background()
	d, err := Start(ctx, Options{Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	agentOf := func(name string) string {
		for _, dev := range d.Devices {
			if strings.Contains(dev.Name, name) {
				return dev.AgentURL
			}
		}
		t.Fatalf("no device %q", name)
		return ""
	}
	allocCtx := browsertest.Browser(t)
	shots := t.TempDir()
	if dir := os.Getenv("HEALTHGATE_SCREENSHOT_DIR"); dir != "" {
		shots = dir // keep them to look at
	}
	t.Logf("screenshots in %s", shots)

	tests := []struct {
		name  string
		agent string
		steps func(t *testing.T, tab context.Context) // after clicking Pay
	}{
		{"healthy device: payment allowed", agentOf("healthy"), func(t *testing.T, tab context.Context) {
			wait(t, tab, ".hg-allow")
			expectText(t, tab, "passed the safety check")
			wait(t, tab, "#result [role=status]")
			browsertest.Eventually(t, tab, "#result", "Payment complete")
		}},
		{"device at risk: warning with its fix, then step-up", agentOf("at risk"), func(t *testing.T, tab context.Context) {
			wait(t, tab, ".hg-warn")
			expectText(t, tab, "Your device is at risk")
			expectText(t, tab, "firewall") // the fix names what to turn on
			browsertest.Click(t, tab, ".hg-continue")
			wait(t, tab, ".hg-stepup")
			expectText(t, tab, "SMS")
			if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#hg-code"), SMSCode)); err != nil {
				t.Fatal(err)
			}
			browsertest.Click(t, tab, ".hg-confirm")
			browsertest.Eventually(t, tab, "#result", "Payment complete")
		}},
		{"hijacked payment site: payment refused with why and how to fix", agentOf("infected"), func(t *testing.T, tab context.Context) {
			wait(t, tab, ".hg-deny")
			expectText(t, tab, "stopped to protect your money")
			expectText(t, tab, "hosts") // what is wrong: the hosts file
			if got := browsertest.Text(t, tab, "#result"); strings.Contains(got, "Payment complete") {
				t.Error("a refused payment completed")
			}
		}},
		{"no agent: step-up with the reason", d.NoAgentURL, func(t *testing.T, tab context.Context) {
			wait(t, tab, ".hg-stepup")
			expectText(t, tab, "could not check this device")
		}},
	}
	// The path without a loopback call: the page opens a healthgate://
	// link with a one-time session; the operating system hands it to the
	// agent (here the test does, as the URL handler would), which reports
	// for that session; the payment's decision picks the report up.
	t.Run("healthgate:// link: the session report decides", func(t *testing.T) {
		tab, cancel := chromedp.NewContext(allocCtx)
		defer cancel()
		tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
		defer cancelTimeout()
		if err := chromedp.Do(tab, chromedp.Navigate(d.MerchantURL+"/?lang=en&agent="+d.NoAgentURL)); err != nil {
			t.Fatal(err)
		}
		browsertest.Click(t, tab, "#app-link")
		session, err := chromedp.Run(tab, chromedp.Poll[string](`document.body.dataset.session || ""`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || session == "" {
			t.Fatalf("no session on the page: %q, %v", session, err)
		}
		var healthy *Device
		for _, dev := range d.Devices {
			if strings.Contains(dev.Name, "healthy") {
				healthy = dev
			}
		}
		link := "healthgate://report?server=" + url.QueryEscape(d.HealthURL) + "&session=" + url.QueryEscape(session)
		sid, err := healthy.Agent.SessionLink(link)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := healthy.Agent.ReportSession(ctx, sid); err != nil {
			t.Fatalf("the agent could not report for the session: %v", err)
		}
		browsertest.Click(t, tab, "#pay")
		defer browsertest.Screenshot(t, tab, filepath.Join(shots, "app-link.png"))
		wait(t, tab, ".hg-allow")
		expectText(t, tab, "passed the safety check")
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, cancel := chromedp.NewContext(allocCtx)
			defer cancel()
			tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
			defer cancelTimeout()
			if err := chromedp.Do(tab, chromedp.Navigate(d.MerchantURL+"/?lang=en&agent="+tt.agent)); err != nil {
				t.Fatal(err)
			}
			browsertest.Click(t, tab, "#pay")
			defer browsertest.Screenshot(t, tab, filepath.Join(shots, strings.ReplaceAll(strings.Fields(tt.name)[0], ":", "")+"-"+string(rune('0'+i))+".png"))
			tt.steps(t, tab)
		})
	}
}

func wait(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("waiting for %s: %v (page: %q)", sel, err, browsertest.Text(t, tab, "#result"))
	}
}

func expectText(t *testing.T, tab context.Context, want string) {
	t.Helper()
	if got := browsertest.Text(t, tab, "#result"); !strings.Contains(got, want) {
		t.Errorf("page says %q, want it to contain %q", got, want)
	}
}
