package demo

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/healthgate/healthgate/internal/browsertest"
)

// TestDashboardInBrowser: after a simulated outbreak, the operator opens
// /ui/, sees the alerts on the new hash and the indicator surveillance
// promoted for review, and activates it: it reaches the agents' feed.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := context.Background()
	d, err := Start(ctx, Options{Lang: "en", FleetDevices: 80, FleetDays: 12})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Fleet.FirstOutbreakAlert == 0 || d.OutbreakIndicator != "pending_review" {
		t.Fatalf("the simulated outbreak gave no alert or no pending indicator: first alert day %d, indicator %q",
			d.Fleet.FirstOutbreakAlert, d.OutbreakIndicator)
	}
	hash := d.Fleet.OutbreakHash
	tab, cancel := chromedp.NewContext(browsertest.Browser(t))
	defer cancel()
	tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTimeout()
	shots := t.TempDir()
	if dir := os.Getenv("HEALTHGATE_SCREENSHOT_DIR"); dir != "" {
		shots = dir
	}
	if err := chromedp.Do(tab,
		chromedp.Navigate(d.HealthURL+"/ui/"),
		chromedp.SendKeys(chromedp.CSS("#key"), d.AdminKey),
		chromedp.Click(chromedp.CSS("#login button")),
		chromedp.WaitVisible(chromedp.CSS("#alerts tbody tr")),
	); err != nil {
		t.Fatal(err)
	}
	waitText := func(sel, want string) string {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, _ = chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
			if strings.Contains(got, want) {
				return got
			}
		}
		t.Errorf("%s says %.300q, want it to contain %q", sel, got, want)
		return got
	}
	waitText("#alerts", "sha256:"+hash)
	waitText("#review", hash)
	waitText("#ccm", "‰")
	browsertest.Screenshot(t, tab, filepath.Join(shots, "dashboard.png"))

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#review button.activate"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	waitText("#review", "Nothing to review.")
	resp, err := http.Get(d.HealthURL + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), hash) {
		t.Error("the activated indicator is not on the agents' feed")
	}
}
