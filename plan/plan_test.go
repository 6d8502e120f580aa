package plan_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
)

func TestFromResult(t *testing.T) {
	p := rolloutPlan()
	if p.FormatVersion != 1 || !p.HasChanges() {
		t.Fatalf("format %d, changes %v", p.FormatVersion, p.HasChanges())
	}
	if len(p.Mutations) != 8 || len(p.Unchanged) != 1 {
		t.Fatalf("%d mutations, %d unchanged; want 8 and 1", len(p.Mutations), len(p.Unchanged))
	}
	if u := p.Unchanged[0]; u.Step != "rollout.elasticity" || u.Item != "Store-Tahoe" {
		t.Errorf("unchanged = %+v", u)
	}
	want := plan.Summary{Changes: 8, Unchanged: 1, Destructive: 3, ByType: map[string]int{"sandbox.clone": 3, "sandbox.publish": 3, "elasticity.set": 2}}
	if got := p.Summary; got.Changes != want.Changes || got.Unchanged != want.Unchanged || got.Destructive != want.Destructive || len(got.ByType) != 3 ||
		got.ByType["sandbox.clone"] != 3 || got.ByType["elasticity.set"] != 2 {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
	if p.Inputs["webhook_token"] != plan.Sensitive {
		t.Errorf("secret input kept its value: %v", p.Inputs["webhook_token"])
	}
	if p.Hash != p.ComputeHash() || !strings.HasPrefix(p.Hash, "sha256:") {
		t.Errorf("hash %q not computed", p.Hash)
	}
	empty := plan.FromResult(workflow, nil, nil, &engine.Result{}, true, nil)
	if empty.HasChanges() || empty.Mutations == nil || empty.Unchanged == nil || empty.Inputs == nil {
		t.Errorf("empty plan: %+v", empty)
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := rolloutPlan().ComputeHash()
	if again := rolloutPlan().ComputeHash(); again != base {
		t.Fatalf("hash not stable: %s then %s", base, again)
	}

	// Neither the time of planning nor the derived summary is part of it.
	p := rolloutPlan()
	p.CreatedAt = p.CreatedAt.Add(time.Hour)
	p.Summary.Changes = 99
	if p.ComputeHash() != base {
		t.Error("hash depends on created_at or summary")
	}

	edits := map[string]func(p *plan.Plan){
		"workflow file hash": func(p *plan.Plan) { p.Workflow.FileHash = "sha256:00" },
		"input":              func(p *plan.Plan) { p.Inputs["max_servers"] = 6 },
		"offline":            func(p *plan.Plan) { p.Offline = true },
		"reads digest":       func(p *plan.Plan) { p.ReadsDigest = plan.DigestReads(map[string][]byte{"GET /accounts": []byte("[]")}) },
		"unchanged":          func(p *plan.Plan) { p.Unchanged = nil },
		"step":               func(p *plan.Plan) { p.Mutations[0].Step = "other" },
		"item":               func(p *plan.Plan) { p.Mutations[0].Item = "Store-Elko" },
		"index":              func(p *plan.Plan) { p.Mutations[0].Index = 7 },
		"key":                func(p *plan.Plan) { p.Mutations[0].Key = "k" },
		"type":               func(p *plan.Plan) { p.Mutations[0].Type = "sandbox.start" },
		"method":             func(p *plan.Plan) { p.Mutations[0].Method = "PUT" },
		"path":               func(p *plan.Plan) { p.Mutations[0].Path = "/accounts/acc-99/pools/pool-qa-sbx/clone" },
		"query":              func(p *plan.Plan) { p.Mutations[0].Query = map[string]string{"join_domain": "true"} },
		"body":               func(p *plan.Plan) { p.Mutations[2].Body = map[string]any{"max_servers": "6"} },
		"body encoding":      func(p *plan.Plan) { p.Mutations[2].BodyEncoding = plan.BodyJSON },
		"resources":          func(p *plan.Plan) { p.Mutations[0].Resources = []string{"account:acc-99"} },
		"change before":      func(p *plan.Plan) { p.Mutations[2].Change.Before = "0/0/2" },
		"change after":       func(p *plan.Plan) { p.Mutations[2].Change.After = "1/1/6" },
		"result":             func(p *plan.Plan) { p.Mutations[0].Result = nil },
		"destructive":        func(p *plan.Plan) { p.Mutations[0].Destructive = false },
		"order":              func(p *plan.Plan) { p.Mutations[0], p.Mutations[1] = p.Mutations[1], p.Mutations[0] },
		"one mutation less":  func(p *plan.Plan) { p.Mutations = p.Mutations[1:] },
	}
	for name, edit := range edits {
		p := rolloutPlan()
		edit(p)
		if p.ComputeHash() == base {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := rolloutPlan()
	file := filepath.Join(t.TempDir(), "rollout.plan")
	if err := p.Save(file); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("plan file mode %o, want 600", mode)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("Save left other files behind: %v", entries)
	}
	loaded, err := plan.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Hash != p.Hash {
		t.Errorf("hash %s after loading, %s before", loaded.Hash, p.Hash)
	}
	if d := plan.Compare(loaded, p); len(d) != 0 {
		t.Errorf("a loaded plan differs from itself: %v", d)
	}
	for _, format := range []string{"text", "json", "markdown"} {
		if a, b := render(t, p, format, plan.RenderOptions{}), render(t, loaded, format, plan.RenderOptions{}); a != b {
			t.Errorf("%s rendering changes after save and load:\n%s\n---\n%s", format, a, b)
		}
	}
}

func TestLoadRefusesATamperedPlan(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rollout.plan")
	if err := rolloutPlan().Save(file); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(file)

	cases := map[string]struct {
		edit func(string) string
		want string
	}{
		"raised max_servers": {func(s string) string { return strings.Replace(s, `"max_servers": "5"`, `"max_servers": "50"`, 1) }, "modified after it was saved"},
		"another target":     {func(s string) string { return strings.Replace(s, "acc-13", "acc-99", -1) }, "modified after it was saved"},
		"hash removed":       {func(s string) string { return strings.Replace(s, `"hash": "sha256:`, `"hash": "`+`x`, 1) }, "modified after it was saved"},
		"newer format":       {func(s string) string { return strings.Replace(s, `"format_version": 1`, `"format_version": 2`, 1) }, "format_version 2 is not supported"},
		"not JSON":           {func(s string) string { return "plan: yes" }, "not a frameflow plan"},
		"unknown field": {func(s string) string {
			return strings.Replace(s, `"offline": false`, `"offline": false, "approved": true`, 1)
		}, "unknown field"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			edited := c.edit(string(orig))
			if edited == string(orig) {
				t.Fatal("the edit changed nothing; fix the test")
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := plan.Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v, want an error saying %q", err, c.want)
			}
			if c.want == "modified after it was saved" && !errors.Is(err, plan.ErrTampered) {
				t.Errorf("error %v is not ErrTampered", err)
			}
		})
	}
	if _, err := plan.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestCompare(t *testing.T) {
	saved := rolloutPlan()

	t.Run("same world", func(t *testing.T) {
		if d := plan.Compare(saved, rolloutPlan()); len(d) != 0 {
			t.Errorf("differences between identical plans: %v", d)
		}
	})

	t.Run("world changed", func(t *testing.T) {
		// A store opened (acc-14), Store-Vegas was closed, and Store-Reno's
		// pool was changed by hand to 0/0/2.
		res := rolloutResult()
		var kept []engine.PlannedMutation
		for _, m := range res.Mutations {
			if m.Item == "Store-Vegas" {
				continue
			}
			if m.Step == "rollout.elasticity" && m.Item == "Store-Reno" {
				m.Mutation = elasticityMutation(stores[0], elasticity(0, 0, 2))
			}
			kept = append(kept, m)
		}
		elko := store{"Store-Elko", "acc-14", "pool-p14"}
		kept = append(kept, engine.PlannedMutation{Step: "rollout.clone", Item: elko.name, Index: 3, Key: key("rollout.clone", elko.account, 1), Mutation: cloneMutation(elko)})
		res.Mutations = kept
		wf := workflow
		wf.FileHash = "sha256:feedface"
		in := rolloutInputs()
		in["max_servers"] = 6
		fresh := plan.FromResult(wf, in, secretInputs, res, false, destructive)

		got := messages(plan.Compare(saved, fresh))
		want := []string{
			"workflow file changed: workflows/qa-rollout.yaml was " + workflow.FileHash + " when planned, now sha256:feedface",
			"inputs changed: max_servers was 5, now 6",
			"mutation changed: POST /pools/pool-p11/elasticity_settings (rollout[Store-Reno].elasticity): before was 0/0/1, now 0/0/2",
			"mutation removed: POST /accounts/acc-13/pools/pool-qa-sbx/clone?join_domain=false (rollout[Store-Vegas].clone)",
			"mutation removed: POST /accounts/acc-13/publish (rollout[Store-Vegas].publish)",
			"mutation removed: POST /pools/pool-p13/elasticity_settings (rollout[Store-Vegas].elasticity)",
			"mutation added: POST /accounts/acc-14/pools/pool-qa-sbx/clone?join_domain=false (rollout[Store-Elko].clone)",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Compare =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("request changed", func(t *testing.T) {
		res := rolloutResult()
		m := *res.Mutations[2].Mutation
		m.Body = url.Values{"min_servers": {"1"}, "buffer_servers": {"2"}, "max_servers": {"5"}}
		res.Mutations[2].Mutation = &m
		got := messages(plan.Compare(saved, plan.FromResult(workflow, rolloutInputs(), secretInputs, res, false, destructive)))
		want := "mutation changed: POST /pools/pool-p11/elasticity_settings (rollout[Store-Reno].elasticity): body was buffer_servers=1&max_servers=5&min_servers=1, now buffer_servers=2&max_servers=5&min_servers=1"
		if len(got) != 1 || got[0] != want {
			t.Errorf("Compare = %q, want %q", got, want)
		}
	})

	t.Run("offline plan", func(t *testing.T) {
		off := plan.FromResult(workflow, rolloutInputs(), secretInputs, rolloutResult(), true, destructive)
		d := plan.Compare(off, rolloutPlan())
		if len(d) != 1 || d[0].Kind != plan.DiffOffline {
			t.Errorf("Compare of an offline plan = %v", d)
		}
	})
}

func messages(ds []plan.Difference) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// sent records what reached the "API".
type sent struct {
	mu   sync.Mutex
	keys []string
}

func (s *sent) sender(key string) func(context.Context) (any, error) {
	return func(context.Context) (any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.keys = append(s.keys, key)
		return map[string]any{"id": 42, "stage": "not_started"}, nil
	}
}

// apply replays the rollout's mutations (as apply's run would produce them)
// through the guard, concurrently as the engine would.
func applyAll(t *testing.T, rec engine.MutationRecorder, res *engine.Result, s *sent) []error {
	t.Helper()
	errs := make([]error, len(res.Mutations))
	var wg sync.WaitGroup
	for i, pm := range res.Mutations {
		m := *pm.Mutation
		m.Send = s.sender(pm.Key)
		wg.Go(func() {
			out, err := rec.Do(context.Background(), pm.Key, &m)
			if err == nil {
				if task, ok := out.(map[string]any); !ok || task["id"] != 42.0 {
					t.Errorf("%s: result %#v, want the JSON round trip of what Send returned", pm.Key, out)
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

func TestGuardLetsThroughExactlyThePlan(t *testing.T) {
	p := rolloutPlan()
	g := plan.NewGuard(p)
	rec := g.Wrap(nil)
	s := &sent{}
	for i, err := range applyAll(t, rec, rolloutResult(), s) {
		if err != nil {
			t.Errorf("planned mutation %d refused: %v", i, err)
		}
	}
	if len(s.keys) != 8 {
		t.Errorf("%d mutations sent, want 8", len(s.keys))
	}
	if u := g.Unused(); len(u) != 0 {
		t.Errorf("unused after a full apply: %v", u)
	}

	// Asking for any of them again (a retried attempt of its step) sends
	// nothing: the first answer is returned.
	again := rolloutResult().Mutations[0]
	again.Mutation.Send = s.sender("again")
	if _, err := rec.Do(context.Background(), again.Key, again.Mutation); err != nil {
		t.Errorf("a retried clone of the same store: %v", err)
	}
	if len(s.keys) != 8 {
		t.Error("a planned mutation was sent twice")
	}
}

// apply runs qa-rollout's clone with wait: true and a retry policy: the
// clone is sent, its task poll fails with 503s beyond the client's retries,
// and the step runs again under the same mutation key. The guard must answer
// the retried attempt with the first clone's task, neither sending a second
// clone nor refusing (which failed the store's chain).
func TestGuardAnswersARetriedStepWithoutSendingAgain(t *testing.T) {
	g := plan.NewGuard(rolloutPlan())
	rec := g.Wrap(nil)
	clones := 0
	attempt := func() (any, error) {
		sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: "rollout.clone", Item: "acc-11", Recorder: rec})
		m := cloneMutation(stores[0])
		m.Send = func(context.Context) (any, error) {
			clones++
			return map[string]any{"id": "task-1", "stage": "not_started"}, nil
		}
		return sc.Mutate(context.Background(), m)
	}
	first, err := attempt()
	if err != nil {
		t.Fatal(err)
	}
	// ... the task wait fails; the engine retries the step.
	second, err := attempt()
	if err != nil {
		t.Fatalf("the retried attempt was refused: %v", err)
	}
	if clones != 1 {
		t.Fatalf("%d clones sent, want 1", clones)
	}
	if f, s := first.(map[string]any), second.(map[string]any); f["id"] != "task-1" || s["id"] != "task-1" {
		t.Fatalf("answers %v and %v, want the first clone's task both times", first, second)
	}
}

func TestGuardRefusesWhatIsNotPlanned(t *testing.T) {
	p := rolloutPlan()
	s := &sent{}
	cases := map[string]struct {
		key  string
		m    *engine.Mutation
		want string
	}{
		"an extra mutation": {key("rollout.clone", "acc-14", 1), cloneMutation(store{"Store-Elko", "acc-14", "pool-p14"}), "not in the saved plan"},
		"a changed body": {key("rollout.elasticity", "acc-11", 1), func() *engine.Mutation {
			m := elasticityMutation(stores[0], elasticity(0, 0, 1))
			m.Body = url.Values{"min_servers": {"1"}, "buffer_servers": {"1"}, "max_servers": {"50"}}
			return m
		}(), "body differs"},
		"a changed path": {key("rollout.publish", "acc-11", 1), publishMutation(stores[2]), "path /accounts/acc-13/publish, planned /accounts/acc-11/publish"},
		"a changed query": {key("rollout.clone", "acc-11", 1), func() *engine.Mutation {
			m := cloneMutation(stores[0])
			m.Query = map[string]string{"join_domain": "true"}
			return m
		}(), "query"},
		"a JSON body where a form was planned": {key("rollout.elasticity", "acc-11", 1), func() *engine.Mutation {
			m := elasticityMutation(stores[0], elasticity(0, 0, 1))
			m.Body = map[string]any{"min_servers": "1", "buffer_servers": "1", "max_servers": "5"}
			return m
		}(), "body sent as json, planned form"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			g := plan.NewGuard(p)
			c.m.Send = s.sender(name)
			_, err := g.Wrap(nil).Do(context.Background(), c.key, c.m)
			if !errors.Is(err, plan.ErrNotPlanned) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("Do = %v, want a refusal saying %q", err, c.want)
			}
			if len(g.Unused()) != 8 {
				t.Error("a refused mutation counts as executed")
			}
		})
	}
	if len(s.keys) != 0 {
		t.Errorf("refused mutations were sent: %v", s.keys)
	}
}

// recorder is a downstream recorder (the journal in real runs).
type recorder struct{ keys []string }

func (r *recorder) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	r.keys = append(r.keys, key)
	if key == "rollout.publish[acc-11]#1" {
		return nil, errors.New("503 Service Unavailable")
	}
	return m.Send(ctx)
}

func TestGuardWrapsTheNextRecorderAndReportsUnused(t *testing.T) {
	g := plan.NewGuard(rolloutPlan())
	next := &recorder{}
	rec := g.Wrap(next)
	res := rolloutResult()
	s := &sent{}
	// Apply stops after Store-Reno's chain; its publish failed.
	for _, pm := range res.Mutations[:3] {
		pm.Mutation.Send = s.sender(pm.Key)
		_, err := rec.Do(context.Background(), pm.Key, pm.Mutation)
		if (err != nil) != (pm.Step == "rollout.publish") {
			t.Errorf("%s: %v", pm.Key, err)
		}
	}
	if len(next.keys) != 3 {
		t.Errorf("next recorder saw %v", next.keys)
	}
	var unused []string
	for _, m := range g.Unused() {
		unused = append(unused, m.Key)
	}
	want := []string{
		"rollout.publish[acc-11]#1",
		"rollout.clone[acc-12]#1", "rollout.publish[acc-12]#1",
		"rollout.clone[acc-13]#1", "rollout.publish[acc-13]#1", "rollout.elasticity[acc-13]#1",
	}
	if strings.Join(unused, " ") != strings.Join(want, " ") {
		t.Errorf("Unused = %v, want %v", unused, want)
	}
}

func TestGuardMatchesValuesKnownOnlyAfterApply(t *testing.T) {
	// The plan could not know the task id the second request carries.
	res := &engine.Result{Mutations: []engine.PlannedMutation{{
		Step: "cancel", Index: -1, Key: "cancel[]#1",
		Mutation: &engine.Mutation{Type: "publish.cancel", Method: "DELETE", Path: "/accounts/acc-11/publish/" + plan.KnownAfterApply,
			Query: map[string]string{"reason": plan.KnownAfterApply},
			Body:  map[string]any{"task": engine.Unknown, "note": "stop"}},
	}}}
	g := plan.NewGuard(plan.FromResult(workflow, nil, nil, res, false, nil))
	m := &engine.Mutation{Type: "publish.cancel", Method: "DELETE", Path: "/accounts/acc-11/publish/t-981",
		Query: map[string]string{"reason": "superseded"},
		Body:  map[string]any{"task": "t-981", "note": "stop"},
		Send:  func(context.Context) (any, error) { return nil, nil }}
	if _, err := g.Wrap(nil).Do(context.Background(), "cancel[]#1", m); err != nil {
		t.Errorf("a value known after apply was refused: %v", err)
	}
	m.Body = map[string]any{"task": "t-981", "note": "other"}
	g = plan.NewGuard(plan.FromResult(workflow, nil, nil, res, false, nil))
	if _, err := g.Wrap(nil).Do(context.Background(), "cancel[]#1", m); err == nil {
		t.Error("a changed known value was let through")
	}
}

func TestGuardWithScrubbedSecrets(t *testing.T) {
	mk := func() *engine.Mutation {
		return &engine.Mutation{Type: "api.call", Method: "POST", Path: "/hooks", Body: map[string]any{"token": secretValue},
			Send: func(context.Context) (any, error) { return nil, nil }}
	}
	res := &engine.Result{Mutations: []engine.PlannedMutation{{Step: "notify", Index: -1, Key: "notify[]#1", Mutation: mk()}}}
	p := plan.FromResult(workflow, rolloutInputs(), secretInputs, res, false, nil)
	var buf bytes.Buffer
	_ = plan.RenderJSON(&buf, p)
	if strings.Contains(buf.String(), secretValue) {
		t.Fatal("secret in the plan")
	}
	g := plan.NewGuard(p)
	g.Redact = func(s string) string { return strings.ReplaceAll(s, secretValue, plan.Sensitive) }
	if _, err := g.Wrap(nil).Do(context.Background(), "notify[]#1", mk()); err != nil {
		t.Errorf("the planned mutation carrying a secret was refused: %v", err)
	}
}

// collector plays the engine's part in plan mode: it keeps what steps hand
// to StepContext.Mutate.
type collector struct {
	res  engine.Result
	step string
	item string
}

func (c *collector) Do(_ context.Context, key string, m *engine.Mutation) (any, error) {
	c.res.Mutations = append(c.res.Mutations, engine.PlannedMutation{Step: c.step, Item: c.item, Index: 0, Mutation: m, Key: key})
	return engine.Unknown, nil
}

func TestGuardBehindStepContextMutate(t *testing.T) {
	// The same step code runs in plan mode, then in apply's run mode; the
	// keys StepContext.Mutate makes must line up with the plan's.
	step := func(sc *engine.StepContext, max string) error {
		m := elasticityMutation(stores[0], elasticity(0, 0, 1))
		m.Body = url.Values{"min_servers": {"1"}, "buffer_servers": {"1"}, "max_servers": {max}}
		m.Send = func(context.Context) (any, error) { return map[string]any{"id": "t-1"}, nil }
		out, err := sc.Mutate(context.Background(), m)
		if err == nil && sc.Mode() == engine.ModeRun {
			if task, _ := out.(map[string]any); task["id"] != "t-1" {
				t.Errorf("Mutate returned %#v", out)
			}
		}
		return err
	}
	col := &collector{step: "rollout.elasticity", item: "acc-11"}
	planCtx := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModePlan, StepID: "rollout.elasticity", Item: "acc-11", Recorder: col})
	if err := step(planCtx, "5"); err != nil {
		t.Fatal(err)
	}
	p := plan.FromResult(workflow, nil, nil, &col.res, false, nil)

	g := plan.NewGuard(p)
	run := func(max string) error {
		sc := engine.NewTestContext(engine.TestContextOptions{Mode: engine.ModeRun, StepID: "rollout.elasticity", Item: "acc-11", Recorder: g.Wrap(nil)})
		return step(sc, max)
	}
	if err := run("6"); !errors.Is(err, plan.ErrNotPlanned) {
		t.Errorf("a changed max_servers: %v", err)
	}
	if err := run("5"); err != nil {
		t.Errorf("the planned request: %v", err)
	}
	if len(g.Unused()) != 0 {
		t.Errorf("unused: %v", g.Unused())
	}
}
