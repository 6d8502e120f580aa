package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame"
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
