package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
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

// A runner killed after its tenth clone is resumed on another machine
// with another state directory. The lost clones that were never sent are
// proven absent, and sent by the resume itself, only when the findings a
// doctor stored in the database confirm the clone audit kind; without
// them each stops for the operator. Either way every store is cloned and
// published once.
func TestLostClonesProvenUnsentByFindingsInPostgres(t *testing.T) {
	t.Parallel()
	const stores = 30
	for _, withFindings := range []bool{false, true} {
		name := "no findings"
		if withFindings {
			name = "findings in the database"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rig := newPGRig(t, stores)
			if withFindings {
				b, err := state.OpenPostgres(context.Background(), rig.dsn)
				if err != nil {
					t.Fatal(err)
				}
				_, err = frame.SaveFindings(context.Background(), b, &frame.Findings{APIURL: rig.sim.URL(), CredentialID: frame.CredentialID("sim-client"),
					CheckedAt: time.Now().UTC(), AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"cloneSandbox"}}})
				b.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			a := rig.startVictim(nth(10, "acted", accepted(isClone)), "A", runArgs()...)
			if a.wait(); !a.killed {
				t.Fatalf("A was not killed:\n%s", a)
			}
			runs := rig.start("runs", "runs", "--format", "json").wait()
			var list []struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(runs.out.Bytes(), &list); err != nil || len(list) != 1 {
				t.Fatalf("runs: %v\n%s", err, runs)
			}
			res := rig.start("B", "resume", list[0].ID, "--yes", "--output", "json").wait()
			cloned := map[string]bool{}
			for _, tk := range rig.sim.Snapshot().Tasks {
				if tk.Kind == sim.KindClone {
					cloned[tk.AccountID] = true
				}
			}
			keys := undecided(exitResult{err: res.err.String()})
			if !withFindings && res.code == 0 {
				t.Fatalf("the resume decided lost clones without findings:\n%s", res)
			}
			unsentWaiting := 0
			for key, path := range keys {
				acc := strings.Split(strings.TrimPrefix(path, "/accounts/"), "/")[0]
				if !cloned[acc] {
					unsentWaiting++
					if withFindings {
						t.Errorf("%s was never sent, yet with the database's findings the resume did not prove it absent", key)
					}
				}
			}
			if !withFindings && unsentWaiting == 0 {
				t.Fatalf("no unsent clone waited for the operator: the kill left nothing to prove, the test proves nothing\n%s", res)
			}
			t.Logf("%s: the resume stopped on %d clones for the operator (%d of them never sent)", name, len(keys), unsentWaiting)
			rig.settle(res, list[0].ID)
			rig.checkExactlyOnce(stores)
		})
	}
}
