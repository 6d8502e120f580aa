package serve

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The page flow against the fake backend: the forms, buttons and live table
// work in a real browser (the end-to-end tests do it against the simulator).
func TestBrowserFlowFakeBackend(t *testing.T) {
	ctx := browser(t)
	_, fb, ts := newTestServer(t, Options{Version: "test"})
	run(t, ctx,
		chromedp.Navigate(ts.URL+"/playbooks"),
		chromedp.WaitVisible(`a[href="/playbooks/t.yaml"]`),
		chromedp.Click(`a[href="/playbooks/t.yaml"]`),
		chromedp.WaitVisible(`#plan-form`),

		chromedp.SetValue(`#in-count`, "3"),
		chromedp.SendKeys(`#in-pin`, "canary-pin-4711"),
		chromedp.Click(`#make-plan`),
		chromedp.WaitVisible(`#approve`),
	)
	if s := text(t, ctx, "#plan-summary"); !strings.Contains(s, "destructive") {
		t.Fatalf("plan summary: %q", s)
	}
	run(t, ctx,
		chromedp.Click(`#approve`),
		chromedp.WaitVisible(`#progress`),
		chromedp.WaitVisible(`#run-status.s-succeeded`),
	)
	html, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "canary-pin-4711") {
		t.Fatal("the secret input appears in the run page")
	}
	if fb.applies.Load() != 1 {
		t.Fatalf("%d applies", fb.applies.Load())
	}
}
