package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/state"
)

// Doctor findings are shared through PostgreSQL: one operator's doctor,
// on one machine, reading the runs of the database (not of its own empty
// state directory), confirms the clone audit kind; a plan on another
// machine with another state directory then needs no warning. The stored
// document names the credential by its identity only.
func TestDoctorFindingsSharedThroughPostgres(t *testing.T) {
	t.Parallel()
	const stores = 3
	rig := newPGRig(t, stores)
	const note = "no `frameflow doctor` findings confirm the audit kind of clones"

	if p := rig.start("A-run", runArgs()...).wait(); p.code != 0 {
		t.Fatalf("%s", p)
	}
	if p := rig.start("B-plan", "plan", rolloutFile).wait(); !strings.Contains(p.err.String(), note) {
		t.Fatalf("a plan before doctor does not warn:\n%s", p)
	}
	// Each start has a fresh state directory: the journals doctor
	// correlates can only come from the database.
	d := rig.start("A-doctor", "doctor", "--format", "json", rolloutFile).wait()
	var rep cli.DoctorReport
	if err := json.Unmarshal(d.out.Bytes(), &rep); err != nil || d.code != 0 {
		t.Fatalf("doctor: %v\n%s", err, d)
	}
	if got := rep.Findings.ConfirmedAuditKinds("clone"); len(got) != 1 {
		t.Fatalf("doctor on PostgreSQL confirmed clone kinds %v (did it read the database's journals?)\n%s", got, d)
	}
	if rep.Findings.CredentialID != frame.CredentialID("sim-client") {
		t.Errorf("credential id %q", rep.Findings.CredentialID)
	}
	p := rig.start("C-plan", "plan", rolloutFile).wait()
	if p.code != 0 || strings.Contains(p.err.String(), note) {
		t.Fatalf("a plan on another machine after doctor still warns:\n%s", p)
	}

	b, err := state.OpenPostgres(context.Background(), rig.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	doc, err := b.Get(context.Background(), frame.FindingsDocument(rig.sim.URL(), frame.CredentialID("sim-client")))
	if err != nil || doc == nil {
		t.Fatalf("findings document: %v", err)
	}
	for _, leak := range []string{"sim-secret", "sim-client"} {
		if strings.Contains(string(doc), leak) {
			t.Errorf("the stored findings contain %q:\n%s", leak, doc)
		}
	}
	// Another credential on the same estate has no findings.
	if f, err := frame.LoadFindings(context.Background(), b, "", rig.sim.URL(), frame.CredentialID("other-client")); err != nil || f != nil {
		t.Errorf("another credential's findings: %+v %v", f, err)
	}
}

// A clone whose request is lost on the way (the connection closes before
// the API sees it) on a runner whose only state is PostgreSQL and a fresh
// directory: with the findings a doctor stored in the database confirming
// the clone audit kind, the run proves it was not sent (no entry of that
// kind appeared) and sends it again by itself; without them it stops for
// the operator and sends nothing. Either way no store is cloned twice.
func TestLostCloneProvenUnsentByFindingsInPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	for _, withFindings := range []bool{false, true} {
		name := "no findings"
		if withFindings {
			name = "findings in the database"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.DSN(t)
			var mu sync.Mutex
			lost := ""
			// The first clone never reaches the simulator: its connection
			// is closed with the request unread, so nothing acted.
			drop := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/clone") {
						mu.Lock()
						first := lost == ""
						if first {
							lost = strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/accounts/"), "/")[0]
						}
						mu.Unlock()
						if first {
							conn, _, err := w.(http.Hijacker).Hijack()
							if err == nil {
								conn.Close()
							}
							return
						}
					}
					next.ServeHTTP(w, r)
				})
			}
			rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(3), TaskDuration: 200 * time.Millisecond}, drop)
			rig.env = []string{"FRAMEFLOW_STATE=" + dsn}
			if withFindings {
				b, err := state.OpenPostgres(context.Background(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				_, err = frame.SaveFindings(context.Background(), b, &frame.Findings{APIURL: rig.srv.URL + "/v1", CredentialID: frame.CredentialID("sim-client"),
					CheckedAt: time.Now().UTC(), AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"cloneSandbox"}}})
				b.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			res := rig.exec("run", rolloutFile, "--yes")
			clones := map[string]int{}
			for _, q := range rig.requests() {
				if q.Method == http.MethodPost && strings.HasSuffix(q.Path, "/clone") {
					clones[strings.Split(strings.TrimPrefix(q.Path, "/v1/accounts/"), "/")[0]]++
				}
			}
			for acc, n := range clones {
				if n > 1 {
					t.Errorf("account %s cloned %d times", acc, n)
				}
			}
			if lost == "" {
				t.Fatalf("no clone was sent:\n%s", res)
			}
			keys := undecided(res)
			if withFindings {
				if res.code != 0 || clones[lost] != 1 || len(keys) != 0 {
					t.Fatalf("with the database's findings the lost clone of %s was not proven unsent and sent again (cloned %d times, %d undecided):\n%s", lost, clones[lost], len(keys), res)
				}
			} else {
				if res.code == 0 || clones[lost] != 0 || len(keys) != 1 {
					t.Fatalf("without findings the lost clone of %s was decided without an operator (cloned %d times, %d undecided):\n%s", lost, clones[lost], len(keys), res)
				}
			}
			t.Logf("%s: exit %d, lost clone of %s sent %d times by the run, %d left to the operator", name, res.code, lost, clones[lost], len(keys))
		})
	}
}
