package serve

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/state"
)

// The page with the PostgreSQL state backend (--state postgres://...):
// a run started in the page is journaled in the database, listed in
// History and shown on its run page; nothing is written to the local state
// directory. PostgreSQL comes from internal/pgtest (a throwaway server);
// FRAMEFLOW_REQUIRE_POSTGRES=1 makes a missing one a failure.
func TestE2EPageWithPostgresState(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := browser(t)
	e := startSim(t, sim.Options{TaskDuration: 100 * time.Millisecond})
	localDir := t.TempDir()
	s := startServe(t, e, localDir, "", nil, "--state", dsn)
	planThroughPages(t, ctx, s, "qa-rollout.yaml", nil)
	run(t, ctx, chromedp.Click(`#approve`), chromedp.WaitVisible(`#progress`))
	runID := runIDOf(t, ctx)
	waitStatus(t, ctx, "succeeded")
	run(t, ctx, chromedp.Click(`//nav//a[text()="History"]`), chromedp.WaitVisible(`#runs`))
	if h := text(t, ctx, "#runs"); !strings.Contains(h, runID) || !strings.Contains(h, "succeeded") {
		t.Fatalf("History with PostgreSQL state does not list run %s: %q", runID, h)
	}
	// Its page, read back from the database: steps, plan, approver.
	run(t, ctx, chromedp.Click(`//a[text()="`+runID+`"]`), chromedp.WaitVisible(`#run-status.s-succeeded`))
	if h := text(t, ctx, "#progress"); strings.Count(h, "done") < 8 {
		t.Fatalf("the run page from PostgreSQL shows %q", h)
	}
	if h := pageHTML(t, ctx); !strings.Contains(h, "The plan this run applies") || strings.Contains(text(t, ctx, "#approver"), "not recorded") {
		t.Fatal("the run page from PostgreSQL lacks its plan or its approver")
	}
	// The applied plan is a document of the database, and exactly it was sent.
	b, err := state.Open(t.Context(), dsn, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	body, err := b.Get(t.Context(), "plans/"+runID+".json")
	if err != nil || body == nil {
		t.Fatalf("the applied plan is not in the database: %v", err)
	}
	p, err := plan.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyPlanned(t, e.Sim, p, "/v1")
	if m, _ := filepath.Glob(filepath.Join(localDir, "runs", "*")); len(m) > 0 {
		t.Fatalf("journals written to the local state directory too: %v", m)
	}
	if strings.Contains(s.Log.String(), state.DSNPassword(dsn)) {
		t.Fatal("the database password reached the server's log")
	}
}
