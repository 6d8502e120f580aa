package state_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/state"
)

// What one mutation costs the state backend on its own, concurrently as a
// rollout sends them: the shared lock on its account, the journal's
// intent and result (durable), and the lookup for the same request sent
// by another run. ns/op is per mutation with 64 in flight.
func BenchmarkMutation(b *testing.B) {
	for _, name := range []string{"local", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var be state.Backend
			var err error
			if name == "local" {
				be, err = state.OpenLocal(b.TempDir(), false)
			} else {
				be, err = state.Open(context.Background(), pgtest.DSN(b), state.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			r, err := be.Journals(journal.Options{Estate: "https://frame.example/v1"}).Create(journal.RunMeta{Workflow: "w", File: "w.yaml", Mode: "run"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			locks := be.Locks(r.ID(), time.Minute)
			var n atomic.Int64
			var sends atomic.Int32
			b.SetParallelism(32) // 64 in flight on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					acc := fmt.Sprintf("a%d", i)
					rel, err := locks.Acquire(context.Background(), []string{"account:" + acc}, func(string, string) {})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := r.Do(context.Background(), "rollout.clone["+acc+"]#1", mutation("/accounts/"+acc+"/pools/p/clone", &sends, nil)); err != nil {
						b.Error(err)
					}
					rel()
				}
			})
		})
	}
}

// What the web page pays each second per open run page to learn the run's
// approval gates (runner's Waiting: one run's summary from its journal):
// a 2,000-store run's journal (a clone, a publish and a capacity change per
// store: 6,000 intents, 6,000 results, 6,000 step records), waiting at a
// gate. ns/op is one read.
func BenchmarkWaitingGatesOf2000StoreRun(b *testing.B) {
	for _, name := range []string{"local", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var be state.Backend
			var err error
			if name == "local" {
				be, err = state.OpenLocal(b.TempDir(), true)
			} else {
				be, err = state.Open(context.Background(), pgtest.DSN(b), state.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			store := be.Journals(journal.Options{Estate: "https://frame.example/v1"})
			r, err := store.Create(journal.RunMeta{Workflow: "canary-rollout", File: "w.yaml", Mode: "run"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var sends atomic.Int32
			ctx := context.Background()
			for i := range 2000 {
				acc := fmt.Sprintf("a%d", i)
				for _, stage := range []string{"clone", "publish", "capacity"} {
					if _, err := r.Do(ctx, "rollout."+stage+"["+acc+"]#1", mutation("/accounts/"+acc+"/"+stage, &sends, nil)); err != nil {
						b.Fatal(err)
					}
					if err := r.Record(engine.StepResult{Step: "rollout." + stage, Item: "Store-" + acc, ItemKey: acc, Index: i, Status: engine.StatusSucceeded}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := r.Waiting("gate", "canaries fine?", time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				sum, err := store.Summary(r.ID())
				if err != nil || len(sum.Waiting) != 1 {
					b.Fatalf("%+v %v", sum.Waiting, err)
				}
			}
		})
	}
}
