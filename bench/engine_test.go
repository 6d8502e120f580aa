package bench_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/schema"
)

// The engine's own cost, with steps that do nothing: what the scheduler,
// expression scopes, results and events cost per step. Compare the
// figures of 10,000 and 100,000 steps for linear growth (see
// BENCHMARKS.md); no threshold is asserted here.

// noopRegistry is a fresh registry with a step that does nothing and one
// that makes the list a fan-out iterates.
func noopRegistry(tb testing.TB) *engine.Registry {
	tb.Helper()
	reg := engine.NewRegistry()
	reg.MustRegister(&engine.StepType{
		Name:        "bench.noop",
		Description: "Does nothing.",
		Run: func(context.Context, *engine.StepContext, map[string]any) (map[string]any, error) {
			return nil, nil
		},
	})
	reg.MustRegister(&engine.StepType{
		Name:        "bench.range",
		Description: "Outputs the integers 0..n-1.",
		Inputs:      []engine.InputSpec{{Name: "n", Type: "integer", Required: true}},
		Outputs:     map[string]*engine.Shape{"items": engine.ListShape(engine.IntShape())},
		Run: func(_ context.Context, _ *engine.StepContext, in map[string]any) (map[string]any, error) {
			n, _ := in["n"].(int)
			if f, ok := in["n"].(float64); ok {
				n = int(f)
			}
			items := make([]any, n)
			for i := range items {
				items[i] = i
			}
			return map[string]any{"items": items}, nil
		},
	})
	return reg
}

// chainYAML is n steps, each needing the one before.
func chainYAML(n int) []byte {
	var b strings.Builder
	b.Grow(n * 48)
	b.WriteString("version: 1\nname: chain\nsteps:\n  - id: s0\n    uses: bench.noop\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - id: s%d\n    uses: bench.noop\n    needs: s%d\n", i, i-1)
	}
	return []byte(b.String())
}

// fanoutYAML is one step run for each of n items.
func fanoutYAML(n int) []byte {
	return []byte(fmt.Sprintf(`version: 1
name: fanout
steps:
  - id: items
    uses: bench.range
    with:
      n: %d
  - id: each
    uses: bench.noop
    for_each: ${{ steps.items.outputs.items }}
`, n))
}

func load(tb testing.TB, src []byte, reg *engine.Registry) *schema.Workflow {
	tb.Helper()
	wf, diags := schema.Load("bench.yaml", src, schema.LoadOptions{StepTypes: reg.SchemaInfos(), MaxBytes: 64 << 20})
	if len(diags) > 0 {
		tb.Fatalf("load: %v", diags)
	}
	return wf
}

func benchRun(b *testing.B, src []byte, steps int) {
	reg := noopRegistry(b)
	wf := load(b, src, reg)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		prog, diags := engine.Compile(wf, reg)
		if len(diags) > 0 {
			b.Fatalf("compile: %v", diags)
		}
		res, err := prog.Run(context.Background(), engine.RunOptions{Mode: engine.ModeRun})
		if err != nil {
			b.Fatal(err)
		}
		if res.Status != engine.RunSucceeded {
			b.Fatalf("run %s", res.Status)
		}
	}
	b.ReportMetric(float64(steps)*float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkEngineChain: compile and run a chain of no-op steps.
func BenchmarkEngineChain(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) { benchRun(b, chainYAML(n), n) })
	}
}

// BenchmarkEngineFanout: compile and run one no-op step for each of n items.
func BenchmarkEngineFanout(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) { benchRun(b, fanoutYAML(n), n) })
	}
}

// BenchmarkLoadValidate10000: read, schema-check and compile a workflow of
// 10,000 steps, as `frameflow validate` does.
func BenchmarkLoadValidate10000(b *testing.B) {
	reg := noopRegistry(b)
	src := chainYAML(10_000)
	infos := reg.SchemaInfos()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		wf, diags := schema.Load("bench.yaml", src, schema.LoadOptions{StepTypes: infos})
		if len(diags) > 0 {
			b.Fatalf("load: %v", diags)
		}
		if _, diags := engine.Compile(wf, reg); len(diags) > 0 {
			b.Fatalf("compile: %v", diags)
		}
	}
}

// The benchmarks' workflows are valid and run every step: a benchmark of a
// run that stopped early would flatter the engine.
func TestEngineBenchWorkflowsRunEveryStep(t *testing.T) {
	reg := noopRegistry(t)
	for name, c := range map[string]struct {
		src  []byte
		want int
	}{"chain": {chainYAML(500), 500}, "fanout": {fanoutYAML(500), 500}} {
		prog, diags := engine.Compile(load(t, c.src, reg), reg)
		if len(diags) > 0 {
			t.Fatalf("%s: %v", name, diags)
		}
		res, err := prog.Run(context.Background(), engine.RunOptions{Mode: engine.ModeRun})
		if err != nil || res.Status != engine.RunSucceeded {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
		ran := 0
		for _, s := range res.Steps {
			if s.Status == engine.StatusSucceeded && (s.Step == "each" && s.Index >= 0 || strings.HasPrefix(s.Step, "s")) {
				ran++
			}
		}
		if ran != c.want {
			t.Errorf("%s: %d no-op executions succeeded, want %d", name, ran, c.want)
		}
	}
}

// callFanoutYAML runs a one-step library playbook (uses: ./lib/noop.yaml)
// for each of n items, binding an input per item; groupFanoutYAML is the
// same work written as a group, for comparison.
func callFanoutYAML(n int) []byte {
	return []byte(fmt.Sprintf(`version: 1
name: call-fanout
steps:
  - id: items
    uses: bench.range
    with:
      n: %d
  - id: each
    for_each: ${{ steps.items.outputs.items }}
    uses: ./lib/noop.yaml
    with: {n: "${{ item }}"}
`, n))
}

const noopLibrary = `version: 1
name: noop
inputs:
  n: {type: integer, required: true}
steps:
  - id: step
    uses: bench.noop
outputs:
  n: ${{ inputs.n }}
`

func groupFanoutYAML(n int) []byte {
	return []byte(fmt.Sprintf(`version: 1
name: group-fanout
steps:
  - id: items
    uses: bench.range
    with:
      n: %d
  - id: each
    for_each: ${{ steps.items.outputs.items }}
    outputs: {n: "${{ item }}"}
    steps:
      - id: step
        uses: bench.noop
`, n))
}

// BenchmarkEngineCallFanout: a called playbook per item (one no-op step
// each, its input bound and its output evaluated per item), beside the
// same work as a group.
func BenchmarkEngineCallFanout(b *testing.B) {
	read := func(p string) ([]byte, error) {
		if p == "lib/noop.yaml" {
			return []byte(noopLibrary), nil
		}
		return nil, fmt.Errorf("no file %s", p)
	}
	for _, c := range []struct {
		name string
		src  func(int) []byte
	}{{"call", callFanoutYAML}, {"group", groupFanoutYAML}} {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/items=%d", c.name, n), func(b *testing.B) {
				reg := noopRegistry(b)
				wf, diags := schema.Load("bench.yaml", c.src(n), schema.LoadOptions{StepTypes: reg.SchemaInfos(), ReadFile: read})
				if len(diags) > 0 {
					b.Fatalf("load: %v", diags)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					prog, diags := engine.Compile(wf, reg)
					if len(diags) > 0 {
						b.Fatalf("compile: %v", diags)
					}
					res, err := prog.Run(context.Background(), engine.RunOptions{Mode: engine.ModeRun})
					if err != nil {
						b.Fatal(err)
					}
					if res.Status != engine.RunSucceeded || len(res.Steps) != n+2 { // items, each, and each.step per item
						b.Fatalf("run %s with %d results", res.Status, len(res.Steps))
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
			})
		}
	}
}
