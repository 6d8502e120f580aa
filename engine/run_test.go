package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

func TestNeedsOrderSteps(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(ok("c", "b"), ok("b", "a"), ok("a"), ok("d", "a")), engine.RunOptions{})
	if res.Status != engine.RunSucceeded {
		t.Fatalf("status %s: %s", res.Status, statuses(res))
	}
	got := h.startedList()
	if indexOf(got, "a") > indexOf(got, "b") || indexOf(got, "b") > indexOf(got, "c") || indexOf(got, "a") > indexOf(got, "d") {
		t.Fatalf("order %v breaks needs", got)
	}
	// Results come in DAG order whatever the timing.
	if s := statuses(res); s != "a=succeeded b=succeeded c=succeeded d=succeeded" {
		t.Fatalf("results %s", s)
	}
}

func TestReferenceImpliesDependency(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(
		with(ok("b"), "value", "${{ steps.a.outputs.value }}-b"),
		with(ok("a"), "value", "A"),
	), engine.RunOptions{})
	if got := stepResult(t, res, "b", "").Outputs["value"]; got != "A-b" {
		t.Fatalf("b saw %v", got)
	}
}

func TestSingleExpressionKeepsType(t *testing.T) {
	h := newHarness(t)
	wf := workflow(
		with(st("t", "test.read"), "filter", "active"),
		with(ok("ids", "t"), "value", "${{ map(steps.t.outputs.accounts, .id) }}"),
		with(ok("n"), "value", "${{ steps.t.outputs.count }}"),
		with(ok("s"), "value", "n=${{ steps.t.outputs.count }} ids=${{ map(steps.t.outputs.accounts, .id) }}"),
	)
	res := h.run(wf, engine.RunOptions{})
	ids, isList := stepResult(t, res, "ids", "").Outputs["value"].([]any)
	if !isList || len(ids) != 3 || ids[0] != "a1" {
		t.Fatalf("list lost its type: %#v", stepResult(t, res, "ids", "").Outputs["value"])
	}
	if n := stepResult(t, res, "n", "").Outputs["value"]; n != 3 {
		t.Fatalf("count: %#v", n)
	}
	if s := stepResult(t, res, "s", "").Outputs["value"]; s != `n=3 ids=["a1","a2","q"]` {
		t.Fatalf("template: %#v", s)
	}
}

func TestParallelismCap(t *testing.T) {
	h := newHarness(t)
	var steps []*schema.Step
	for i := range 12 {
		steps = append(steps, slow(fmt.Sprintf("s%d", i), 20*time.Millisecond))
	}
	h.run(workflow(steps...), engine.RunOptions{Parallelism: 3})
	if h.maxRunning != 3 {
		t.Fatalf("max concurrent %d, want 3", h.maxRunning)
	}
	// The workflow's own concurrency applies when the caller gives none.
	h = newHarness(t)
	wf := workflow(steps...)
	wf.Concurrency = 2
	h.run(wf, engine.RunOptions{})
	if h.maxRunning != 2 {
		t.Fatalf("max concurrent %d, want 2", h.maxRunning)
	}
}

func TestSleepReleasesSlot(t *testing.T) {
	// One slot: a step waiting on a task must not keep the other from
	// sending.
	h := newHarness(t)
	res := h.run(workflow(
		with(st("a", "test.mutate"), "path", "/a", "poll_ms", 200),
		with(st("b", "test.mutate"), "path", "/b"),
	), engine.RunOptions{Parallelism: 1})
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
	fin := h.finished
	if indexOf(fin, "b") > indexOf(fin, "a") {
		t.Fatalf("b waited for a's sleep: finished %v", fin)
	}
}

func TestFanoutItemsRunIndependently(t *testing.T) {
	// Item Store-1's first step is held until Store-2 has finished its
	// whole chain: a slow item does not hold back the others.
	h := newHarness(t)
	wf := workflow(
		with(st("targets", "test.read"), "filter", `name startsWith "Store-" && active`),
		group("rollout", "${{ steps.targets.outputs.accounts }}",
			with(ok("clone"), "value", "${{ item.id }}", "wait_for", `${{ item.name == "Store-1" ? "store2-done" : "" }}`),
			with(ok("publish"), "value", "${{ steps.clone.outputs.value }}"),
		),
		with(ok("after", "rollout"), "value", "${{ steps.rollout.outputs.count }}"),
	)
	p := h.compile(wf)
	done := make(chan *engine.Result)
	go func() {
		res, err := p.Run(context.Background(), engine.RunOptions{Events: func(ev engine.Event) {
			if ev.Type == "step_finished" && ev.Step == "rollout.publish" && ev.Item == "Store-2" {
				h.open("store2-done")
			}
		}})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var res *engine.Result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a held item blocked the others (deadlock)")
	}
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
	want := "targets=succeeded rollout=succeeded rollout.clone[Store-1]=succeeded rollout.publish[Store-1]=succeeded rollout.clone[Store-2]=succeeded rollout.publish[Store-2]=succeeded after=succeeded"
	if s := statuses(res); s != want {
		t.Fatalf("results\n got %s\nwant %s", s, want)
	}
	if v := stepResult(t, res, "after", "").Outputs["value"]; v != 2 {
		t.Fatalf("count %v", v)
	}
	items := stepResult(t, res, "rollout", "").Outputs["items"].([]any)
	if items[1].(map[string]any)["publish"].(map[string]any)["value"] != "a2" {
		t.Fatalf("items %#v", items)
	}
	r := stepResult(t, res, "rollout.clone", "Store-2")
	if r.ItemKey != "a2" || r.Index != 1 {
		t.Fatalf("item identity %+v", r)
	}
}

func TestFanoutConcurrency(t *testing.T) {
	h := newHarness(t)
	s := with(slow("each", 20*time.Millisecond), "ms", 20)
	s.ForEach = "${{ [1, 2, 3, 4, 5, 6] }}"
	s.Concurrency = 2
	res := h.run(workflow(s), engine.RunOptions{})
	if res.Status != engine.RunSucceeded || h.maxRunning != 2 {
		t.Fatalf("max %d: %s", h.maxRunning, statuses(res))
	}
	if got := stepResult(t, res, "each", "").Outputs["count"]; got != 6 {
		t.Fatalf("count %v", got)
	}
}

func TestIfSkipsAndSkipPropagates(t *testing.T) {
	h := newHarness(t)
	a := ok("a")
	a.If = "1 == 2"
	c := ok("c", "a")
	c.If = `steps.a.status == "skipped"`
	res := h.run(workflow(a, ok("b", "a"), c, ok("d", "b")), engine.RunOptions{})
	if s := statuses(res); s != "a=skipped b=skipped c=succeeded d=skipped" {
		t.Fatal(s)
	}
	if res.Status != engine.RunSucceeded {
		t.Fatal(res.Status)
	}
}

func TestFailFast(t *testing.T) {
	h := newHarness(t)
	res := h.run(workflow(
		fail("a"),
		with(ok("slowpoke"), "wait_for", "never"),
		ok("b", "a"),
		ok("c", "b"),
	), engine.RunOptions{Parallelism: 1})
	// With one slot a runs first and fails; slowpoke was queued and never
	// starts, b and c never run.
	if s := statuses(res); s != "a=failed slowpoke=not_run b=not_run c=not_run" {
		t.Fatal(s)
	}
	if res.Status != engine.RunFailed || stepResult(t, res, "a", "").Error != "boom" {
		t.Fatalf("%s %+v", res.Status, res.Steps[0])
	}
}

func TestFailFastLetsInFlightFinish(t *testing.T) {
	h := newHarness(t)
	b := with(ok("b"), "wait_for", "release-b")
	a := fail("a")
	a.Needs = []string{"gate"}
	res := make(chan *engine.Result)
	p := h.compile(workflow(b, with(ok("gate"), "wait_for", "b-started"), a, ok("c", "b")))
	go func() {
		r, _ := p.Run(context.Background(), engine.RunOptions{Events: func(ev engine.Event) {
			if ev.Type == "step_started" && ev.Step == "b" {
				h.open("b-started")
			}
			if ev.Type == "step_finished" && ev.Step == "a" {
				h.open("release-b")
			}
		}})
		res <- r
	}()
	r := <-res
	if s := statuses(r); s != "b=succeeded gate=succeeded a=failed c=not_run" {
		t.Fatal(s)
	}
}

func TestContinueOnError(t *testing.T) {
	h := newHarness(t)
	a := fail("a")
	a.ContinueOnError = true
	c := ok("c", "a")
	c.If = `steps.a.status == "failed"`
	res := h.run(workflow(a, ok("b", "a"), c, ok("d")), engine.RunOptions{})
	if s := statuses(res); s != "a=failed b=skipped c=succeeded d=succeeded" {
		t.Fatal(s)
	}
	if res.Status != engine.RunSucceeded {
		t.Fatalf("a continue_on_error failure failed the run: %s", res.Status)
	}
}

func fanFail(id string, items string) *schema.Step {
	s := with(fail(id), "when", "${{ item > 100 }}")
	s.ForEach = items
	return s
}

func TestMaxFailures(t *testing.T) {
	h := newHarness(t)
	two := 2
	s := fanFail("each", "${{ [1, 200, 3, 400, 5] }}")
	s.MaxFailures = &two
	s.Concurrency = 1
	res := h.run(workflow(s, ok("after", "each")), engine.RunOptions{})
	if got := stepResult(t, res, "each", "").Status; got != engine.StatusSucceeded {
		t.Fatalf("tolerated failures failed the fan-out: %s", statuses(res))
	}
	if stepResult(t, res, "after", "").Status != engine.StatusSucceeded {
		t.Fatal(statuses(res))
	}
	if res.Status != engine.RunFailed {
		t.Fatal("failed items must still fail the run")
	}

	h = newHarness(t)
	one := 1
	s = fanFail("each", "${{ [1, 200, 300, 4, 5] }}")
	s.MaxFailures = &one
	s.Concurrency = 1
	res = h.run(workflow(s, ok("after", "each")), engine.RunOptions{})
	if s := statuses(res); s != "each=failed each[1]=succeeded each[200]=failed each[300]=failed each[4]=not_run each[5]=not_run after=not_run" {
		t.Fatal(s)
	}
}

func TestMaxFailurePercent(t *testing.T) {
	h := newHarness(t)
	pct := 25.0
	s := fanFail("each", "${{ [1, 200, 3, 4, 5, 6, 7, 800] }}") // 2 of 8 = 25%
	s.MaxFailurePercent = &pct
	res := h.run(workflow(s), engine.RunOptions{})
	if stepResult(t, res, "each", "").Status != engine.StatusSucceeded {
		t.Fatal(statuses(res))
	}
	h = newHarness(t)
	s = fanFail("each", "${{ [1, 200, 3, 400, 5, 600, 7, 8] }}") // 3 of 8
	s.MaxFailurePercent = &pct
	s.Concurrency = 1
	res = h.run(workflow(s), engine.RunOptions{})
	if stepResult(t, res, "each", "").Status != engine.StatusFailed {
		t.Fatal(statuses(res))
	}
	if got := stepResult(t, res, "each", "8").Status; got != engine.StatusNotRun {
		t.Fatalf("item after the limit: %s", got)
	}
}

func TestBatchCanary(t *testing.T) {
	h := newHarness(t)
	s := with(ok("each"), "value", "${{ item }}")
	s.ForEach = `${{ ["c1", "c2", "r1", "r2", "r3"] }}`
	s.Batch = 2
	h.run(workflow(s), engine.RunOptions{})
	got := h.startedList()
	for _, r := range []string{"each[r1]", "each[r2]", "each[r3]"} {
		if indexOf(got, r) < indexOf(got, "each[c1]") || indexOf(got, r) < indexOf(got, "each[c2]") {
			t.Fatalf("%s started before the canaries: %v", r, got)
		}
	}
	// Canaries must all succeed; the others never start when one fails.
	h = newHarness(t)
	f := fanFail("each", "${{ [1, 200, 3, 4] }}")
	f.Batch = 2
	f.Concurrency = 1
	ten := 10
	f.MaxFailures = &ten // tolerance does not excuse a canary
	res := h.run(workflow(f), engine.RunOptions{})
	if s := statuses(res); s != "each=failed each[1]=succeeded each[200]=failed each[3]=not_run each[4]=not_run" {
		t.Fatal(s)
	}
	if !strings.Contains(stepResult(t, res, "each", "").Error, "canary") {
		t.Fatal(stepResult(t, res, "each", "").Error)
	}
}

func retry(max int, on ...string) *schema.Retry {
	return &schema.Retry{MaxAttempts: max, Backoff: "exponential", InitialDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, On: on}
}

func TestRetries(t *testing.T) {
	h := newHarness(t)
	c := flaky("c", 2)
	c.Retry = retry(3)
	var mu sync.Mutex
	var retries []engine.Event
	res := h.run(workflow(c), engine.RunOptions{Events: func(ev engine.Event) {
		if ev.Type == "step_retrying" {
			mu.Lock()
			retries = append(retries, ev)
			mu.Unlock()
		}
	}})
	r := stepResult(t, res, "c", "")
	if r.Status != engine.StatusSucceeded || r.Attempts != 3 {
		t.Fatalf("%+v", r)
	}
	if len(retries) != 2 || retries[0].Attempt != 1 || retries[0].MaxAttempts != 3 || retries[0].Delay != time.Millisecond || retries[1].Delay != 2*time.Millisecond {
		t.Fatalf("retry events %+v", retries)
	}

	// Attempts run out.
	h = newHarness(t)
	c = flaky("c", 5)
	c.Retry = retry(2)
	res = h.run(workflow(c), engine.RunOptions{})
	if r := stepResult(t, res, "c", ""); r.Status != engine.StatusFailed || r.Attempts != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestRetryClasses(t *testing.T) {
	cases := []struct {
		class    string
		on       []string
		attempts int
	}{
		{"throttled", nil, 2},
		{"server_error", nil, 2},
		{"network", nil, 2},
		{"task_failed", nil, 1},
		{"task_failed", []string{"task_failed"}, 2},
		{"outcome_unknown", []string{"outcome_unknown", "network"}, 1}, // never, even when named
		{"error", nil, 1},
	}
	for _, c := range cases {
		h := newHarness(t)
		s := with(flaky("c", 1), "class", c.class)
		s.Retry = retry(3, c.on...)
		res := h.run(workflow(s), engine.RunOptions{})
		if got := stepResult(t, res, "c", "").Attempts; got != c.attempts {
			t.Errorf("%s on %v: %d attempts, want %d", c.class, c.on, got, c.attempts)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t)
	s := with(flaky("c", 1), "retry_after_ms", 40)
	s.Retry = retry(2)
	var delay time.Duration
	h.run(workflow(s), engine.RunOptions{Events: func(ev engine.Event) {
		if ev.Type == "step_retrying" {
			delay = ev.Delay
		}
	}})
	if delay != 40*time.Millisecond {
		t.Fatalf("delay %s, want the server's 40ms", delay)
	}
}

func TestDefaultsRetryApplies(t *testing.T) {
	h := newHarness(t)
	wf := workflow(flaky("c", 1))
	wf.Defaults.Retry = retry(2)
	res := h.run(wf, engine.RunOptions{})
	if r := stepResult(t, res, "c", ""); r.Status != engine.StatusSucceeded || r.Attempts != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t)
	s := slow("s", 10*time.Second)
	s.Timeout = 30 * time.Millisecond
	start := time.Now()
	res := h.run(workflow(s), engine.RunOptions{})
	r := stepResult(t, res, "s", "")
	if r.Status != engine.StatusFailed || !strings.Contains(r.Error, "timed out after 30ms") {
		t.Fatalf("%+v", r)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("timeout not enforced")
	}
	// The timeout bounds all attempts together, waits included.
	h = newHarness(t)
	c := flaky("c", 100)
	c.Retry = &schema.Retry{MaxAttempts: 100, Backoff: "constant", InitialDelay: 20 * time.Millisecond}
	c.Timeout = 70 * time.Millisecond
	res = h.run(workflow(c), engine.RunOptions{})
	if r := stepResult(t, res, "c", ""); r.Status != engine.StatusFailed || r.Attempts > 10 || !strings.Contains(r.Error, "timed out") {
		t.Fatalf("%+v", r)
	}
}

func TestResourceLocksSerialize(t *testing.T) {
	h := newHarness(t)
	var steps []*schema.Step
	for i := range 6 {
		res := "pool:1"
		if i%2 == 1 {
			res = "pool:2"
		}
		steps = append(steps, with(st(fmt.Sprintf("m%d", i), "test.mutate"), "path", fmt.Sprintf("/m%d", i), "resource", res, "ms", 15))
	}
	res := h.run(workflow(steps...), engine.RunOptions{Parallelism: 8})
	if res.Status != engine.RunSucceeded || len(h.sent) != 6 {
		t.Fatal(statuses(res), h.sent)
	}
	if h.overlap {
		t.Fatal("two mutations of one pool overlapped")
	}
	if h.maxRunning < 2 {
		t.Fatal("different pools should still run in parallel")
	}
}

func TestLockWaitersDoNotStarveSlots(t *testing.T) {
	// One slot, and the holder of a resource sleeps (a task wait) while
	// others wait for the resource: no deadlock.
	h := newHarness(t)
	var steps []*schema.Step
	for i := range 4 {
		steps = append(steps, with(st(fmt.Sprintf("m%d", i), "test.mutate"), "path", fmt.Sprintf("/m%d", i), "resource", "pool:1", "poll_ms", 10))
	}
	done := make(chan *engine.Result)
	go func() { done <- h.run(workflow(steps...), engine.RunOptions{Parallelism: 1}) }()
	select {
	case res := <-done:
		if res.Status != engine.RunSucceeded {
			t.Fatal(statuses(res))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deadlock")
	}
}

func TestCancellationInterrupts(t *testing.T) {
	h := newHarness(t)
	p := h.compile(workflow(with(ok("a"), "wait_for", "never"), ok("b", "a")))
	ctx, cancel := context.WithCancel(context.Background())
	var events []string
	var mu sync.Mutex
	res, err := p.Run(ctx, engine.RunOptions{Events: func(ev engine.Event) {
		mu.Lock()
		events = append(events, string(ev.Type))
		mu.Unlock()
		if ev.Type == "step_started" {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.RunInterrupted {
		t.Fatal(res.Status)
	}
	// In flight when interrupted: interrupted, not failed.
	if s := statuses(res); s != "a=interrupted b=not_run" {
		t.Fatal(s)
	}
	if events[0] != "run_started" || events[len(events)-1] != "run_finished" {
		t.Fatal(events)
	}
}

func TestApproval(t *testing.T) {
	h := newHarness(t)
	var asked [][]string
	approve := func(ctx context.Context, steps []string) error {
		asked = append(asked, steps)
		return errors.New("no terminal and no --yes")
	}
	// Every mutating step needs approval, not only destructive ones: asked
	// once, before the first mutation, so nothing is sent.
	wf := workflow(with(st("m", "test.mutate"), "path", "/m"), st("d", "test.destroy", "m"), st("e", "test.destroy", "d"))
	res := h.run(wf, engine.RunOptions{Approve: approve})
	if len(asked) != 1 || strings.Join(asked[0], ",") != "m,d,e" {
		t.Fatalf("asked %v", asked)
	}
	if len(h.sent) != 0 || res.Status != engine.RunFailed {
		t.Fatalf("sent %v, %s", h.sent, statuses(res))
	}
	if r := stepResult(t, res, "m", ""); !strings.Contains(r.Error, "not approved") {
		t.Fatal(r.Error)
	}
	// A step declared approval: not_required runs without asking; the
	// destructive ones still ask.
	h = newHarness(t)
	asked = nil
	m := with(st("m", "test.mutate"), "path", "/m")
	m.Approval = "not_required"
	wf = workflow(m, st("d", "test.destroy", "m"), st("e", "test.destroy", "d"))
	res = h.run(wf, engine.RunOptions{Approve: approve})
	if len(asked) != 1 || strings.Join(asked[0], ",") != "d,e" {
		t.Fatalf("asked %v", asked)
	}
	if strings.Join(h.sent, ",") != "POST /m" || res.Status != engine.RunFailed {
		t.Fatalf("sent %v, %s", h.sent, statuses(res))
	}
	// Plans never ask.
	h = newHarness(t)
	asked = nil
	h.run(wf, engine.RunOptions{Mode: engine.ModePlan, Approve: approve})
	if len(asked) != 0 || len(h.sent) != 0 {
		t.Fatal(asked, h.sent)
	}
}

func TestDestructiveStepCannotWaiveApproval(t *testing.T) {
	h := newHarness(t)
	d := st("d", "test.destroy")
	d.Approval = "not_required"
	_, diags := engine.Compile(workflow(d), h.reg)
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "always needs approval") {
		t.Fatalf("diagnostics %v", diags)
	}
}

func TestEvents(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var evs []engine.Event
	s := with(ok("each"), "value", "${{ item }}")
	s.ForEach = `${{ ["x", "y"] }}`
	h.run(workflow(s), engine.RunOptions{RunID: "r1", Events: func(ev engine.Event) {
		mu.Lock()
		evs = append(evs, ev)
		mu.Unlock()
	}})
	var kinds []string
	for _, ev := range evs {
		if ev.RunID != "r1" {
			t.Fatalf("event without run id: %+v", ev)
		}
		k := string(ev.Type)
		if ev.Step != "" {
			k += ":" + ev.Step
		}
		if ev.Item != "" {
			k += "[" + ev.Item + "]"
		}
		kinds = append(kinds, k)
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{"run_started", "step_started:each", "step_started:each[x]", "step_finished:each[y]", "step_finished:each", "run_finished"} {
		if !strings.Contains(got+" ", want+" ") {
			t.Fatalf("missing %s in %s", want, got)
		}
	}
	if evs[1].Total != 2 {
		t.Fatalf("fan-out start without total: %+v", evs[1])
	}
}

func TestNestedFanout(t *testing.T) {
	h := newHarness(t)
	inner := with(ok("pool"), "value", "${{ item.id }}-${{ pool }}")
	inner.ForEach = `["p1", "p2"]`
	inner.As = "pool"
	wf := workflow(
		with(st("targets", "test.read"), "filter", `name startsWith "Store-" && active`),
		group("each", "steps.targets.outputs.accounts", inner),
	)
	res := h.run(wf, engine.RunOptions{})
	if res.Status != engine.RunSucceeded {
		t.Fatal(statuses(res))
	}
	want := "targets=succeeded each=succeeded each.pool[Store-1]=succeeded each.pool[Store-1/p1]=succeeded each.pool[Store-1/p2]=succeeded each.pool[Store-2]=succeeded each.pool[Store-2/p1]=succeeded each.pool[Store-2/p2]=succeeded"
	if s := statuses(res); s != want {
		t.Fatalf("got  %s\nwant %s", s, want)
	}
	r := res.Steps[4]
	if r.ItemKey != "a1/p2" || r.Outputs["value"] != "a1-p2" {
		t.Fatalf("%+v", r)
	}
}

func TestMaxTargetsGuardrail(t *testing.T) {
	h := newHarness(t)
	m := with(st("m", "test.mutate"), "path", "/x/${{ item }}")
	m.ForEach = "${{ 1..5 }}"
	m.MaxTargets = 4
	res := h.run(workflow(m), engine.RunOptions{Mode: engine.ModePlan})
	if r := stepResult(t, res, "m", ""); r.Status != engine.StatusFailed || !strings.Contains(r.Error, "exceeds max_targets 4") || len(res.Mutations) != 0 {
		t.Fatalf("%+v", r)
	}
	// Reads are not limited.
	r := with(ok("r"), "value", "${{ item }}")
	r.ForEach = "${{ 1..1000 }}"
	if res := h.run(workflow(r), engine.RunOptions{}); res.Status != engine.RunSucceeded {
		t.Fatal(res.Status)
	}
}

// retry.attempt_timeout bounds each attempt; an attempt that runs out is of
// class timeout, retried only when the policy names it.
func TestAttemptTimeout(t *testing.T) {
	for _, tc := range []struct {
		on       []string
		attempts int
	}{{[]string{"timeout"}, 3}, {[]string{"server_error"}, 1}} {
		h := newHarness(t)
		s := slow("s", 10*time.Second)
		s.Retry = &schema.Retry{MaxAttempts: 3, Backoff: "constant", InitialDelay: time.Millisecond, AttemptTimeout: 20 * time.Millisecond, On: tc.on}
		start := time.Now()
		res := h.run(workflow(s), engine.RunOptions{})
		r := stepResult(t, res, "s", "")
		if r.Status != engine.StatusFailed || r.Attempts != tc.attempts || !strings.Contains(r.Error, "attempt timed out after 20ms") {
			t.Fatalf("on %v: %+v", tc.on, r)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("attempt timeout not enforced")
		}
	}
}

func TestInterruptedFanOutItemsAreInterrupted(t *testing.T) {
	h := newHarness(t)
	fan := with(st("each", "test.slow"), "ms", 60000)
	fan.ForEach = `${{ ["a", "b", "c"] }}`
	p := h.compile(workflow(fan))
	in, err := p.BindInputs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	started := 0
	res, err := p.Run(ctx, engine.RunOptions{Inputs: in, Events: func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Type == "step_started" && ev.Item != "" {
			if started++; started == 3 {
				cancel()
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.RunInterrupted {
		t.Fatalf("run %s, want interrupted", res.Status)
	}
	for _, s := range res.Steps {
		if s.Status == engine.StatusFailed {
			t.Errorf("%s [%s] failed (%s) after an interrupt; want interrupted", s.Step, s.Item, s.Error)
		}
	}
	if r := stepResult(t, res, "each", ""); r.Status != engine.StatusInterrupted || r.Error != "3 of 3 items interrupted" {
		t.Errorf("fan-out %s %q, want interrupted, 3 of 3 items interrupted", r.Status, r.Error)
	}
}

func TestFilterWrappedInATemplateGetsAHint(t *testing.T) {
	h := newHarness(t)
	_, diags := engine.Compile(workflow(with(st("a", "test.read"), "filter", `${{ name startsWith "Store-" }}`)), h.reg)
	if len(diags) == 0 || !strings.Contains(diags[0].Message, `write it without ${{ }}, as name startsWith "Store-"`) {
		t.Fatalf("diagnostics %v", diags)
	}
}

// Program.Approvals is the list a front end shows before a run: in file
// order, every mutating step (issue 12), groups' steps with their full ids,
// confirm: true included, and
// the same steps RunOptions.Approve is asked about.
func TestApprovalsListInFileOrder(t *testing.T) {
	h := newHarness(t)
	confirm := ok("check")
	confirm.Confirm = true
	wf := workflow(
		with(st("m", "test.mutate"), "path", "/m"),
		group("g", "${{ [1, 2] }}", st("d", "test.destroy"), ok("after", "d")),
		confirm,
		st("e", "test.destroy", "check"),
	)
	var labels []string
	for _, a := range h.compile(wf).Approvals() {
		labels = append(labels, a.String())
	}
	if got, want := strings.Join(labels, ","), "m (test.mutate),g.d (test.destroy),check (test.ok),e (test.destroy)"; got != want {
		t.Fatalf("approvals %q, want %q", got, want)
	}
	var asked []string
	h.run(wf, engine.RunOptions{Approve: func(_ context.Context, steps []string) error { asked = steps; return nil }})
	if got := strings.Join(asked, ","); got != "m,g.d,check,e" {
		t.Errorf("Approve was asked about %q", got)
	}
}
