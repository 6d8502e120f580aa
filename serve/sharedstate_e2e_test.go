package serve

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/plan"
)

// noRedirect is an HTTP client that shows each answer as it is (a
// redirect to the run, or a refusal).
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 2 * time.Minute}

// click posts the approval of plan hash to a server's plan page and says
// where it led: "run R" (a redirect to the run) or "refused: BODY".
func click(t *testing.T, planURL, hash string, secrets url.Values) string {
	form := url.Values{"plan_hash": {hash}}
	for k, v := range secrets {
		form[k] = v
	}
	resp, err := noRedirect.PostForm(planURL+"/apply", form)
	if err != nil {
		t.Error(err)
		return "error"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return "run " + strings.TrimPrefix(resp.Header.Get("Location"), "/runs/")
	}
	return fmt.Sprintf("refused %d: %s", resp.StatusCode, body)
}

var appliedBy = regexp.MustCompile(`already applied by run <a href="/runs/([^"]+)">`)

// Two `frameflow serve` processes on one PostgreSQL state, each with its
// own state directory: a plan made on A is seen by B (durable, in the
// database), and clicks on both at once apply it once. Every click that
// did not start the run is shown it or refused naming it; the simulator's
// request log holds each planned mutation once. After A restarts the plan
// is still there, and applying it again is refused, naming the run.
//
// The same holds for two processes sharing one local state directory
// (file locks).
func TestE2ETwoServersOneStateApplyOnce(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		twoServersApplyOnce(t, []string{"FRAMEFLOW_STATE=" + pgtest.DSN(t)}, "")
	})
	t.Run("local directory", func(t *testing.T) {
		twoServersApplyOnce(t, []string{"FRAMEFLOW_STATE=local"}, t.TempDir())
	})
}

func twoServersApplyOnce(t *testing.T, pg []string, stateDir string) {
	e := startSim(t, sim.Options{TaskDuration: 200 * time.Millisecond})
	dir := playbooksDir(t)
	a := startServe(t, e, stateDir, dir, pg)
	b := startServe(t, e, stateDir, dir, pg)

	resp, err := noRedirect.PostForm(a.URL+"/playbooks/ticketed-rollout.yaml/plan", url.Values{"in.max_servers": {"4"}, "in.change_code": {"CANARY-pg-7d21"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	planPath := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(planPath, "/plans/") {
		t.Fatalf("plan on A: %d %q", resp.StatusCode, planPath)
	}
	// B reads the plan A made from the database.
	resp, err = http.Get(b.URL + planPath + "/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p, err := plan.Parse(body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("B's copy of A's plan: %d %v\n%s", resp.StatusCode, err, body)
	}
	// B does not hold the secret input A was given: it asks for it, and
	// a click without it is refused with nothing sent.
	if r := click(t, b.URL+planPath, p.Hash, nil); !strings.Contains(r, "refused 422") || !strings.Contains(r, "change_code: secret inputs are not stored with the plan") {
		t.Fatalf("B applied without the secret input: %s", r)
	}
	if n := len(mutationsSent(e.Sim)); n != 0 {
		t.Fatalf("%d mutations sent by a refused click", n)
	}

	secret := url.Values{"in.change_code": {"CANARY-pg-7d21"}}
	const perServer = 4
	results := make([]string, 2*perServer)
	took := make([]time.Duration, len(results))
	var wg sync.WaitGroup
	for i := range results {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			results[i] = click(t, srv.URL+planPath, p.Hash, secret)
			took[i] = time.Since(began)
		}()
	}
	wg.Wait()
	runs := map[string]bool{}
	for i, r := range results {
		switch {
		case strings.HasPrefix(r, "run "):
			runs[strings.TrimPrefix(r, "run ")] = true
		case strings.HasPrefix(r, "refused 409") && appliedBy.MatchString(r):
			runs[appliedBy.FindStringSubmatch(r)[1]] = true
		default:
			t.Errorf("click %d (server %c): %.300s", i, "AB"[i%2], r)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("the clicks led to %d runs, want 1: %v", len(runs), results)
	}
	var runID string
	for id := range runs {
		runID = id
	}
	slices.Sort(took)
	t.Logf("%d clicks on two servers: one run %s; answers in %s (median) to %s (slowest: a click waiting for the other server's start)",
		len(results), runID, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	waitRunStatus(t, a.URL, runID, "succeeded")
	checkExactlyPlanned(t, e.Sim, p, "/v1")

	// A restarts: the plan is still there, and it is not applied again.
	a.stop(t)
	a2 := startServe(t, e, stateDir, dir, pg)
	if r := click(t, a2.URL+planPath, p.Hash, secret); !strings.Contains(r, "refused 409") || !strings.Contains(r, "already applied by run <a href=\"/runs/"+runID) {
		t.Fatalf("after a restart, applying the plan again: %.500s", r)
	}
	checkExactlyPlanned(t, e.Sim, p, "/v1")
	for _, s := range []*served{a, b, a2} {
		if strings.Contains(s.Log.String(), "CANARY-pg-7d21") {
			t.Error("a server's log shows the secret input")
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(a.StateDir, "serve", "*")); stateDir == "" && len(matches) > 0 {
		t.Errorf("plans were kept in the local state directory, not the database: %v", matches)
	}
}

// waitRunStatus polls a run's page until it shows status.
func waitRunStatus(t *testing.T, base, runID, status string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/runs/" + url.PathEscape(runID))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := regexp.MustCompile(`id="run-status" class="state s-(\w+)"`).FindSubmatch(body); m != nil {
				last = string(m[1])
				if last == status {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("run %s is %q, want %s", runID, last, status)
}

// The run page and History on the PostgreSQL backend, in Chromium: a run
// approved in the page runs to the end and is listed; a run started in a
// terminal on another machine (its own state directory, the same
// database) is listed too and its page opens, read from the database.
func TestE2ERunPageOnPostgres(t *testing.T) {
	ctx := browser(t)
	dsn := pgtest.DSN(t)
	e := startSim(t, sim.Options{TaskDuration: 300 * time.Millisecond})
	s := startServe(t, e, "", "", []string{"FRAMEFLOW_STATE=" + dsn})

	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	pageRun := runIDOf(t, ctx)
	waitStatus(t, ctx, "succeeded")

	cmd := exec.Command(frameflowBinary(t), "run", "--yes", filepath.Join(s.Dir, "qa-rollout.yaml"), "--input", "max_servers=7")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "FRAMEFLOW_STATE_DIR=" + t.TempDir(), "FRAMEFLOW_STATE=" + dsn}, e.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("frameflow run on another machine: %v\n%s", err, out)
	}
	run(t, ctx, chromedp.Navigate(s.URL+"/runs"), chromedp.WaitVisible(`#runs`))
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#runs tbody th a")).map(a => a.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	termRun := ""
	for _, id := range ids {
		if id != pageRun {
			termRun = id
		}
	}
	if len(ids) != 2 || termRun == "" {
		t.Fatalf("History lists %v, want the page's run %s and the terminal's", ids, pageRun)
	}
	run(t, ctx, chromedp.Click(`//a[text()="`+termRun+`"]`), chromedp.WaitVisible(`#run-status.s-succeeded`))
	if h := text(t, ctx, "#progress"); strings.Count(h, "done") < 8 {
		t.Fatalf("the terminal's run page, read from the database, does not show its stores done: %q", h)
	}
	if matches, _ := filepath.Glob(filepath.Join(s.StateDir, "runs", "*")); len(matches) > 0 {
		t.Errorf("runs were journaled in the local state directory, not the database: %v", matches)
	}
}
