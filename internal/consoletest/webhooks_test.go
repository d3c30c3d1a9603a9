package consoletest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWebhookPages: an Admin creates a webhook from the editor, finds it
// in the list, test-sends it (this cloud allow-lists nothing, so the
// guard's refusal of 127.0.0.1 is the result shown), and the pages pass
// the page check. With OUTPOST_SHOTS set, screenshots of the list and
// the editor at 1440 and 375 px are written there.
func TestWebhookPages(t *testing.T) {
	s := startSite(t)
	problems := make(chan string, 16)
	ctx := browser(t, problems)
	signIn(t, ctx, s.url, adminEmail, adminPW)
	run(t, ctx, "create a webhook from the editor",
		chromedp.Navigate(s.url+"/webhooks/new"),
		chromedp.WaitVisible("#wh-name", chromedp.ByID),
		chromedp.SendKeys("#wh-name", "CRM", chromedp.ByID),
		chromedp.SendKeys("#wh-url", "http://127.0.0.1:9/in", chromedp.ByID),
		chromedp.SendKeys("#wh-headers", "X-Site: {device_id}", chromedp.ByID),
		chromedp.SetValue("#wh-auth", "bearer", chromedp.ByID),
		chromedp.SendKeys("#wh-token", "tok", chromedp.ByID),
		chromedp.SendKeys("#wh-secret", "s3cret", chromedp.ByID),
		chromedp.Submit("#wh-name", chromedp.ByID),
		chromedp.WaitVisible("#test-send", chromedp.ByID),
	)
	var hookPath, result string
	run(t, ctx, "test send",
		chromedp.Evaluate(`location.pathname`, &hookPath),
		chromedp.Click("#test-send", chromedp.ByID),
		chromedp.WaitVisible("#test-result", chromedp.ByID),
		chromedp.Text("#test-result", &result, chromedp.ByID),
	)
	if !strings.Contains(result, "refused") {
		t.Errorf("test send result %q, want the guard's refusal", result)
	}
	if dir := os.Getenv("OUTPOST_SHOTS"); dir != "" {
		var png []byte
		run(t, ctx, "screenshot the result", chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join(dir, "webhook-test-1280.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var listed string
	run(t, ctx, "the list", chromedp.Navigate(s.url+"/webhooks"), chromedp.WaitVisible("#webhooks", chromedp.ByID),
		chromedp.Text("#webhooks", &listed, chromedp.ByID))
	if !strings.Contains(listed, "CRM") || !strings.Contains(listed, "127.0.0.1:9") {
		t.Errorf("list: %q", listed)
	}
	if dir := os.Getenv("OUTPOST_SHOTS"); dir != "" {
		for _, p := range []struct{ name, path, ready string }{{"webhooks", "/webhooks", "#webhooks"}, {"webhook", hookPath, "#deliveries, .empty"}} {
			for _, w := range []int64{1440, 375} {
				var png []byte
				run(t, ctx, "screenshot "+p.name, chromedp.EmulateViewport(w, 900), chromedp.Navigate(s.url+p.path),
					chromedp.WaitVisible(p.ready, chromedp.ByQuery), chromedp.FullScreenshot(&png, 100))
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", p.name, w)), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(t, ctx, "wide again", chromedp.EmulateViewport(1280, 900))
	}
	checkPages(t, ctx, problems, s.url, []pageCheck{{"/webhooks", "#webhooks"}, {"/webhooks/new", "#wh-name"}, {hookPath, "#wh-name"}})
}
