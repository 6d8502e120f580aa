package cli_test

// An outside tester's attack on the safety guarantees (docs/resume.md):
// the real binary is killed with SIGKILL at chosen requests of the retail
// playbooks, or the simulator acts on a mutation and then answers it
// badly, and the checks read the simulator's request log and estate. The
// probes and their results are listed in docs/probes.md.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

const onboardFile = "../workflows/onboard-store.yaml"

// onboardArgs runs onboard-store for Store-Lisbon in the rig's organization.
func (c *crashRig) onboardArgs() []string {
	org := c.sim.Snapshot().Organizations[0].ID
	args := []string{"run", onboardFile, "--yes", "--output", "json"}
	for _, in := range []string{"name=Store-Lisbon", "cloud_service_external_id=aws", "data_center_external_id=gateway-prod.12",
		"sandbox_instance_type_id=gateway-prod.1", "image_family=FrameAWSWindows2019", "master_image_id=base-1.0.0", "organization_id=" + org} {
		args = append(args, "--input", in)
	}
	return args
}

func isCreate(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/v1/accounts" }

// acceptedMutations counts the mutations the simulator acted on (answered
// below 300, or dropped after acting), by method and path.
func (c *crashRig) acceptedMutations() map[string]int {
	out := map[string]int{}
	for _, q := range c.sim.Requests() {
		if q.Method != "GET" && q.Status < 300 {
			out[q.Method+" "+q.Path]++
		}
	}
	return out
}

// checkAtMostOnce fails for every mutation the simulator acted on twice.
func (c *crashRig) checkAtMostOnce() {
	c.t.Helper()
	for k, n := range c.acceptedMutations() {
		if n > 1 {
			c.t.Errorf("%s acted on %d times", k, n)
		}
	}
}

// checkOnboarded: Store-Lisbon created once, cloned, given capacity and
// published once each, nothing else changed.
func (c *crashRig) checkOnboarded() {
	t := c.t
	t.Helper()
	c.checkAtMostOnce()
	st := c.sim.Snapshot()
	var store, qa sim.AccountState
	n := 0
	for _, a := range st.Accounts {
		switch a.Name {
		case "Store-Lisbon":
			store = a
			n++
		case "QA":
			qa = a
		}
	}
	if n != 1 {
		t.Fatalf("%d accounts named Store-Lisbon, want 1", n)
	}
	if store.LastPublish == nil || store.ProductionImageVersion != qa.SandboxImageVersion {
		t.Errorf("Store-Lisbon not published with QA's image: last publish %v, production %s", store.LastPublish, store.ProductionImageVersion)
	}
	var kinds []string
	for k := range c.acceptedMutations() {
		switch {
		case k == "POST /v1/accounts":
			kinds = append(kinds, "create")
		case strings.HasPrefix(k, "POST /v1/accounts/"+store.ID+"/pools/") && strings.HasSuffix(k, "/clone"):
			kinds = append(kinds, "clone")
		case k == "POST /v1/accounts/"+store.ID+"/publish":
			kinds = append(kinds, "publish")
		case strings.HasSuffix(k, "/elasticity_settings"):
			kinds = append(kinds, "elasticity")
		default:
			t.Errorf("unexpected mutation %s", k)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("mutations acted on: %v, want create, clone, elasticity, publish", kinds)
	}
}

// The account creation's answer is lost (the process is killed after Frame
// acted): the resume stops for the operator, who finds the account and
// its creation task done and marks it sent. The rollout must then find the
// account (the answer that named it is lost) and finish, creating nothing
// twice. Before the fix the marked step failed for ever ("no task in
// response"), and the rollout could not read the account id.
func TestProbeOnboardCreateAnswerLostThenMarkedSent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	t.Parallel()
	rig := newCrashRig(t, 2, sim.Options{TaskDuration: 300 * time.Millisecond})
	rig.exec(nth(1, "acted", accepted(isCreate)), rig.onboardArgs()...)
	r := rig.resume(nil)
	if r.code != 1 || len(undecided(r)) != 1 {
		t.Fatalf("the resume should stop for a decision on the creation:\n%s", r)
	}
	rig.finish(r, []string{"crashed", "succeeded"}, 2)
	rig.checkOnboarded()
}
