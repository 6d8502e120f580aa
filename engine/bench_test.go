package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

func benchRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.MustRegister(&engine.StepType{Name: "bench.noop", Run: noop})
	return r
}

func chainWorkflow(n int) *schema.Workflow {
	steps := make([]*schema.Step, n)
	for i := range steps {
		steps[i] = st(fmt.Sprintf("s%d", i), "bench.noop")
		if i > 0 {
			steps[i].Needs = []string{steps[i-1].ID}
		}
	}
	return workflow(steps...)
}

func fanoutWorkflow(n int) *schema.Workflow {
	s := st("each", "bench.noop")
	s.ForEach = fmt.Sprintf("${{ 1..%d }}", n)
	return workflow(s)
}

func benchRun(b *testing.B, wf *schema.Workflow, steps int) {
	p, diags := engine.Compile(wf, benchRegistry())
	if diags != nil {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := p.Run(context.Background(), engine.RunOptions{})
		if err != nil || res.Status != engine.RunSucceeded {
			b.Fatal(err, res.Status)
		}
	}
	b.ReportMetric(float64(steps*b.N)/b.Elapsed().Seconds(), "steps/s")
}

func BenchmarkEngineChain(b *testing.B)  { benchRun(b, chainWorkflow(10_000), 10_000) }
func BenchmarkEngineFanout(b *testing.B) { benchRun(b, fanoutWorkflow(10_000), 10_000) }

// The 100k variants show that the cost per step stays flat as workflows grow.
func BenchmarkEngineChain100k(b *testing.B)  { benchRun(b, chainWorkflow(100_000), 100_000) }
func BenchmarkEngineFanout100k(b *testing.B) { benchRun(b, fanoutWorkflow(100_000), 100_000) }

func BenchmarkCompileChain10k(b *testing.B) {
	wf := chainWorkflow(10_000)
	reg := benchRegistry()
	for b.Loop() {
		if _, d := engine.Compile(wf, reg); d != nil {
			b.Fatal(d)
		}
	}
}
