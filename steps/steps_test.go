package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

func storeFilter(elem any) (bool, error) {
	m := elem.(map[string]any)
	return strings.HasPrefix(str(m["name"]), "Store-") && m["active"] == true, nil
}

func TestAccountsList(t *testing.T) {
	e := newEnv(t, sim.Options{})
	out := e.ok("accounts.list", map[string]any{"filter": `account.name startsWith "Store-"`},
		runOpts{predicates: map[string]engine.Predicate{"filter": storeFilter}})
	if out["count"] != 3 {
		t.Fatalf("count = %v, want 3", out["count"])
	}
	for _, a := range out["accounts"].([]any) {
		if !strings.HasPrefix(str(a.(map[string]any)["name"]), "Store-") {
			t.Errorf("filter kept %v", a)
		}
	}

	// name is sent as a query parameter; Frame filters.
	out = e.ok("accounts.list", map[string]any{"name": "QA"}, runOpts{})
	if out["count"] != 1 || str(out["accounts"].([]any)[0].(map[string]any)["name"]) != "QA" {
		t.Fatalf("name=QA: %v", out)
	}
	if q := e.sim.Requests()[len(e.sim.Requests())-1].Query; !strings.Contains(q, "name=QA") {
		t.Errorf("query %q does not carry name", q)
	}

	// A filter given without a compiled predicate is an error, not "all".
	if _, _, err := e.run("accounts.list", map[string]any{"filter": "account.active"}, runOpts{}); err == nil {
		t.Error("filter without predicate: no error")
	}

	// Offline: nothing is read, the list is unknown.
	before := len(e.sim.Requests())
	out = e.ok("accounts.list", map[string]any{}, runOpts{mode: engine.ModeOffline})
	if !engine.IsUnknown(out["accounts"]) || !engine.IsUnknown(out["count"]) {
		t.Errorf("offline outputs = %v", out)
	}
	if len(e.sim.Requests()) != before {
		t.Error("offline mode sent a request")
	}
}

func TestAccountsGetAndPoolsList(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa := e.accountID("QA")
	out := e.ok("accounts.get", map[string]any{"account_id": qa}, runOpts{})
	if acc := out["account"].(map[string]any); acc["name"] != "QA" || acc["id"] != qa {
		t.Errorf("account = %v", acc)
	}
	out = e.ok("pools.list", map[string]any{"account_id": qa, "kind": "sandbox"}, runOpts{})
	if out["count"] != 1 || str(out["pools"].([]any)[0].(map[string]any)["id"]) != e.pool("QA", "sandbox") {
		t.Errorf("sandbox pools = %v", out)
	}
	out = e.ok("pools.list", map[string]any{"account_id": qa}, runOpts{})
	if out["count"] != 2 {
		t.Errorf("all pools: count %v, want 2", out["count"])
	}
	// A bad id is refused before anything is sent.
	before := len(e.sim.Requests())
	_, _, err := e.run("accounts.get", map[string]any{"account_id": "../admin"}, runOpts{})
	var inv *frame.InvalidRequestError
	if !errors.As(err, &inv) || len(e.sim.Requests()) != before {
		t.Errorf("bad id: err %v, requests %d -> %d", err, before, len(e.sim.Requests()))
	}
	// Offline: unknown.
	out = e.ok("accounts.get", map[string]any{"account_id": qa}, runOpts{mode: engine.ModeOffline})
	if !engine.IsUnknown(out["account"]) {
		t.Errorf("offline account = %v", out["account"])
	}
	out = e.ok("pools.list", map[string]any{"account_id": qa}, runOpts{offline: true, mode: engine.ModeOffline})
	if !engine.IsUnknown(out["pools"]) {
		t.Errorf("offline pools = %v", out["pools"])
	}
}

func TestSandboxCloneBySourceAccountAndWait(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	out := e.ok("sandbox.clone", map[string]any{
		"target_account_id": store, "source_account_id": qa, "join_domain": false, "wait": true,
	}, runOpts{})
	task := out["task"].(map[string]any)
	if task["stage"] != frame.StageDone || task["kind"] != "clone_pool" {
		t.Errorf("task = %v", task)
	}
	if out["source_pool_id"] != e.pool("QA", "sandbox") {
		t.Errorf("source_pool_id = %v", out["source_pool_id"])
	}
	want := "POST /accounts/" + store + "/pools/" + e.pool("QA", "sandbox") + "/clone"
	if got := e.mutations(); len(got) != 1 || got[0] != want {
		t.Fatalf("mutations = %v, want [%s]", got, want)
	}
	last := e.sim.Requests()
	for _, r := range last {
		if r.Method == "POST" && (r.Query != "" || r.Body != "join_domain=false") {
			t.Errorf("clone sent query %q body %q, want join_domain=false as form data", r.Query, r.Body)
		}
	}
	// The source's sandbox pool is read once per run, not per target.
	e.ok("sandbox.clone", map[string]any{"target_account_id": e.accountID("Store-002"), "source_account_id": qa}, runOpts{})
	if n := e.count("GET /accounts/" + qa + "/sandbox/status"); n != 1 {
		t.Errorf("source sandbox status read %d times, want 1", n)
	}
	if snap := e.sim.Snapshot(); snap.Accounts[1].SandboxImageVersion == "" {
		t.Error("snapshot has no image version")
	}
}

func TestSandboxCloneRefusesSelf(t *testing.T) {
	e := newEnv(t, sim.Options{})
	store := e.accountID("Store-001")
	cases := []map[string]any{
		{"target_account_id": store, "source_account_id": store},
		{"target_account_id": store, "source_pool_id": e.pool("Store-001", "sandbox")},
		{"target_account_id": store},
		{"target_account_id": store, "source_pool_id": "p", "source_account_id": "a"},
		{"target_account_id": "a/b", "source_pool_id": "p"},
	}
	for _, in := range cases {
		_, _, err := e.run("sandbox.clone", in, runOpts{})
		var inv *frame.InvalidRequestError
		if !errors.As(err, &inv) {
			t.Errorf("%v: err = %v, want an InvalidRequestError", in, err)
		}
	}
	if m := e.mutations(); len(m) != 0 {
		t.Fatalf("refused clones sent %v", m)
	}
	_, _, err := e.run("sandbox.clone", cases[1], runOpts{})
	if err == nil || !strings.Contains(err.Error(), "cannot be cloned onto itself") {
		t.Errorf("message: %v", err)
	}
}

func TestSandboxClonePlanAndOffline(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	rec := &recorder{}
	out := e.ok("sandbox.clone", map[string]any{"target_account_id": store, "source_account_id": qa, "wait": true},
		runOpts{mode: engine.ModePlan, recorder: rec})
	if m := e.mutations(); len(m) != 0 {
		t.Fatalf("plan sent %v", m)
	}
	muts := rec.all()
	if len(muts) != 1 || muts[0].Path != "/accounts/"+store+"/pools/"+e.pool("QA", "sandbox")+"/clone" || muts[0].Method != "POST" {
		t.Fatalf("planned %+v", muts)
	}
	if got := strings.Join(muts[0].Resources, ","); got != "account:"+store {
		t.Errorf("resources = %s", got)
	}
	// A reviewer reads where the clone comes from, by name, and that it is
	// an update (it overwrites the target's Sandbox).
	srcPool := e.pool("QA", "sandbox")
	if muts[0].Action != engine.ActionUpdate || muts[0].Names[srcPool] == "" || len(muts[0].Details) != 3 ||
		muts[0].Details[0] != (engine.Detail{Label: "source account", Value: qa}) || muts[0].Details[1] != (engine.Detail{Label: "source pool", Value: srcPool}) {
		t.Errorf("clone mutation for reviewers: action %q, names %v, details %v", muts[0].Action, muts[0].Names, muts[0].Details)
	}
	task := out["task"].(map[string]any)
	if !engine.IsUnknown(task["id"]) || task["account_id"] != store {
		t.Errorf("plan task = %v", task)
	}

	// Offline: no client at all; the source pool is unknown.
	rec = &recorder{}
	out = e.ok("sandbox.clone", map[string]any{"target_account_id": store, "source_account_id": qa},
		runOpts{mode: engine.ModeOffline, offline: true, recorder: rec})
	if p := rec.all()[0].Path; p != "/accounts/"+store+"/pools/(known after apply)/clone" {
		t.Errorf("offline path = %s", p)
	}
	if !engine.IsUnknown(out["source_pool_id"]) {
		t.Errorf("offline source_pool_id = %v", out["source_pool_id"])
	}
}

func TestSandboxPublishWaitAndReconcile(t *testing.T) {
	e := newEnv(t, sim.Options{})
	store := e.accountID("Store-001")
	out := e.ok("sandbox.publish", map[string]any{"account_id": store, "wait": true}, runOpts{})
	if task := out["task"].(map[string]any); task["stage"] != frame.StageDone || task["kind"] != "publish_sandbox_to_production" {
		t.Errorf("task = %v", out["task"])
	}

	// A crash after the POST: the resumed step reads the publish list
	// again, so it must reconcile against the journaled witness.
	crash := &crashRecorder{send: true}
	_, _, err := e.run("sandbox.publish", map[string]any{"account_id": store}, runOpts{recorder: crash})
	if !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	if n := e.count("POST /accounts/" + store + "/publish"); n != 2 {
		t.Fatalf("publishes = %d, want 2", n)
	}
	resume := &crashRecorder{restore: crash.witness}
	out = e.ok("sandbox.publish", map[string]any{"account_id": store, "wait": true}, runOpts{recorder: resume})
	if !resume.found {
		t.Fatal("reconcile did not find the publish that was sent")
	}
	if n := e.count("POST /accounts/" + store + "/publish"); n != 2 {
		t.Errorf("resume re-sent the publish: %d POSTs", n)
	}
	if task := out["task"].(map[string]any); task["stage"] != frame.StageDone || task["publish_id"] == nil {
		t.Errorf("reconciled task = %v", task)
	}

	// Without the journaled witness nothing can be proven: an error, not a
	// guess (a guess would publish twice).
	noRestore := &crashRecorder{}
	if _, _, err := e.run("sandbox.publish", map[string]any{"account_id": store}, runOpts{recorder: noRestore}); !errors.Is(err, steps.ErrNoWitness) {
		t.Errorf("unrestored witness: err = %v", err)
	}

	// A crash before the POST: reconcile proves absence, but only once the
	// grace for a late-listed publish task has passed.
	old := steps.PublishListGrace
	steps.PublishListGrace = 400 * time.Millisecond
	t.Cleanup(func() { steps.PublishListGrace = old })
	notSent := &crashRecorder{}
	start := time.Now()
	_, _, _ = e.run("sandbox.publish", map[string]any{"account_id": store}, runOpts{recorder: notSent})
	again := &crashRecorder{restore: notSent.witness}
	if _, _, err := e.run("sandbox.publish", map[string]any{"account_id": store}, runOpts{recorder: again}); err != nil || again.found {
		t.Errorf("not sent: err %v found %v", err, again.found)
	}
	if d := time.Since(start); d < steps.PublishListGrace {
		t.Errorf("absence concluded after %s, before the %s grace", d, steps.PublishListGrace)
	}
}

var errCrash = errors.New("simulated crash")

// crashRecorder plays the journal around a crash. With send, it sends and
// then "crashes" (keeping the witness). With restore, it behaves as resume:
// it restores the journaled witness and reconciles, returning what was
// found, else an error if not found and not resending.
type crashRecorder struct {
	send    bool
	restore json.RawMessage
	witness json.RawMessage
	found   bool
}

func (r *crashRecorder) Do(ctx context.Context, _ string, m *engine.Mutation) (any, error) {
	r.witness = m.Witness
	if r.send {
		if _, err := m.Send(ctx); err != nil {
			return nil, err
		}
		return nil, errCrash
	}
	if r.restore != nil {
		m.Witness = r.restore
	}
	res, found, err := m.Reconcile(ctx)
	if err != nil {
		return nil, err
	}
	r.found = found
	if !found {
		return nil, nil
	}
	return engine.RoundTrip(res)
}

func TestTaskWait(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	out := e.ok("sandbox.clone", map[string]any{"target_account_id": store, "source_account_id": qa}, runOpts{})
	var progress []string
	events := func(ev engine.Event) { progress = append(progress, ev.Message) }
	got := e.ok("task.wait", map[string]any{"task": out["task"]}, runOpts{events: events})
	task := got["task"].(map[string]any)
	if task["stage"] != frame.StageDone || task["id"] != out["task"].(map[string]any)["id"] {
		t.Errorf("waited task = %v", task)
	}
	if len(progress) == 0 || !strings.Contains(progress[0], "Cloning system") {
		t.Errorf("progress = %v", progress)
	}
	// By account_id and task_id; a finished task is returned at once.
	id := str(task["id"])
	before := e.count("GET /accounts/" + store + "/task/")
	got = e.ok("task.wait", map[string]any{"account_id": store, "task_id": id, "timeout": "5s"}, runOpts{})
	if got["task"].(map[string]any)["stage"] != frame.StageDone || e.count("GET /accounts/"+store+"/task/") != before+1 {
		t.Errorf("by ids: %v", got)
	}
	// Unknown (plan): at once, nothing read.
	before = len(e.sim.Requests())
	got = e.ok("task.wait", map[string]any{"task": map[string]any{"id": engine.Unknown, "account_id": store}}, runOpts{mode: engine.ModePlan})
	if !engine.IsUnknown(got["task"].(map[string]any)["id"]) || len(e.sim.Requests()) != before {
		t.Errorf("unknown task: %v", got)
	}
	// Bad inputs.
	for _, in := range []map[string]any{{"account_id": store}, {"task": "nope"}, {"task": out["task"], "timeout": "soon"}} {
		if _, _, err := e.run("task.wait", in, runOpts{}); err == nil {
			t.Errorf("%v: no error", in)
		}
	}
}

func TestTaskWaitFailedTask(t *testing.T) {
	e := newEnv(t, sim.Options{TaskFailRate: 1})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	_, _, err := e.run("sandbox.clone", map[string]any{"target_account_id": store, "source_account_id": qa, "wait": true}, runOpts{})
	var tf *frame.TaskFailedError
	if !errors.As(err, &tf) {
		t.Fatalf("err = %v, want a TaskFailedError", err)
	}
	if !strings.Contains(err.Error(), "Cloning system") || tf.Task.Stage != frame.StageFailed {
		t.Errorf("message %q lacks the display name", err)
	}
}

func TestTaskWaitTimeout(t *testing.T) {
	e := newEnv(t, sim.Options{TaskDuration: time.Hour})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	out := e.ok("sandbox.clone", map[string]any{"target_account_id": store, "source_account_id": qa}, runOpts{})
	_, _, err := e.run("task.wait", map[string]any{"task": out["task"], "timeout": "100ms", "initial_interval": "10ms"}, runOpts{})
	var te *steps.WaitTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a WaitTimeoutError", err)
	}
}

func TestElasticitySet(t *testing.T) {
	e := newEnv(t, sim.Options{})
	store := e.accountID("Store-001")
	pool := e.pool("Store-001", "production")
	in := map[string]any{"account_id": store, "min_servers": 1, "buffer_servers": 1, "max_servers": 5, "wait": true}

	// Plan first: reads happen, the change is shown, nothing is sent.
	rec := &recorder{}
	e.ok("elasticity.set", in, runOpts{mode: engine.ModePlan, recorder: rec})
	if m := e.mutations(); len(m) != 0 {
		t.Fatalf("plan sent %v", m)
	}
	muts := rec.all()
	if len(muts) != 1 || muts[0].Path != "/pools/"+pool+"/elasticity_settings" {
		t.Fatalf("planned %+v", muts)
	}
	// Settings as objects, so that a plan labels each (min 0 → 1, ...).
	if c := muts[0].Change; c == nil || !reflect.DeepEqual(c.Before, map[string]any{"min_servers": 0, "buffer_servers": 0, "max_servers": 1}) ||
		!reflect.DeepEqual(c.After, map[string]any{"min_servers": 1, "buffer_servers": 1, "max_servers": 5}) {
		t.Errorf("change = %+v", muts[0].Change)
	}
	if muts[0].Action != engine.ActionUpdate || len(muts[0].Names) != 1 {
		t.Errorf("elasticity mutation: action %q, names %v; want an update naming its pool", muts[0].Action, muts[0].Names)
	}
	// A form, as the catalog sends it: the plan shows buffer_servers=1&...
	if b, ok := muts[0].Body.(url.Values); !ok || b.Encode() != "buffer_servers=1&max_servers=5&min_servers=1" {
		t.Errorf("body = %#v, want the form buffer_servers=1&max_servers=5&min_servers=1", muts[0].Body)
	}

	out, sc, err := e.run("elasticity.set", in, runOpts{})
	mustOK(t, out, err)
	if sc.Unchanged() || out["task"].(map[string]any)["stage"] != frame.StageDone {
		t.Errorf("first set: unchanged=%v out=%v", sc.Unchanged(), out)
	}
	if b, a := out["before"].(map[string]any), out["after"].(map[string]any); b["max_servers"] != 1 || a["max_servers"] != 5 {
		t.Errorf("before %v after %v", b, a)
	}
	if n := e.count("POST /pools/" + pool + "/elasticity_settings"); n != 1 {
		t.Fatalf("POSTs = %d", n)
	}

	// Again: already equal, nothing sent, reported unchanged.
	out, sc, err = e.run("elasticity.set", map[string]any{"pool_id": pool, "min_servers": 1, "buffer_servers": 1, "max_servers": 5}, runOpts{})
	mustOK(t, out, err)
	if !sc.Unchanged() || e.count("POST /pools/") != 1 {
		t.Errorf("unchanged run: unchanged=%v posts=%d", sc.Unchanged(), e.count("POST /pools/"))
	}
	if b, _ := json.Marshal(out["before"]); string(b) != mustJSON(out["after"]) {
		t.Errorf("unchanged: before %v != after %v", out["before"], out["after"])
	}

	// Offline: the pool is unknown, the change's before too.
	rec = &recorder{}
	e.ok("elasticity.set", in, runOpts{mode: engine.ModeOffline, offline: true, recorder: rec})
	if m := rec.all(); len(m) != 1 || !engine.IsUnknown(m[0].Change.Before) || m[0].Path != "/pools/(known after apply)/elasticity_settings" {
		t.Errorf("offline mutation %+v", m[0])
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestElasticitySetRefusesBadValues(t *testing.T) {
	e := newEnv(t, sim.Options{})
	pool := e.pool("Store-001", "production")
	cases := []map[string]any{
		{"pool_id": pool, "min_servers": -1, "max_servers": 5},
		{"pool_id": pool, "min_servers": 6, "max_servers": 5},
		{"pool_id": pool, "buffer_servers": 6, "max_servers": 5},
		{"pool_id": pool, "max_servers": 1001},
		{"pool_id": pool, "max_servers": 2.5},
		{"pool_id": pool, "max_servers": "many"},
		{"pool_id": pool},
		{"min_servers": 1, "max_servers": 5},
		{"pool_id": pool, "account_id": "a", "max_servers": 5},
		{"account_id": "a", "pool_kind": "production", "pool_name": "x", "max_servers": 5},
	}
	for _, in := range cases {
		_, _, err := e.run("elasticity.set", in, runOpts{})
		var inv *frame.InvalidRequestError
		if !errors.As(err, &inv) {
			t.Errorf("%v: err = %v, want an InvalidRequestError", in, err)
		}
	}
	if r := e.sent(); len(r) != 0 {
		t.Fatalf("invalid values sent %v", r)
	}
	// A pool kind the account lacks names the pools it has.
	_, _, err := e.run("elasticity.set", map[string]any{"account_id": e.accountID("Store-001"), "pool_kind": "gpu", "max_servers": 1}, runOpts{})
	if err == nil || !strings.Contains(err.Error(), "Production (production)") {
		t.Errorf("no pool of kind: %v", err)
	}
}

func TestElasticityReconcile(t *testing.T) {
	e := newEnv(t, sim.Options{})
	pool := e.pool("Store-001", "production")
	crash := &crashRecorder{send: true}
	_, _, _ = e.run("elasticity.set", map[string]any{"pool_id": pool, "min_servers": 2, "max_servers": 4}, runOpts{recorder: crash})
	time.Sleep(100 * time.Millisecond) // the task applies the values
	// The resumed step reads the pool: already 2/?/4, so it is unchanged and
	// sends nothing; a recorder asked to reconcile would find it too.
	out, sc, err := e.run("elasticity.set", map[string]any{"pool_id": pool, "min_servers": 2, "max_servers": 4}, runOpts{recorder: &crashRecorder{}})
	mustOK(t, out, err)
	if !sc.Unchanged() || e.count("POST /pools/") != 1 {
		t.Errorf("unchanged=%v posts=%d", sc.Unchanged(), e.count("POST /pools/"))
	}
}

func TestPersistentDesktopCapacitySet(t *testing.T) {
	e := newEnv(t, sim.Options{})
	acc := e.accountID("Store-001")
	in := map[string]any{"account_id": acc, "max_users": 20, "keep_instances_running_for_new_users": false, "number_of_backups_to_save": 2, "wait": true}
	out, sc, err := e.run("persistent_desktop.capacity.set", in, runOpts{})
	mustOK(t, out, err)
	if sc.Unchanged() || out["task"].(map[string]any)["stage"] != frame.StageDone || out["after"].(map[string]any)["max_users"] != 20 {
		t.Errorf("out = %v", out)
	}
	out, sc, err = e.run("persistent_desktop.capacity.set", in, runOpts{})
	mustOK(t, out, err)
	if !sc.Unchanged() || e.count("POST ") != 1 {
		t.Errorf("second run: unchanged=%v POSTs=%d", sc.Unchanged(), e.count("POST "))
	}
	for _, bad := range []map[string]any{
		{"account_id": acc, "max_users": -1, "keep_instances_running_for_new_users": true},
		{"account_id": acc, "max_users": 3},
	} {
		if _, _, err := e.run("persistent_desktop.capacity.set", bad, runOpts{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if e.count("POST ") != 1 {
		t.Error("invalid input sent a request")
	}
}

func TestSandboxStartStop(t *testing.T) {
	e := newEnv(t, sim.Options{})
	acc := e.accountID("Store-001")
	out := e.ok("sandbox.start", map[string]any{"account_id": acc, "wait": true}, runOpts{})
	if out["task"].(map[string]any)["stage"] != frame.StageDone {
		t.Errorf("start: %v", out)
	}
	out = e.ok("sandbox.stop", map[string]any{"account_id": acc}, runOpts{})
	if out["account_id"] != acc {
		t.Errorf("stop: %v", out)
	}
	want := []string{"POST /accounts/" + acc + "/sandbox/start", "POST /accounts/" + acc + "/sandbox/stop"}
	if got := e.mutations(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("mutations = %v", got)
	}
	rec := &recorder{}
	e.ok("sandbox.stop", map[string]any{"account_id": acc}, runOpts{mode: engine.ModePlan, recorder: rec})
	if len(rec.all()) != 1 || len(e.mutations()) != 2 {
		t.Error("plan stop sent or did not record")
	}
}

func TestRunWithoutClientFails(t *testing.T) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runStep(t, reg, "accounts.list", map[string]any{}, runOpts{}); err == nil {
		t.Error("run mode without a client: no error")
	}
}

// TestElasticitySetSeveralPools: every pool of the kind gets its own
// mutation; a pool already as desired is left alone.
func TestElasticitySetSeveralPools(t *testing.T) {
	sc, err := sim.LoadScenario([]byte(`
organizations:
  - name: Org
    accounts:
      - name: Multi
        production:
          pools:
            - {name: A, elasticity: 0/0/1}
            - {name: B, elasticity: 1/1/5}
            - {name: C, elasticity: 0/0/2}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sim.Options{Scenario: sc})
	acc := e.accountID("Multi")
	rec := &recorder{}
	in := map[string]any{"account_id": acc, "min_servers": 1, "buffer_servers": 1, "max_servers": 5}
	e.ok("elasticity.set", in, runOpts{mode: engine.ModePlan, recorder: rec})
	if n := len(rec.all()); n != 2 {
		t.Fatalf("planned %d mutations, want 2 (A and C)", n)
	}
	in["wait"] = true
	out, stc, err := e.run("elasticity.set", in, runOpts{})
	mustOK(t, out, err)
	if stc.Unchanged() || len(out["tasks"].([]any)) != 2 || len(out["pools"].([]any)) != 3 {
		t.Fatalf("out = %v", out)
	}
	for _, p := range out["pools"].([]any) {
		pm := p.(map[string]any)
		if (pm["name"] == "B") == pm["changed"].(bool) {
			t.Errorf("pool %v changed=%v", pm["name"], pm["changed"])
		}
	}
	if n := e.count("POST /pools/"); n != 2 {
		t.Errorf("POSTs = %d", n)
	}
	// By name: B is already 1/1/5.
	out, stc, err = e.run("elasticity.set", map[string]any{"account_id": acc, "pool_name": "B", "min_servers": 1, "buffer_servers": 1, "max_servers": 5}, runOpts{})
	mustOK(t, out, err)
	if !stc.Unchanged() || out["task"] != nil || len(out["tasks"].([]any)) != 0 {
		t.Errorf("pool B: unchanged=%v out=%v", stc.Unchanged(), out)
	}
	// Nothing to wait for then: task.wait on a null task is unchanged.
	got, stc, err := e.run("task.wait", map[string]any{"task": out["task"]}, runOpts{})
	mustOK(t, got, err)
	if !stc.Unchanged() || got["task"] != nil {
		t.Errorf("task.wait on null: %v", got)
	}
}
