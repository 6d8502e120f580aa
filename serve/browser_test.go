package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser the end-to-end tests drive. Without one the
// tests skip with one line, except where FRAMEFLOW_REQUIRE_CHROMIUM=1 or
// CI=true says a browser must be there (.ci/run installs it): then a
// missing browser fails.
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("FRAMEFLOW_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FRAMEFLOW_REQUIRE_CHROMIUM") == "1" || os.Getenv("CI") == "true" {
		t.Fatal("chromium is required (FRAMEFLOW_REQUIRE_CHROMIUM=1 or CI=true) and was not found: apt-get install chromium")
	}
	t.Skip("chromium not installed: browser tests skipped (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium for one test. The machine's network is
// closed: everything that would call out is off, and the profile is fresh.
func browser(t testing.TB) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now: its errors are about the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// screenshot saves the page as docs/serve/NAME.png when
// FRAMEFLOW_SCREENSHOTS=1 (the docs' pictures), else under the test's
// temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shoot(t, ctx, name, chromedp.FullScreenshot(100))
}

// screenshotTop is screenshot of what the window shows (a long page's top).
func screenshotTop(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shoot(t, ctx, name, chromedp.CaptureScreenshot())
}

func shoot(t *testing.T, ctx context.Context, name string, take chromedp.Action[[]byte]) {
	t.Helper()
	buf, err := chromedp.Run(ctx, take)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("FRAMEFLOW_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if os.Getenv("FRAMEFLOW_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "serve")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run performs browser actions; a wait that takes a minute has failed.
func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
