package workflows_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// Every playbook in this folder is validated, run against a fresh
// in-process simulator, and checked for what it is for. A playbook without a
// case in playbooks fails TestEveryPlaybookHasACase, so nothing lands here
// untested.

// playbook is the test case of one file: the estate it runs against, the
// inputs it needs, and what must be true afterwards.
type playbook struct {
	scenario func() *sim.Scenario
	// faults, when set, adds the simulator's fault options (task failures).
	faults func(t *testing.T) sim.Options
	inputs []string // k=v
	check  func(t *testing.T, e *estate)
}

var playbooks = map[string]playbook{
	"qa-rollout.yaml": {
		scenario: func() *sim.Scenario { return sim.RetailScenario(6) },
		check:    checkQARollout,
	},
	"nightly-catch-up.yaml": {
		scenario: catchUpScenario,
		check:    checkNightlyCatchUp,
	},
	"capacity-schedule.yaml": {
		scenario: capacityScenario,
		inputs:   []string{"profile=day"},
		check:    checkCapacitySchedule,
	},
	"onboard-store.yaml": {
		scenario: func() *sim.Scenario { return sim.RetailScenario(3) },
		inputs:   onboardInputs,
		check:    checkOnboardStore,
	},
	"publish-if-changed.yaml": {
		scenario: publishedScenario,
		check:    checkPublishIfChanged,
	},
	"rollout-notify.yaml": {
		scenario: func() *sim.Scenario { return sim.RetailScenario(6) },
		faults:   firstCloneFails(6 * 3),
		check:    checkRolloutNotify,
	},
	"canary-rollout.yaml": {
		scenario: func() *sim.Scenario { return sim.RetailScenario(6) },
		check:    checkCanaryRollout,
	},
	"change-ticket-rollout.yaml": {
		scenario: func() *sim.Scenario { return sim.RetailScenario(4) },
		check:    checkChangeTicket,
	},
}

// taskDuration keeps every simulated task short: the tests are about what is
// sent, not about how long Frame takes.
const taskDuration = 50 * time.Millisecond

func TestEveryPlaybookHasACase(t *testing.T) {
	files := yamlFiles(t)
	onDisk := map[string]bool{}
	for _, f := range files {
		onDisk[f] = true
		if _, ok := playbooks[f]; !ok {
			t.Errorf("%s has no test case: add it to the playbooks table in workflows_test.go with a check of what it is for", f)
		}
	}
	for name := range playbooks {
		if !onDisk[name] {
			t.Errorf("the playbooks table names %s, which is not in workflows/", name)
		}
	}
}

func TestPlaybooksValidate(t *testing.T) {
	files := yamlFiles(t)
	r := frameflow(t, nil, append([]string{"validate"}, files...)...)
	if r.code != 0 {
		t.Fatalf("frameflow validate %s:\n%s", strings.Join(files, " "), r)
	}
}

func TestPlaybooks(t *testing.T) {
	for _, f := range yamlFiles(t) {
		pb, ok := playbooks[f]
		if !ok {
			continue // reported by TestEveryPlaybookHasACase
		}
		t.Run(strings.TrimSuffix(f, ".yaml"), func(t *testing.T) {
			t.Parallel()
			if r := frameflow(t, nil, "validate", f); r.code != 0 {
				t.Fatalf("validate:\n%s", r)
			}
			pb.check(t, newEstate(t, f, pb))
		})
	}
}

// ---- the estate a playbook runs against --------------------------------------

// estate is a running simulator and the means to run one playbook against
// it, as a user would: the CLI in-process, with the simulator's credentials
// in the environment.
type estate struct {
	t      *testing.T
	sim    *sim.Running
	env    map[string]string
	file   string
	inputs []string
	before sim.State
}

func newEstate(t *testing.T, file string, pb playbook) *estate {
	t.Helper()
	sc := sim.RetailScenario(6)
	if pb.scenario != nil {
		sc = pb.scenario()
	}
	o := sim.Options{}
	if pb.faults != nil {
		o = pb.faults(t)
	}
	o.Scenario, o.TaskDuration = sc, taskDuration
	r, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	e := &estate{
		t: t, sim: r, file: file, inputs: pb.inputs,
		env: map[string]string{
			"FRAME_API_URL":       r.URL(),
			"FRAME_CLIENT_ID":     sim.DefaultClientID,
			"FRAME_CLIENT_SECRET": sim.DefaultClientSecret,
			"FRAMEFLOW_STATE_DIR": t.TempDir(),
		},
	}
	e.before = r.Snapshot()
	return e
}

// run runs the playbook with --yes, JSON events and the case's inputs (extra
// ones win), fails the test unless it exits 0, and returns the run's events
// and the requests it sent.
func (e *estate) run(extra ...string) (events, []sim.RequestRecord) {
	e.t.Helper()
	from := len(e.sim.Requests())
	args := append([]string{"run", e.file, "--yes", "--output", "json"}, inputFlags(e.inputs, extra)...)
	r := frameflow(e.t, e.env, args...)
	if r.code != 0 {
		e.t.Fatalf("frameflow %s:\n%s", strings.Join(args, " "), r)
	}
	var evs events
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			e.t.Fatalf("--output json printed a line that is not an event: %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs, e.sim.Requests()[from:]
}

// event is the part of a JSON Lines event (docs/events.md) the checks read.
type event struct {
	Type   string `json:"type"`
	Step   string `json:"step"`
	Item   string `json:"item"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

type events []event

// finished maps "step" or "step [item]" to the status it finished with.
func (evs events) finished() map[string]string {
	out := map[string]string{}
	for _, ev := range evs {
		if ev.Type != "step_finished" {
			continue
		}
		k := ev.Step
		if ev.Item != "" {
			k += " [" + ev.Item + "]"
		}
		out[k] = ev.Status
	}
	return out
}

// plan runs `frameflow plan` and returns its output.
func (e *estate) plan(extra ...string) result {
	e.t.Helper()
	// --detail: every target listed, so that tests can look for each.
	args := append([]string{"plan", e.file, "--detail"}, inputFlags(e.inputs, extra)...)
	return frameflow(e.t, e.env, args...)
}

// inputFlags turns the case's inputs and a run's extra ones (which win)
// into --input flags.
func inputFlags(base, extra []string) []string {
	var names []string
	vals := map[string]string{}
	for _, kv := range append(append([]string(nil), base...), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := vals[k]; !seen {
			names = append(names, k)
		}
		vals[k] = v
	}
	var out []string
	for _, k := range names {
		out = append(out, "--input", k+"="+vals[k])
	}
	return out
}

func (e *estate) state() sim.State { return e.sim.Snapshot() }

type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err
}

func frameflow(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, cli.Streams{
		In:  strings.NewReader(""),
		Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{out: out.String(), err: errb.String(), code: code}
}

func yamlFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no playbooks found in workflows/")
	}
	sort.Strings(files)
	return files
}

// ---- reading the request log -------------------------------------------------

// mutations are the requests that change something (anything but GET) and
// that the simulator accepted.
func mutations(reqs []sim.RequestRecord) []sim.RequestRecord {
	var out []sim.RequestRecord
	for _, q := range reqs {
		if q.Method != "GET" && q.Status < 400 {
			out = append(out, q)
		}
	}
	return out
}

// op is an accepted mutation, classified.
type op struct {
	kind    string // clone, publish, elasticity, create, other
	account string // the account it changes (for elasticity: the pool's account)
	pool    string // elasticity: the pool; clone: the source pool
	form    url.Values
}

func ops(reqs []sim.RequestRecord, st sim.State) []op {
	poolAccount := map[string]string{}
	for _, p := range st.Pools {
		poolAccount[p.ID] = p.AccountID
	}
	var out []op
	for _, q := range mutations(reqs) {
		parts := strings.Split(strings.Trim(strings.TrimPrefix(q.Path, "/v1"), "/"), "/")
		form, _ := url.ParseQuery(q.Body)
		o := op{kind: "other", form: form}
		switch {
		case len(parts) == 5 && parts[0] == "accounts" && parts[2] == "pools" && parts[4] == "clone":
			o.kind, o.account, o.pool = "clone", parts[1], parts[3]
		case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "publish":
			o.kind, o.account = "publish", parts[1]
		case len(parts) == 3 && parts[0] == "pools" && parts[2] == "elasticity_settings":
			o.kind, o.pool, o.account = "elasticity", parts[1], poolAccount[parts[1]]
		case len(parts) == 1 && parts[0] == "accounts" && q.Method == "POST":
			o.kind = "create"
		}
		out = append(out, o)
	}
	return out
}

// byAccount counts the accepted mutations of each kind per account id.
func byAccount(os []op) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, o := range os {
		if out[o.account] == nil {
			out[o.account] = map[string]int{}
		}
		out[o.account][o.kind]++
	}
	return out
}

func accountNamed(t *testing.T, st sim.State, name string) sim.AccountState {
	t.Helper()
	for _, a := range st.Accounts {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no account %q in the simulator", name)
	return sim.AccountState{}
}

func sandboxPool(st sim.State, account string) string {
	for _, p := range st.Pools {
		if p.AccountID == account && p.Kind == "sandbox" {
			return p.ID
		}
	}
	return ""
}

func productionPools(st sim.State, account string) []sim.PoolState {
	var out []sim.PoolState
	for _, p := range st.Pools {
		if p.AccountID == account && p.Kind == "production" {
			out = append(out, p)
		}
	}
	return out
}

func elasticity(min, buffer, max int) sim.ElasticitySpec {
	return sim.ElasticitySpec{MinServers: min, BufferServers: buffer, MaxServers: max}
}

// ---- qa-rollout --------------------------------------------------------------

// The reference playbook's own acceptance test is cli/rollout_test.go; here
// it only has to run and publish every store.
func checkQARollout(t *testing.T, e *estate) {
	_, reqs := e.run()
	st := e.state()
	qa := accountNamed(t, st, "QA")
	counts := byAccount(ops(reqs, st))
	for _, a := range st.Accounts {
		if !strings.HasPrefix(a.Name, "Store-") {
			if len(counts[a.ID]) > 0 {
				t.Errorf("%s is not a store but was changed: %v", a.Name, counts[a.ID])
			}
			continue
		}
		if c := counts[a.ID]; c["clone"] != 1 || c["publish"] != 1 || c["elasticity"] != 1 {
			t.Errorf("%s: want one clone, publish and elasticity change, got %v", a.Name, c)
		}
		if a.ProductionImageVersion != qa.SandboxImageVersion {
			t.Errorf("%s runs %s in production, want QA's %s", a.Name, a.ProductionImageVersion, qa.SandboxImageVersion)
		}
	}
}

// ---- nightly-catch-up ----------------------------------------------------------

// catchUpScenario: QA, three stores published long ago, three that opened
// since (never published, one of them with no production capacity yet, as
// a new account starts), and one store not open yet.
func catchUpScenario() *sim.Scenario {
	yes, no := true, false
	old := sim.AccountSpec{
		CloudProvider: "aws", Active: &yes, LastPublish: "2026-09-14T14:54:21Z",
		Sandbox:    sim.SandboxSpec{ImageVersion: "cs-tool-2.3.1"},
		Production: sim.ProductionSpec{ImageVersion: "cs-tool-2.3.1", Pools: []sim.PoolSpec{{Name: "Air 8GB", Elasticity: elasticity(0, 0, 1)}}},
	}
	fresh := sim.AccountSpec{
		CloudProvider: "aws", Active: &yes,
		Sandbox:    sim.SandboxSpec{ImageVersion: "base-1.0.0"},
		Production: sim.ProductionSpec{Pools: []sim.PoolSpec{{Name: "Air 8GB", Elasticity: elasticity(0, 0, 1)}}},
	}
	empty := fresh
	empty.Production = sim.ProductionSpec{Pools: []sim.PoolSpec{{Name: "Air 8GB", Elasticity: elasticity(0, 0, 0)}}}
	closed := fresh
	closed.Active = &no
	named := func(n string, a sim.AccountSpec) sim.AccountSpec { a.Name = n; return a }
	return &sim.Scenario{Organizations: []sim.OrganizationSpec{{
		Name: "Mark's Hardware",
		Accounts: []sim.AccountSpec{
			{
				Name: "QA", CloudProvider: "aws", Active: &yes, LastPublish: "2026-10-02T16:20:00Z",
				Sandbox:    sim.SandboxSpec{ImageVersion: "cs-tool-2.4.0", Running: true},
				Production: sim.ProductionSpec{ImageVersion: "cs-tool-2.3.1", Pools: []sim.PoolSpec{{Name: "Air 8GB", Elasticity: elasticity(1, 1, 3)}}},
			},
			named("Store-Boston", old), named("Store-Chicago", old), named("Store-Denver", old),
			named("Store-Lisbon", fresh), named("Store-Dublin", fresh), named("Store-Oslo", empty),
			named("Store-Madrid", closed),
		},
	}}}
}

func checkNightlyCatchUp(t *testing.T, e *estate) {
	newStores := map[string]bool{"Store-Lisbon": true, "Store-Dublin": true, "Store-Oslo": true}

	// Before: the plan lists the work, for the new stores only.
	if p := e.plan(); p.code != 0 || !strings.Contains(p.out, "Store-Oslo") || strings.Contains(p.out, "Store-Boston") {
		t.Errorf("plan before the catch-up should list Store-Oslo and not Store-Boston:\n%s", p)
	}

	evs, reqs := e.run()
	st := e.state()
	qa := accountNamed(t, st, "QA")
	qaSandbox := sandboxPool(st, qa.ID)
	all := ops(reqs, st)
	counts := byAccount(all)
	for _, o := range all {
		if o.kind == "clone" && o.pool != qaSandbox {
			t.Errorf("clone of %s from pool %s, want QA's sandbox pool %s", o.account, o.pool, qaSandbox)
		}
		if o.kind == "elasticity" {
			if got := o.form.Get("min_servers") + "/" + o.form.Get("buffer_servers") + "/" + o.form.Get("max_servers"); got != "1/1/5" {
				t.Errorf("elasticity of pool %s set to %s, want the defaults 1/1/5", o.pool, got)
			}
		}
	}
	for _, a := range st.Accounts {
		c := counts[a.ID]
		if !newStores[a.Name] {
			if len(c) > 0 {
				t.Errorf("%s was published before (or is not an open store) but was changed: %v", a.Name, c)
			}
			continue
		}
		if c["clone"] != 1 || c["publish"] != 1 || c["elasticity"] != 1 {
			t.Errorf("%s: want one clone, publish and elasticity change, got %v", a.Name, c)
		}
		if a.LastPublish == nil || a.ProductionImageVersion != qa.SandboxImageVersion {
			t.Errorf("%s not caught up: last_publish %v, production %s", a.Name, a.LastPublish, a.ProductionImageVersion)
		}
		for _, p := range productionPools(st, a.ID) {
			if p.Elasticity != elasticity(1, 1, 5) {
				t.Errorf("%s pool %s at %+v, want 1/1/5", a.Name, p.Name, p.Elasticity)
			}
		}
	}
	if len(counts) != len(newStores) {
		t.Errorf("changed %d accounts, want the %d new stores: %v", len(counts), len(newStores), counts)
	}
	for k, status := range evs.finished() {
		if status != "succeeded" {
			t.Errorf("first run: %s %s", k, status)
		}
	}

	// The next night: nothing is new, nothing is sent, and the run says
	// the fan-out had no item: it finished without running a step.
	evs, reqs = e.run()
	if m := mutations(reqs); len(m) > 0 {
		t.Errorf("second run sent %d mutations, want none: %+v", len(m), m)
	}
	fin := evs.finished()
	if fin["catch_up"] != "succeeded" || fin["new_stores"] != "succeeded" {
		t.Errorf("second run: new_stores %q, catch_up %q; want both succeeded", fin["new_stores"], fin["catch_up"])
	}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Step, "catch_up.") {
			t.Errorf("second run: the fan-out ran an item: %+v", ev)
		}
	}
	if p := e.plan(); p.code != 0 || !strings.Contains(p.out, "No changes") {
		t.Errorf("plan after the catch-up should say there is nothing to do:\n%s", p)
	}
}

// ---- capacity-schedule ---------------------------------------------------------

// capacityScenario: QA and six stores at 0/0/1, a store with two production
// pools of which one is already at the day capacity, and a closed store.
func capacityScenario() *sim.Scenario {
	sc := sim.RetailScenario(6)
	no := false
	org := &sc.Organizations[0]
	org.Accounts = append(org.Accounts,
		sim.AccountSpec{Name: "Store-Twin", CloudProvider: "aws", Production: sim.ProductionSpec{Pools: []sim.PoolSpec{
			{Name: "Air 8GB", Elasticity: elasticity(0, 0, 1)},
			{Name: "Pro 16GB", Elasticity: elasticity(2, 2, 10)},
		}}},
		sim.AccountSpec{Name: "Store-Closed", CloudProvider: "aws", Active: &no},
	)
	return sc
}

func checkCapacitySchedule(t *testing.T, e *estate) {
	day, night := elasticity(2, 2, 10), elasticity(0, 0, 2)
	isTarget := func(a sim.AccountState) bool { return strings.HasPrefix(a.Name, "Store-") && a.Active }
	// expect checks every production pool: targets at want, others as
	// they were before the first run.
	expect := func(when string, want sim.ElasticitySpec) {
		t.Helper()
		st := e.state()
		was := map[string]sim.ElasticitySpec{}
		for _, p := range e.before.Pools {
			was[p.ID] = p.Elasticity
		}
		for _, a := range st.Accounts {
			for _, p := range productionPools(st, a.ID) {
				w := want
				if !isTarget(a) {
					w = was[p.ID]
				}
				if p.Elasticity != w {
					t.Errorf("%s: %s pool %s at %+v, want %+v", when, a.Name, p.Name, p.Elasticity, w)
				}
			}
		}
	}

	// A profile that is not day or night, or none at all, is refused before
	// anything is sent.
	for _, bad := range [][]string{{"--input", "profile=evening"}, nil} {
		from := len(e.sim.Requests())
		r := frameflow(t, e.env, append([]string{"run", e.file, "--yes"}, bad...)...)
		if r.code != 2 || !strings.Contains(r.err, "profile") {
			t.Errorf("run with %v: want exit 2 naming the profile input:\n%s", bad, r)
		}
		if n := len(e.sim.Requests()) - from; n != 0 {
			t.Errorf("run with %v sent %d requests, want none", bad, n)
		}
	}

	_, reqs := e.run()
	expect("after the day run", day)
	st := e.state()
	posted := map[string]int{}
	for _, o := range ops(reqs, st) {
		if o.kind != "elasticity" {
			t.Errorf("the day run sent something other than an elasticity change: %+v", o)
		}
		posted[o.pool]++
	}
	twin := accountNamed(t, st, "Store-Twin")
	for _, p := range productionPools(st, twin.ID) {
		want := 1
		if p.Name == "Pro 16GB" {
			want = 0 // already at the day capacity: reported unchanged, not sent
		}
		if posted[p.ID] != want {
			t.Errorf("Store-Twin pool %s: %d changes sent, want %d", p.Name, posted[p.ID], want)
		}
	}
	if want := 6 + 1; len(posted) != want {
		t.Errorf("the day run changed %d pools, want %d (six stores and one pool of Store-Twin)", len(posted), want)
	}

	// The same profile again: every pool is unchanged and nothing is sent.
	evs, reqs := e.run()
	if m := mutations(reqs); len(m) > 0 {
		t.Errorf("second day run sent %d mutations, want none: %+v", len(m), m)
	}
	unchanged := 0
	for k, status := range evs.finished() {
		if strings.HasPrefix(k, "scale.capacity ") {
			if status != "unchanged" {
				t.Errorf("second day run: %s %s, want unchanged", k, status)
			}
			unchanged++
		}
	}
	if unchanged != 7 {
		t.Errorf("second day run reported %d accounts, want the 7 open stores unchanged", unchanged)
	}
	expect("after the second day run", day)

	// Night scales every target pool down, including the one that was
	// already at the day capacity.
	_, reqs = e.run("profile=night")
	expect("after the night run", night)
	if n := len(mutations(reqs)); n != 6+2 {
		t.Errorf("the night run sent %d changes, want %d (one per production pool of the open stores)", n, 6+2)
	}
}

// ---- onboard-store -------------------------------------------------------------

var onboardInputs = []string{
	"name=Store-Lisbon",
	"cloud_service_external_id=aws", // the simulator knows providers by name
	"data_center_external_id=gateway-prod.12",
	"sandbox_instance_type_id=gateway-prod.1",
	"image_family=FrameAWSWindows2019",
	"master_image_id=base-1.0.0",
	// organization_id is added by the check: it is the simulator's.
}

func checkOnboardStore(t *testing.T, e *estate) {
	org := e.before.Organizations[0].ID
	if p := e.plan("organization_id=" + org); p.code != 0 || !strings.Contains(p.out, "POST /accounts\n") {
		t.Errorf("the plan should show the account creation:\n%s", p)
	}
	_, reqs := e.run("organization_id=" + org)
	st := e.state()
	qa := accountNamed(t, st, "QA")
	if got, want := len(st.Accounts), len(e.before.Accounts)+1; got != want {
		t.Fatalf("%d accounts after onboarding, want %d (exactly one created)", got, want)
	}
	store := accountNamed(t, st, "Store-Lisbon")
	if !store.Active || store.OrganizationID != org {
		t.Errorf("Store-Lisbon: active %v, organization %s; want active in %s", store.Active, store.OrganizationID, org)
	}
	if store.LastPublish == nil || store.ProductionImageVersion != qa.SandboxImageVersion {
		t.Errorf("Store-Lisbon not published with QA's image: last_publish %v, production %s, want %s", store.LastPublish, store.ProductionImageVersion, qa.SandboxImageVersion)
	}
	for _, p := range productionPools(st, store.ID) {
		if p.Elasticity != elasticity(1, 1, 5) {
			t.Errorf("Store-Lisbon pool %s at %+v, want 1/1/5", p.Name, p.Elasticity)
		}
	}
	// In order: one create, one clone from QA's sandbox, the capacity, one
	// publish, and nothing to any other account.
	var kinds []string
	for _, o := range ops(reqs, st) {
		kinds = append(kinds, o.kind)
		if o.kind != "create" && o.account != store.ID {
			t.Errorf("onboarding changed another account: %+v", o)
		}
		if o.kind == "clone" && o.pool != sandboxPool(st, qa.ID) {
			t.Errorf("clone from pool %s, want QA's sandbox pool", o.pool)
		}
	}
	if got, want := strings.Join(kinds, ","), "create,clone,elasticity,publish"; got != want {
		t.Errorf("mutations sent: %s, want %s", got, want)
	}
	for _, q := range mutations(reqs) {
		if q.Method == "POST" && q.Path == "/v1/accounts" {
			form, _ := url.ParseQuery(q.Body)
			if form.Get("url_slug") != "store-lisbon" || form.Get("name") != "Store-Lisbon" {
				t.Errorf("account created as %q with slug %q, want Store-Lisbon / store-lisbon", form.Get("name"), form.Get("url_slug"))
			}
		}
	}
}

// ---- publish-if-changed --------------------------------------------------------

// publishedScenario: QA and four stores, all published before, plus one
// store never published (left to the catch-up).
func publishedScenario() *sim.Scenario {
	sc := catchUpScenario()
	org := &sc.Organizations[0]
	var keep []sim.AccountSpec
	for _, a := range org.Accounts {
		if a.Name == "Store-Dublin" || a.Name == "Store-Oslo" {
			continue
		}
		if a.Name == "Store-Lisbon" {
			a.LastPublish = "2026-09-15T09:40:37Z"
		}
		keep = append(keep, a)
	}
	yes := true
	keep = append(keep, sim.AccountSpec{Name: "Store-New", CloudProvider: "aws", Active: &yes})
	org.Accounts = keep
	return sc
}

// After every store published, QA's sandbox is cloned into Store-Chicago
// only: the playbook publishes Store-Chicago and nothing else, and a second
// run publishes nothing.
func checkPublishIfChanged(t *testing.T, e *estate) {
	st := e.state()
	qa := accountNamed(t, st, "QA")
	chicago := accountNamed(t, st, "Store-Chicago")
	r := frameflow(t, e.env, "api", "post", "/accounts/"+chicago.ID+"/pools/"+sandboxPool(st, qa.ID)+"/clone")
	if r.code != 0 {
		t.Fatalf("clone into Store-Chicago:\n%s", r)
	}
	deadline := time.Now().Add(30 * time.Second)
	for accountNamed(t, e.state(), "Store-Chicago").SandboxImageVersion != qa.SandboxImageVersion {
		if time.Now().After(deadline) {
			t.Fatal("the clone into Store-Chicago did not finish")
		}
		time.Sleep(taskDuration)
	}

	if p := e.plan(); p.code != 0 || !strings.Contains(p.out, "accounts.publish (sandbox.publish) × 1\n") || !strings.Contains(p.out, "- Store-Chicago: account") || strings.Contains(p.out, "- Store-Boston: account") {
		t.Errorf("the plan should publish Store-Chicago only:\n%s", p)
	}
	evs, reqs := e.run()
	fin := evs.finished()
	for _, name := range []string{"Store-Boston", "Store-Denver", "Store-Lisbon"} {
		if got := fin["accounts.publish ["+name+"]"]; got != "skipped" {
			t.Errorf("publish of %s (sandbox unchanged) %q, want skipped", name, got)
		}
	}
	if got := fin["accounts.publish [Store-Chicago]"]; got != "succeeded" {
		t.Errorf("publish of Store-Chicago (sandbox cloned since) %q, want succeeded", got)
	}
	if _, seen := fin["accounts.changes [Store-New]"]; seen {
		t.Error("Store-New was never published and should not be considered")
	}
	st = e.state()
	counts := byAccount(ops(reqs, st))
	if len(counts) != 1 || counts[chicago.ID]["publish"] != 1 || len(counts[chicago.ID]) != 1 {
		t.Errorf("want one publish of Store-Chicago and nothing else, got %v", counts)
	}
	if a := accountNamed(t, st, "Store-Chicago"); a.ProductionImageVersion != qa.SandboxImageVersion {
		t.Errorf("Store-Chicago production runs %s, want %s", a.ProductionImageVersion, qa.SandboxImageVersion)
	}
	_, reqs = e.run()
	if m := mutations(reqs); len(m) > 0 {
		t.Errorf("second run sent %d mutations, want none (its own publish is not a sandbox change): %+v", len(m), m)
	}
}
