package frame_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
)

// The simulator is an independent description of the API (its own
// signature check and routes), so these tests catch the client's wire bugs.

func startSim(t *testing.T, o sim.Options) *sim.Running {
	t.Helper()
	if o.Scenario == nil {
		o.Scenario = sim.RetailScenario(2)
	}
	if o.TaskDuration == 0 {
		o.TaskDuration = 30 * time.Millisecond
	}
	r, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func simClient(t *testing.T, r *sim.Running, mods ...func(*frame.Config)) *frame.Client {
	t.Helper()
	cfg := frame.Config{
		BaseURL: r.URL(), ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, Logger: testLogger(),
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := frame.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitTask(t *testing.T, c *frame.Client, task *frame.Task) *frame.Task {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err := c.GetTask(context.Background(), task.AccountID, task.ID)
		if err != nil {
			t.Fatalf("GetTask: %v", err)
		}
		if got.Finished() {
			if got.Stage != frame.StageDone {
				t.Fatalf("task %s ended %s: %s", got.ID, got.Stage, got.ResultInfo)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task %s did not finish", task.ID)
	return nil
}

func TestRolloutAgainstSimulator(t *testing.T) {
	r := startSim(t, sim.Options{})
	c := simClient(t, r)
	ctx := context.Background()

	qa, err := c.ListAccounts(ctx, "QA", "")
	if err != nil || len(qa) != 1 {
		t.Fatalf("QA: %v %v", qa, err)
	}
	qaPools, err := c.ListPools(ctx, qa[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var sandbox string
	for _, p := range qaPools {
		if p.Kind == "sandbox" {
			sandbox = p.ID
		}
	}
	if sandbox == "" {
		t.Fatalf("QA has no sandbox pool: %+v", qaPools)
	}
	stores, err := c.ListAccounts(ctx, "Store-", "")
	if err != nil || len(stores) != 2 {
		t.Fatalf("stores: %v %v", stores, err)
	}
	store := stores[0]
	no := false
	task, err := c.CloneSandbox(ctx, store.ID, sandbox, &no)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	waitTask(t, c, task)
	task, err = c.Publish(ctx, store.ID)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitTask(t, c, task)
	pools, err := c.ListPools(ctx, store.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		if p.Kind != "production" {
			continue
		}
		task, err := c.SetPoolElasticity(ctx, p.ID, frame.Elasticity{MinServers: 1, BufferServers: 1, MaxServers: 5})
		if err != nil {
			t.Fatalf("elasticity: %v", err)
		}
		waitTask(t, c, task)
		e, err := c.GetPoolElasticity(ctx, p.ID)
		if err != nil || e.String() != "1/1/5" {
			t.Errorf("elasticity now %v %v", e, err)
		}
	}
	acct, err := c.GetAccount(ctx, store.ID)
	if err != nil || acct.LastPublish == nil {
		t.Errorf("after publish: %+v %v", acct, err)
	}
	// Generic calls reach the same routes.
	if _, err := c.Call(ctx, "accounts.get", map[string]any{"account_id": store.ID}); err != nil {
		t.Errorf("Call: %v", err)
	}
}

func TestSimulatorRejectsWrongSecret(t *testing.T) {
	r := startSim(t, sim.Options{})
	c := simClient(t, r, func(cfg *frame.Config) { cfg.ClientSecret = testSecret })
	_, err := c.ListAccounts(context.Background(), "", "")
	noteErr(err)
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 401 {
		t.Fatalf("err = %v, want 401", err)
	}
}

func TestSimulatorDropIsOutcomeUnknownAndNotResent(t *testing.T) {
	r := startSim(t, sim.Options{DropRate: 1})
	c := simClient(t, r)
	ctx := context.Background()
	stores, err := c.ListAccounts(ctx, "Store-", "")
	if err != nil || len(stores) == 0 {
		t.Fatalf("%v %v", stores, err)
	}
	_, err = c.Publish(ctx, stores[0].ID)
	noteErr(err)
	if class, _ := frame.Classify(err); class != frame.ClassOutcomeUnknown {
		t.Fatalf("class %s: %v", class, err)
	}
	posts := 0
	for _, rec := range r.Requests() {
		if rec.Method == "POST" && strings.HasSuffix(rec.Path, "/publish") {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("publish sent %d times, want 1", posts)
	}
}

func TestSimulatorFaultsAreRetried(t *testing.T) {
	r := startSim(t, sim.Options{FailRate: 0.5, Seed: 7})
	c := simClient(t, r, func(cfg *frame.Config) { cfg.RetryMax = 10 })
	for i := 0; i < 10; i++ {
		if _, err := c.ListAccounts(context.Background(), "", ""); err != nil {
			t.Fatalf("with 50%% 503s and 10 retries: %v", err)
		}
	}
}

// An empty form (or any empty body) goes out as no body at all: a POST
// with Content-Length: 0, not an empty chunked body.
func TestEmptyBodyIsNotChunked(t *testing.T) {
	s, err := sim.Start(sim.Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := frame.NewClient(frame.Config{BaseURL: s.URL(), ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	acct := s.Snapshot().Accounts[0].ID
	if _, err := c.Do(context.Background(), &frame.Request{Method: "POST", Path: "/accounts/" + acct + "/sandbox/start", Form: url.Values{}}, nil); err != nil {
		t.Fatal(err)
	}
	last := s.Requests()[len(s.Requests())-1]
	if last.ContentLength != "0" || len(last.TransferEncoding) != 0 || last.ContentType != "" {
		t.Fatalf("received %+v, want Content-Length: 0 and no body", last)
	}
}
