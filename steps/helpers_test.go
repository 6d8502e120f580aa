package steps_test

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

// exercised records every step type a test ran, for the drift check in
// TestMain: a step type without a test fails the package.
var exercised sync.Map

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		var missing []string
		for _, t := range steps.Types(steps.Deps{}) {
			if _, ok := exercised.Load(t.Name); !ok {
				missing = append(missing, t.Name)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "FAIL: step types no test runs: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// env is a simulator over real HTTP on 127.0.0.1, a real client and the
// registered step types.
type env struct {
	t      *testing.T
	sim    *sim.Server
	client *frame.Client
	reg    *engine.Registry
	poller *steps.Poller
}

func newEnv(t *testing.T, o sim.Options) *env {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith is newEnv with doctor's findings given to the steps.
func newEnvWith(t *testing.T, o sim.Options, findings *frame.Findings) *env {
	t.Helper()
	if o.Scenario == nil {
		o.Scenario = sim.RetailScenario(3)
	}
	if o.TaskDuration == 0 {
		o.TaskDuration = 50 * time.Millisecond
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c, err := frame.NewClient(frame.Config{
		BaseURL: ts.URL + "/v1", ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sim: s, client: c, reg: engine.NewRegistry()}
	e.poller = steps.NewPoller(steps.PollConfig{InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, Timeout: 20 * time.Second})
	if err := steps.Register(e.reg, steps.Deps{Client: c, Poller: e.poller, Findings: findings}); err != nil {
		t.Fatal(err)
	}
	return e
}

// runOpts adjusts one step execution.
type runOpts struct {
	mode       engine.Mode
	recorder   engine.MutationRecorder
	predicates map[string]engine.Predicate
	events     engine.EventSink
	offline    bool // register without a client
}

// run executes step type name with inputs in.
func (e *env) run(name string, in map[string]any, o runOpts) (map[string]any, *engine.StepContext, error) {
	e.t.Helper()
	reg := e.reg
	if o.offline {
		reg = engine.NewRegistry()
		if err := steps.Register(reg, steps.Deps{}); err != nil {
			e.t.Fatal(err)
		}
	}
	return runStep(e.t, reg, name, in, o)
}

// ok runs a step that must succeed.
func (e *env) ok(name string, in map[string]any, o runOpts) map[string]any {
	e.t.Helper()
	out, _, err := e.run(name, in, o)
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return out
}

func runStep(t *testing.T, reg *engine.Registry, name string, in map[string]any, o runOpts) (map[string]any, *engine.StepContext, error) {
	t.Helper()
	st, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("step type %s is not registered", name)
	}
	exercised.Store(name, true)
	sc := engine.NewTestContext(engine.TestContextOptions{
		Mode: o.mode, StepID: "s", Index: -1, Recorder: o.recorder, Predicates: o.predicates, Events: o.events,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := st.Run(ctx, sc, in)
	return out, sc, err
}

// accountID finds an account by exact name.
func (e *env) accountID(name string) string {
	e.t.Helper()
	for _, a := range e.sim.Snapshot().Accounts {
		if a.Name == name {
			return a.ID
		}
	}
	e.t.Fatalf("no account %s", name)
	return ""
}

// pool finds an account's pool of kind.
func (e *env) pool(account, kind string) string {
	e.t.Helper()
	id := e.accountID(account)
	for _, p := range e.sim.Snapshot().Pools {
		if p.AccountID == id && p.Kind == kind {
			return p.ID
		}
	}
	e.t.Fatalf("account %s has no %s pool", account, kind)
	return ""
}

// sent lists the requests the simulator received as "METHOD path".
func (e *env) sent() []string {
	var out []string
	for _, r := range e.sim.Requests() {
		out = append(out, r.Method+" "+strings.TrimPrefix(r.Path, "/v1"))
	}
	return out
}

// mutations lists the non-GET requests the simulator received.
func (e *env) mutations() []string {
	var out []string
	for _, r := range e.sent() {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

func (e *env) count(prefix string) int {
	n := 0
	for _, r := range e.sent() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// recorder captures mutations as plan mode does: nothing is sent.
type recorder struct {
	mu   sync.Mutex
	muts []*engine.Mutation
}

func (r *recorder) Do(_ context.Context, _ string, m *engine.Mutation) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.muts = append(r.muts, m)
	if m.Placeholder != nil {
		return m.Placeholder, nil
	}
	return engine.Unknown, nil
}

func (r *recorder) all() []*engine.Mutation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*engine.Mutation(nil), r.muts...)
}

func mustOK(t *testing.T, out map[string]any, err error) map[string]any {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
