package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/plan"
)

// Responsiveness of the page with a large estate (issue 13 item 7): 2,000
// accounts, and a 2,000-store run. The figures are printed (BENCHMARKS.md
// has them); there are no thresholds here.

const benchStores = 2000

// accountsServer serves the page over a simulator of 2,000 stores.
func accountsServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	s, err := sim.Start(sim.Options{Scenario: sim.RetailScenario(benchStores)}, "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	c, err := frame.NewClient(frame.Config{BaseURL: s.URL(), ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret, ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := New(Options{Addr: "127.0.0.1:0", Backend: &fakeBackend{runs: map[string]*RunDetail{}}, PlaybooksDir: tb.TempDir(),
		Accounts: func() (AccountReader, error) { return c, nil }})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() { ts.Close(); srv.Close() })
	return ts
}

// BenchmarkAccountsPage2000 is one GET /accounts of 2,000 accounts: the
// API's list (simulator on loopback) and the rendered table.
func BenchmarkAccountsPage2000(b *testing.B) {
	ts := accountsServer(b)
	var size int
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(ts.URL + "/accounts")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		size = int(n)
	}
	b.ReportMetric(float64(size)/1024, "KiB/page")
}

// rolloutEvents are the engine events of a 2,000-store rollout as the
// live page receives them: per store, clone/publish/capacity each start,
// wait on a task twice and finish.
func rolloutEvents(n int) []engine.Event {
	evs := []engine.Event{
		{Type: "step_started", Step: "source"}, {Type: "step_finished", Step: "source", Status: engine.StatusSucceeded},
		{Type: "step_started", Step: "targets"}, {Type: "step_finished", Step: "targets", Status: engine.StatusSucceeded},
		{Type: "step_started", Step: "rollout", Total: n},
	}
	for _, st := range []string{"clone", "publish", "capacity"} {
		for i := range n {
			item := fmt.Sprintf("Store-%04d", i+1)
			full := "rollout." + st
			evs = append(evs,
				engine.Event{Type: "step_started", Step: full, Item: item},
				engine.Event{Type: "step_progress", Step: full, Item: item, Message: st + ": in_progress 1s"},
				engine.Event{Type: "step_progress", Step: full, Item: item, Message: st + ": in_progress 2s"},
				engine.Event{Type: "step_finished", Step: full, Item: item, Status: engine.StatusSucceeded})
		}
	}
	return append(evs, engine.Event{Type: "run_finished", Status: "succeeded"})
}

func benchWorkflowDir(tb testing.TB) string {
	dir := tb.TempDir()
	src := "version: 1\nname: big\nsteps:\n  - id: source\n    uses: accounts.list\n  - id: targets\n    uses: accounts.list\n  - id: rollout\n    for_each: ${{ steps.targets.outputs.accounts }}\n    steps:\n      - id: clone\n        uses: accounts.list\n      - id: publish\n        uses: accounts.list\n      - id: capacity\n        uses: accounts.list\n"
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkLiveRunFold2000 folds a 2,000-store run's events into the live
// rows: the server's cost per event.
func BenchmarkLiveRunFold2000(b *testing.B) {
	dir := benchWorkflowDir(b)
	pb, _ := (&fakeBackend{}).Playbook(filepath.Join(dir, "big.yaml"))
	evs := rolloutEvents(benchStores)
	id := func(s string) string { return s }
	b.ResetTimer()
	for b.Loop() {
		lr := newLiveRun("r", pb.Workflow, id)
		for _, ev := range evs {
			lr.Event(ev)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	b.ReportMetric(float64(len(evs)), "events/run")
}

// bigRunBackend plans 2,000 stores and, when applied, plays the rollout's
// events at pace: every event of one step wave within spread.
type bigRunBackend struct {
	fakeBackend
	evs    []engine.Event
	spread time.Duration
	last   chan time.Time // when the last event was emitted
}

func (f *bigRunBackend) Plan(_ context.Context, file string, _ map[string]string) (*plan.Plan, error) {
	p := &plan.Plan{Content: plan.Content{FormatVersion: plan.FormatVersion, Workflow: plan.WorkflowRef{Name: "big", File: file}, Inputs: map[string]any{}}}
	for i := range benchStores {
		item := fmt.Sprintf("Store-%04d", i+1)
		p.Mutations = append(p.Mutations, plan.Mutation{Step: "rollout.clone", Item: item, Index: i, Key: "rollout.clone[" + item + "]#1", Type: "sandbox.clone", Method: "POST", Path: "/accounts/" + item + "/clone", Destructive: true})
	}
	p.Summarize()
	p.Hash = p.ComputeHash()
	return p, nil
}

func (f *bigRunBackend) Apply(ctx context.Context, r ApplyRequest) (string, error) {
	f.mu.Lock()
	f.runs["big-1"] = &RunDetail{RunSummary: RunSummary{ID: "big-1", Status: "running", Attempts: 1}}
	f.mu.Unlock()
	r.Started("big-1")
	pause := f.spread / time.Duration(len(f.evs)/100)
	for i, ev := range f.evs {
		r.Events(ev)
		if i%100 == 99 {
			time.Sleep(pause)
		}
	}
	f.last <- time.Now()
	f.mu.Lock()
	f.runs["big-1"].Status = "succeeded"
	f.mu.Unlock()
	return "succeeded", nil
}

// BenchmarkBrowserRun2000 drives Chromium through a 2,000-store run's page:
// how long the page takes to show the last of ~24,000 changes after the
// engine emitted it, and the accounts page's load and filter times with
// 2,000 rows.
func BenchmarkBrowserRun2000(b *testing.B) {
	ctx := browser(b)
	dir := benchWorkflowDir(b)
	be := &bigRunBackend{fakeBackend: fakeBackend{runs: map[string]*RunDetail{}}, evs: rolloutEvents(benchStores), spread: 3 * time.Second, last: make(chan time.Time, 1)}
	srv, err := New(Options{Addr: "127.0.0.1:0", Backend: be, PlaybooksDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()
	acc := accountsServer(b)

	b.ResetTimer()
	for b.Loop() {
		// Loaded twice: the first load also starts the browser's renderer.
		var load float64
		for range 2 {
			if err := chromedp.Do(ctx, chromedp.Navigate(acc.URL+"/accounts"), chromedp.WaitVisible(`#accounts`)); err != nil {
				b.Fatal(err)
			}
			// From the request to the page being usable (scripts run).
			load, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const n = performance.getEntriesByType("navigation")[0]; return n.domContentLoadedEventEnd - n.requestStart; })()`))
			if err != nil {
				b.Fatal(err)
			}
		}
		// Typing in the filter: the table of 2,000 rows narrows in the page.
		filterMS, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(async () => {
			const c = document.getElementById("accounts-count"), before = c.textContent, q = document.getElementById("q");
			const t0 = performance.now();
			q.value = "Store-19"; q.dispatchEvent(new Event("input"));
			while (c.textContent === before) await new Promise(r => setTimeout(r, 1));
			return performance.now() - t0 - 80; })()`, chromedp.EvalAwaitPromise)) // less filter.js's 80 ms typing pause
		if err != nil {
			b.Fatal(err)
		}
		// The run: plan, approve, then wait for the page to show the end.
		form := url.Values{}
		resp, err := http.PostForm(ts.URL+"/playbooks/big.yaml/plan", form)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		planURL := resp.Request.URL.String()
		if err := chromedp.Do(ctx, chromedp.Navigate(planURL), chromedp.WaitVisible(`#approve`), chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`)); err != nil {
			b.Fatal(err)
		}
		last := <-be.last
		if err := chromedp.Do(ctx, chromedp.WaitVisible(`#run-status.s-succeeded`)); err != nil {
			b.Fatal(err)
		}
		lag := time.Since(last)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#progress .s-done").length`))
		if err != nil || done != benchStores+2 {
			b.Fatalf("%d rows done in the page, want %d (%v)", done, benchStores+2, err)
		}
		// The finished run's page, rendered from the server (2,002 rows).
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`#progress`)); err != nil {
			b.Fatal(err)
		}
		reload := time.Since(start)
		b.ReportMetric(load, "ms-accounts-load")
		b.ReportMetric(filterMS, "ms-accounts-filter")
		b.ReportMetric(float64(lag.Milliseconds()), "ms-run-last-change-shown")
		b.ReportMetric(float64(reload.Milliseconds()), "ms-run-page-reload")
		be.mu.Lock()
		delete(be.runs, "big-1")
		be.mu.Unlock()
		srv.plans = newPlanStore(time.Hour, newMemoryStore())
		srv.live = newLiveRuns()
	}
}
