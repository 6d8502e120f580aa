package bench_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

// simClock is a clock shared by the simulator and the poller: a wait's
// sleep advances it, so a 20-minute task takes no real time.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// BenchmarkPollLongTask clones a sandbox whose task takes 20 minutes on a
// simulator that counts duration_sec from the task's start (not the
// poller's assumption), over HTTP, and waits for it with a cold poller:
// polls/task is what one long task costs before anything is learned
// (target: at most 15), overshoot_s how late the wait saw it done.
func BenchmarkPollLongTask(b *testing.B) {
	for _, T := range []time.Duration{3 * time.Second, 20 * time.Minute} {
		b.Run(T.String(), func(b *testing.B) {
			var polls, over float64
			for i := 0; i < b.N; i++ {
				p, o := pollOnce(b, T)
				polls += float64(p)
				over += o.Seconds()
			}
			b.ReportMetric(polls/float64(b.N), "polls/task")
			b.ReportMetric(over/float64(b.N), "overshoot_s")
		})
	}
}

func pollOnce(b *testing.B, T time.Duration) (int, time.Duration) {
	clock := &simClock{t: time.Now()}
	s, err := sim.New(sim.Options{Scenario: sim.RetailScenario(1), TaskDuration: T, DurationFromStart: true, Now: clock.Now, MaxSkew: 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := frame.NewClient(frame.Config{BaseURL: srv.URL + "/v1", ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	qa, err := c.ListAccounts(ctx, "QA", "")
	if err != nil || len(qa) == 0 {
		b.Fatalf("QA account: %v %v", qa, err)
	}
	src, err := c.SandboxStatus(ctx, qa[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	stores, err := c.ListAccounts(ctx, "Store", "")
	if err != nil || len(stores) == 0 {
		b.Fatalf("stores: %v %v", stores, err)
	}
	task, err := c.CloneSandbox(ctx, stores[0].ID, src.PoolID, nil)
	if err != nil {
		b.Fatal(err)
	}
	began := clock.Now()
	polls := 0
	p := steps.NewPoller(steps.PollConfig{Now: clock.Now})
	_, err = p.Wait(ctx, steps.WaitOptions{Kind: task.Kind, Sleep: clock.Sleep, Get: func(ctx context.Context) (*frame.Task, error) {
		polls++
		return c.GetTask(ctx, stores[0].ID, task.ID)
	}})
	if err != nil {
		b.Fatal(err)
	}
	return polls, clock.Now().Sub(began) - T
}
