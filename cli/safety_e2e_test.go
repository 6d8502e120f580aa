package cli_test

// Issue 11: a step succeeds only when its effect is proven, and nothing
// undocumented carries safety. The real binary runs qa-rollout.yaml against
// the simulator over HTTP.

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
)

func (c *crashRig) stateDir() string {
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "FRAMEFLOW_STATE_DIR="); ok {
			return v
		}
	}
	c.t.Fatal("no state directory")
	return ""
}

// posts counts the simulator's POSTs whose path ends with suffix, per
// account id.
func (c *crashRig) posts(suffix string) map[string]int {
	out := map[string]int{}
	for _, q := range c.sim.Requests() {
		if q.Method == "POST" && strings.HasSuffix(q.Path, suffix) {
			out[strings.Split(strings.TrimPrefix(q.Path, "/v1/accounts/"), "/")[0]]++
		}
	}
	return out
}

func (c *crashRig) storeByName(name string) sim.AccountState {
	for _, a := range c.sim.Snapshot().Accounts {
		if a.Name == name {
			return a
		}
	}
	c.t.Fatalf("no account %s", name)
	return sim.AccountState{}
}

// The smallest case of the issue: one store, every answer dropped, every
// task failing. The clone's answer is lost, its audit entry proves it was
// sent, nothing proves it finished: the run must end non-zero naming the
// store and the command that decides, and nothing may be published.
func TestLostCloneAnswerWithFailedTaskIsNeverPublished(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 1, sim.Options{DropRate: 1, TaskFailRate: 1, Seed: 5, TaskDuration: 300 * time.Millisecond})
	store := rig.storeByName("Store-001")
	r := rig.run(nil)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	keys := undecided(r)
	if len(keys) != 1 || !strings.Contains(r.err, "(Store-001)") || !strings.Contains(r.err, "outcome_unknown") ||
		!strings.Contains(r.err, "frameflow resume ") || !strings.Contains(r.err, "=not-sent'") {
		t.Fatalf("the run does not say which store and how to decide:\n%s", r.err)
	}
	if n := rig.posts("/publish")[store.ID]; n != 0 {
		t.Fatalf("published %d times after a clone whose outcome is unknown", n)
	}
	var key string
	for k := range keys {
		key = k
	}
	if runs := rig.exec(nil, "runs", "--format", "json"); !strings.Contains(runs.out, `"undecided"`) || !strings.Contains(runs.out, `"key": "`+key+`"`) {
		t.Errorf("runs --format json does not list %s as undecided:\n%s", key, runs.out)
	}
	if n := rig.posts("/clone")[store.ID]; n != 1 {
		t.Fatalf("cloned %d times, want 1", n)
	}
	// The operator sees the clone's task failed and marks it not sent: it
	// is sent once more, fails again, and still nothing is published.
	marks := rig.operatorMarks(r)
	if len(marks) != 2 || !strings.HasSuffix(marks[1], "=not-sent") {
		t.Fatalf("operator marks %v, want not-sent (the task failed)", marks)
	}
	r = rig.resume(nil, marks...)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	if n := rig.posts("/clone")[store.ID]; n != 2 {
		t.Errorf("cloned %d times after marking not-sent, want 2", n)
	}
	if n := rig.posts("/publish")[store.ID]; n != 0 {
		t.Errorf("published %d times", n)
	}
	after := rig.storeByName("Store-001")
	if after.ProductionImageVersion != store.ProductionImageVersion || after.SandboxImageVersion != store.SandboxImageVersion || after.LastPublish != nil {
		t.Errorf("the store changed: %+v, was %+v", after, store)
	}
	runs := rig.exec(nil, "runs", "--format", "json")
	if !strings.Contains(runs.out, `"failed"`) {
		t.Errorf("runs: %s", runs.out)
	}
}

// An operator's mark is journaled with who made it; a key that waits for
// no decision is refused with a clear error and nothing is sent.
func TestMarkIsJournaledAndChecked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 1, sim.Options{DropRate: 1, Seed: 5, TaskDuration: 300 * time.Millisecond})
	r := rig.run(nil)
	if r.code != 1 || len(undecided(r)) != 1 {
		t.Fatalf("want one undecided clone:\n%s", r)
	}
	before := len(rig.sim.Requests())
	bad := rig.resume(nil, "--mark", "rollout.clone[nope]#1=sent")
	if bad.code != 2 || !strings.Contains(bad.err, "rollout.clone[nope]#1") {
		t.Fatalf("a mark of an unknown key:\n%s", bad)
	}
	for _, q := range rig.sim.Requests()[before:] {
		if q.Method != "GET" {
			t.Errorf("a refused mark sent %s %s", q.Method, q.Path)
		}
	}
	if bad := rig.resume(nil, "--mark", "x=maybe"); bad.code != 2 || !strings.Contains(bad.err, "neither sent nor not-sent") {
		t.Fatalf("a mark of an unknown decision:\n%s", bad)
	}
}

// A credential whose role cannot read audit trails (403) still clones:
// the witness read is best-effort.
func TestAuditTrails403StillClones(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 3, sim.Options{AuditTrails: &sim.AuditTrailSpec{Forbidden: true}})
	if r := rig.run(nil); r.code != 0 {
		t.Fatalf("run with audit trails answering 403:\n%s", r)
	}
	rig.checkExactlyOnce(3)
	forbidden := 0
	for _, q := range rig.sim.Requests() {
		if strings.HasSuffix(q.Path, "/audit-trails") && q.Status == http.StatusForbidden {
			forbidden++
		}
	}
	if forbidden == 0 {
		t.Error("no audit-trail read was refused: the test tests nothing")
	}
}

// A kill -9 after 10 clones, on an estate whose clones write audit kind
// sandboxCopied (no "clone" in it). Without doctor's findings the absence
// of a "clone" entry proves nothing: the resume clones nothing twice and
// stops for the operator. With findings confirming sandboxCopied, the
// resume proves the unsent clones absent and sends them by itself; only
// clones that were made (their entry appeared) but whose answers were lost
// wait for the operator.
func TestKillAfterTenClonesWithUnconfirmedAuditKind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	const stores = 30
	for _, withFindings := range []bool{false, true} {
		name := "no findings"
		if withFindings {
			name = "findings confirm sandboxCopied"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rig := newCrashRig(t, stores, sim.Options{AuditTrails: &sim.AuditTrailSpec{Kinds: map[string]string{"clone": "sandboxCopied"}}})
			if withFindings {
				if err := saveFindings(rig.stateDir(), &frame.Findings{APIURL: rig.sim.URL(), CheckedAt: time.Now().UTC(),
					AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"sandboxCopied"}}}); err != nil {
					t.Fatal(err)
				}
			}
			r := rig.run(nth(10, "acted", accepted(isClone)))
			t.Logf("killed at %s", r.killedAt)
			r = rig.resume(nil)
			cloned := map[string]bool{} // the estate's truth: accounts with a clone task
			for _, tk := range rig.sim.Snapshot().Tasks {
				if tk.Kind == sim.KindClone {
					cloned[tk.AccountID] = true
				}
			}
			attempts := []string{"crashed", "succeeded"}
			for id, n := range rig.posts("/clone") {
				if n > 1 {
					t.Errorf("account %s cloned %d times", id, n)
				}
			}
			keys := undecided(r)
			if !withFindings && r.code == 0 {
				t.Fatalf("the resume decided lost clones by the absence of a 'clone' entry:\n%s", r)
			}
			for key, path := range keys {
				acc := strings.Split(strings.TrimPrefix(path, "/accounts/"), "/")[0]
				if withFindings && !cloned[acc] {
					t.Errorf("%s was never sent, yet with findings the resume did not prove it absent", key)
				}
			}
			t.Logf("%d stores cloned after the resume; it stopped on %d for the operator", len(cloned), len(keys))
			_, attempts = rig.finish(r, attempts, 4)
			rig.checkExactlyOnce(stores)
			rig.checkRuns(attempts...)
		})
	}
}

func isElasticity(r *http.Request) bool {
	return r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/elasticity_settings")
}

// A kill right after an elasticity update acted, before its answer: the
// simulator applies the values when the update task finishes, so the
// resume first sees the old values while the task runs. That must read as
// "sent, still running", not "not sent": no second elasticity POST, no 409.
func TestKillAfterElasticityActedIsNotResent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 3, sim.Options{TaskDuration: 2 * time.Second})
	var pool string
	first := nth(1, "acted", accepted(isElasticity))
	r := rig.run(func(phase string, req *http.Request, status int) bool {
		if first(phase, req, status) {
			pool = strings.Split(strings.TrimPrefix(req.URL.Path, "/v1/pools/"), "/")[0]
			return true
		}
		return false
	})
	t.Logf("killed at %s", r.killedAt)
	r = rig.resume(nil)
	_, attempts := rig.finish(r, []string{"crashed", "succeeded"}, 4)
	rig.checkExactlyOnce(3)
	rig.checkRuns(attempts...)
	n := 0
	for _, q := range rig.sim.Requests() {
		if q.Method == "POST" && q.Path == "/v1/pools/"+pool+"/elasticity_settings" {
			n++
			if q.Status == http.StatusConflict {
				t.Errorf("elasticity of pool %s re-sent into its running update (409)", pool)
			}
		}
	}
	if n != 1 {
		t.Errorf("elasticity of pool %s sent %d times, want once", pool, n)
	}
}

// The run says up front when no doctor findings for this API URL confirm
// the clone audit kind; findings taken against another URL do not count.
func TestRunSaysWhenNoFindingsConfirmTheCloneKind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 1, sim.Options{TaskDuration: 100 * time.Millisecond})
	const note = "no `frameflow doctor` findings confirm the audit kind of clones"
	save := func(url, clientID string) {
		if err := saveFindings(rig.stateDir(), &frame.Findings{APIURL: url, CredentialID: frame.CredentialID(clientID), CheckedAt: time.Now().UTC(),
			AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"cloneSandbox"}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A playbook whose clones are in a library it calls says so too.
	if r := rig.exec(nil, "plan", composedDir(t)); !strings.Contains(r.err, note) {
		t.Errorf("a composed rollout's clones were not seen:\n%s", r)
	}
	save("https://api.console.nutanix.com/v1", "sim-client")
	r := rig.exec(nil, "plan", rolloutFile)
	if !strings.Contains(r.err, note) {
		t.Errorf("findings for another URL were used:\n%s", r)
	}
	// Whether audit trails are readable depends on the credential's role:
	// another credential's findings do not count.
	save(rig.sim.URL(), "another-client")
	if r := rig.exec(nil, "plan", rolloutFile); !strings.Contains(r.err, note) {
		t.Errorf("findings of another credential were used:\n%s", r)
	}
	// The old <state>/doctor.json (no credential) is still read, with a
	// note saying it is not shared and how to move it.
	legacy, _ := json.Marshal(&frame.Findings{APIURL: rig.sim.URL(), CheckedAt: time.Now().UTC(),
		AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"cloneSandbox"}}})
	if err := os.WriteFile(filepath.Join(rig.stateDir(), frame.FindingsFile), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := rig.exec(nil, "plan", rolloutFile); strings.Contains(r.err, note) || !strings.Contains(r.err, "come from the old file") || !strings.Contains(r.err, "run `frameflow doctor`") {
		t.Errorf("with the old findings file:\n%s", r)
	}
	if err := os.Remove(filepath.Join(rig.stateDir(), frame.FindingsFile)); err != nil {
		t.Fatal(err)
	}
	save(rig.sim.URL(), "sim-client")
	if r := rig.run(nil); r.code != 0 || strings.Contains(r.err, note) || strings.Contains(r.err, "old file") {
		t.Errorf("with findings for this URL and credential:\n%s", r)
	}
}
