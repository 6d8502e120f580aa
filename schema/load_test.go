package schema_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/workflows/bad")

// TestGolden loads every bad workflow and compares its diagnostics with the
// .golden file next to it. File names in the messages are relative to the
// repository root, as a user in the repository would type them.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("../testdata/workflows/bad/*.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel := "testdata/workflows/bad/" + filepath.Base(path)
			_, diags := schema.Load(rel, data, schema.LoadOptions{StepTypes: testTypes()})
			if len(diags) == 0 {
				t.Fatalf("%s: no diagnostics for a bad workflow", rel)
			}
			var got strings.Builder
			for _, d := range diags {
				if d.Pos.File != rel || d.Pos.Line < 1 || d.Pos.Col < 1 {
					t.Errorf("bad position in %q", d)
				}
				got.WriteString(d.String() + "\n")
			}
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -run Golden -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

// Every good workflow loads without a diagnostic.
func TestGoodWorkflows(t *testing.T) {
	files, _ := filepath.Glob("../testdata/workflows/good/*.yaml")
	more, _ := filepath.Glob("../workflows/*.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no good workflows")
	}
	for _, f := range files {
		wf, diags := schema.LoadFile(f, schema.LoadOptions{StepTypes: testTypes()})
		if strings.HasPrefix(f, "../workflows/") && len(diags) > 0 {
			// Playbooks of the repository may use step types this test's
			// small registry does not know; only structure is checked here.
			wf, diags = schema.LoadFile(f, schema.LoadOptions{})
		}
		if len(diags) > 0 {
			t.Errorf("%s: unexpected diagnostics:\n%v", f, diags)
		}
		if wf == nil {
			t.Errorf("%s: nil workflow", f)
		}
	}
}

func TestReferencePlaybookModel(t *testing.T) {
	const file = "qa-rollout.yaml"
	data, err := os.ReadFile("../testdata/workflows/good/qa-rollout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wf, diags := schema.Load(file, data, schema.LoadOptions{StepTypes: testTypes()})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if wf.Version != 1 || wf.Name != "qa-rollout" || !strings.HasPrefix(wf.Hash, "sha256:") || len(wf.Hash) != 7+64 {
		t.Errorf("header: version %d name %q hash %q", wf.Version, wf.Name, wf.Hash)
	}
	var names []string
	for _, in := range wf.Inputs {
		names = append(names, in.Name)
	}
	if got := strings.Join(names, ","); got != "source_account,target_filter,min_servers,buffer_servers,max_servers" {
		t.Errorf("inputs in file order: %s", got)
	}
	if in := wf.Inputs[2]; in.Type != "integer" || !in.HasDefault || in.Default != 1 || in.Pos != (schema.Pos{File: file, Line: 8, Col: 3}) {
		t.Errorf("min_servers: %+v", in)
	}
	r := wf.Defaults.Retry
	if r == nil || r.MaxAttempts != 3 || r.Backoff != "exponential" || r.InitialDelay != time.Second || r.MaxDelay != 30*time.Second || strings.Join(r.On, ",") != "throttled,server_error,network" {
		t.Errorf("defaults.retry: %+v", r)
	}
	if p := wf.Defaults.Polling; p == nil || p.InitialInterval != 2*time.Second || p.MaxInterval != 30*time.Second || p.Timeout != 2*time.Hour {
		t.Errorf("defaults.polling: %+v", p)
	}
	if len(wf.Steps) != 3 {
		t.Fatalf("want 3 top-level steps, got %d", len(wf.Steps))
	}
	source := wf.Steps[0]
	if source.ID != "source" || source.Uses != "accounts.list" || source.IDPos != (schema.Pos{File: file, Line: 15, Col: 9}) || source.UsesPos != (schema.Pos{File: file, Line: 16, Col: 11}) {
		t.Errorf("source: %+v", source)
	}
	if strings.Join(source.WithOrder, ",") != "name,filter" || source.With["name"].Scalar != "${{ inputs.source_account }}" || source.With["name"].Pos != (schema.Pos{File: file, Line: 17, Col: 18}) {
		t.Errorf("source.with: %v %+v", source.WithOrder, source.With["name"])
	}
	group := wf.Steps[2]
	if !group.IsGroup() || group.ForEach != "${{ steps.targets.outputs.accounts }}" || group.As != "account" || group.Concurrency != 50 || group.ForEachPos.Line != 22 {
		t.Errorf("rollout: %+v", group)
	}
	if len(group.Steps) != 3 {
		t.Fatalf("want 3 steps in the group, got %d", len(group.Steps))
	}
	publish := group.Steps[1]
	if publish.Parent != group || strings.Join(publish.Needs, ",") != "clone" || publish.NeedsPos[0] != (schema.Pos{File: file, Line: 31, Col: 16}) {
		t.Errorf("publish: %+v", publish)
	}
	if wait := group.Steps[0].With["wait"]; wait.Scalar != true {
		t.Errorf("clone.with.wait: %+v", wait)
	}
}

func TestModelDetails(t *testing.T) {
	src := `version: 1
name: details
env: [HOME]
vars:
  region: eu
  tags: {a: [1, 2.5, true, null]}
defaults:
  timeout: 90
steps:
  - id: a
    uses: accounts.list
    if: "${{ inputs.go }}"
    timeout: 1m30s
    retry: {max_attempts: 2, backoff: constant, jitter: true}
    outputs: {count: "${{ len(result) }}"}
  - id: b
    uses: accounts.list
    needs: [a]
    if: vars.region == "eu"
    for_each: [x, y]
    max_failures: 0
    max_failure_percent: 12.5
    batch: 1
    continue_on_error: true
    confirm: true
`
	wf, diags := schema.Load("d.yaml", []byte(src), schema.LoadOptions{StepTypes: testTypes()})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if wf.Defaults.Timeout != 90*time.Second || strings.Join(wf.Env, ",") != "HOME" {
		t.Errorf("defaults %+v env %v", wf.Defaults, wf.Env)
	}
	tags := wf.Vars[1].Value.Plain().(map[string]any)["a"].([]any)
	if len(tags) != 4 || tags[0] != 1 || tags[1] != 2.5 || tags[2] != true || tags[3] != nil {
		t.Errorf("vars.tags: %#v", tags)
	}
	a, b := wf.Steps[0], wf.Steps[1]
	if a.If != "inputs.go" || a.IfPos.Line != 12 || a.Timeout != 90*time.Second || a.Retry.MaxAttempts != 2 || !a.Retry.Jitter || a.OutputsOrder[0] != "count" {
		t.Errorf("a: %+v", a)
	}
	if a.As != "" || a.ForEachList != nil {
		t.Errorf("a is not a fan-out: %+v", a)
	}
	if b.If != `vars.region == "eu"` || b.As != "item" || b.ForEachList == nil || len(b.ForEachList.List) != 2 ||
		b.MaxFailures == nil || *b.MaxFailures != 0 || b.MaxFailurePercent == nil || *b.MaxFailurePercent != 12.5 ||
		b.Batch != 1 || !b.ContinueOnError || !b.Confirm {
		t.Errorf("b: %+v", b)
	}
}

// Anchors, aliases and merge keys are ordinary YAML and work.
func TestAliasesAndMerges(t *testing.T) {
	src := `version: 1
name: anchors
steps:
  - id: a
    uses: sandbox.clone
    retry: &retry {max_attempts: 5, backoff: constant}
    with: &with {target_account_id: x, wait: true}
  - id: b
    uses: sandbox.clone
    retry: *retry
    with:
      <<: *with
      target_account_id: y
`
	wf, diags := schema.Load("a.yaml", []byte(src), schema.LoadOptions{StepTypes: testTypes()})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	b := wf.Steps[1]
	if b.Retry.MaxAttempts != 5 || b.With["target_account_id"].Scalar != "y" || b.With["wait"].Scalar != true {
		t.Errorf("b: retry %+v with %v", b.Retry, b.With)
	}
}

// Problems inside an anchor used twice are reported once.
func TestAliasErrorsOnce(t *testing.T) {
	src := `version: 1
name: anchors
steps:
  - id: a
    uses: accounts.list
    retry: &retry {max_attempts: 0}
  - id: b
    uses: accounts.list
    retry: *retry
`
	_, diags := schema.Load("a.yaml", []byte(src), schema.LoadOptions{StepTypes: testTypes()})
	if len(diags) != 2 || diags[0].Pos.Line != 6 || diags[1].Pos.Line != 6 {
		t.Errorf("want one report per step at the anchor, got:\n%v", diags)
	}
}

func TestOversizedFileRefusedBeforeParsing(t *testing.T) {
	// Invalid YAML past the limit: a size refusal must come before any parse.
	data := append([]byte("version: 1\nname: big\nvars:\n  pad: \""), bytes.Repeat([]byte("x"), 2048)...)
	data = append(data, "\n: : :"...)
	_, diags := schema.Load("big.yaml", data, schema.LoadOptions{MaxBytes: 1024})
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "larger than 1024 bytes") {
		t.Fatalf("got %v", diags)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	big := append([]byte("version: 1\nname: big\n# "), bytes.Repeat([]byte("x"), schema.DefaultMaxBytes)...)
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	wf, diags := schema.LoadFile(path, schema.LoadOptions{})
	if wf != nil || len(diags) != 1 || diags[0].String() != path+":1:1: the file is larger than 4194304 bytes; refusing to load it" {
		t.Fatalf("got %v", diags)
	}
}

func TestMissingFile(t *testing.T) {
	_, diags := schema.LoadFile("does/not/exist.yaml", schema.LoadOptions{})
	if len(diags) != 1 || diags[0].String() != "does/not/exist.yaml:1:1: cannot read the workflow file: no such file or directory" {
		t.Fatalf("got %v", diags)
	}
}

// The limits are options; a tighter node budget refuses smaller bombs.
func TestNodeLimit(t *testing.T) {
	src := "version: 1\nname: n\nvars:\n  a: &a [1, 2, 3, 4]\n  b: [*a, *a, *a]\nsteps:\n  - {id: a, uses: accounts.list}\n"
	if _, diags := schema.Load("n.yaml", []byte(src), schema.LoadOptions{}); len(diags) > 0 {
		t.Fatal(diags)
	}
	_, diags := schema.Load("n.yaml", []byte(src), schema.LoadOptions{MaxNodes: 20})
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "more than 20 YAML nodes") {
		t.Fatalf("got %v", diags)
	}
}

// Secret values never appear in messages.
func TestSecretDefaultNotShown(t *testing.T) {
	src := "version: 1\nname: s\ninputs:\n  token: {type: integer, secret: true, default: hunter2, enum: [1, 2]}\nsteps:\n  - {id: a, uses: accounts.list}\n"
	_, diags := schema.Load("s.yaml", []byte(src), schema.LoadOptions{StepTypes: testTypes()})
	if len(diags) == 0 {
		t.Fatal("want diagnostics")
	}
	if strings.Contains(diags.Error(), "hunter2") {
		t.Errorf("secret leaked: %v", diags)
	}
}

// Without a registry, step types and their inputs are not checked.
func TestNoStepTypes(t *testing.T) {
	src := "version: 1\nname: s\nsteps:\n  - {id: a, uses: anything.goes, with: {x: 1}}\n"
	if _, diags := schema.Load("s.yaml", []byte(src), schema.LoadOptions{}); len(diags) > 0 {
		t.Fatal(diags)
	}
}

// nearLimit expands to about 900,000 nodes, just under the default limit.
const nearLimit = `version: 1
name: m
vars:
  a: &a [1,2,3,4,5,6,7,8,9]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: [*e,*e,*e,*e,*e,*e,*e]
steps:
  - {id: a, uses: accounts.list}
`

// A file just under the node limit is accepted, and its aliases are shared
// rather than copied: memory stays proportional to the file.
func TestAliasesAreNotCopied(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	wf, diags := schema.Load("m.yaml", []byte(nearLimit), schema.LoadOptions{StepTypes: testTypes()})
	runtime.ReadMemStats(&after)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if f := wf.Vars[5].Value; len(f.List) != 7 || len(f.List[6].List[9].List[9].List[9].List) != 10 {
		t.Errorf("vars.f is not expanded: %+v", f)
	}
	if mib := (after.TotalAlloc - before.TotalAlloc) >> 20; mib > 64 {
		t.Errorf("loading a 300-byte file allocated %d MiB", mib)
	}
}

func BenchmarkLoadReference(b *testing.B) {
	data, err := os.ReadFile("../testdata/workflows/good/qa-rollout.yaml")
	if err != nil {
		b.Fatal(err)
	}
	opts := schema.LoadOptions{StepTypes: testTypes()}
	for b.Loop() {
		if _, diags := schema.Load("qa-rollout.yaml", data, opts); len(diags) > 0 {
			b.Fatal(diags)
		}
	}
}

func BenchmarkLoadAliasBomb(b *testing.B) {
	data, err := os.ReadFile("../testdata/workflows/bad/alias_bomb.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		schema.Load("bomb.yaml", data, schema.LoadOptions{})
	}
}

func BenchmarkLoadNearNodeLimit(b *testing.B) {
	opts := schema.LoadOptions{StepTypes: testTypes()}
	for b.Loop() {
		schema.Load("m.yaml", []byte(nearLimit), opts)
	}
}

// The positions issue 15 reported wrong, checked against the line and
// column a person would point at (the golden files pin every class).
func TestSyntaxErrorsPointAtTheOffendingCharacter(t *testing.T) {
	head := "version: 1\nname: broken\nsteps:\n  - id: a\n    uses: task.wait\n"
	cases := []struct {
		name, src string
		line, col int
		says      string
	}{
		{"unclosed brace on line 6", head + "    with: {task_id: \"x\"\n  - id: b\n", 6, 11, "'{' is never closed"},
		{"unclosed bracket on line 6", head + "    needs: [a, b\n  - id: b\n", 6, 12, "'[' is never closed"},
		{"tab indent on line 5", "version: 1\nname: x\nsteps:\n  - id: a\n\tuses: task.wait\n", 5, 1, "tab"},
		{"non-UTF-8 on line 6", head + "    name: caf\xe9\n", 6, 14, "not UTF-8"},
		{"NUL on line 6", head + "    name: a\x00b\n", 6, 12, "NUL"},
		{"BOM inside", head + "    name: \ufeffx\n", 6, 11, "byte order mark"},
		{"truncated in a quote", head + "    with: {task_id: \"ta", 6, 21, "quoted string is never closed"},
		{"truncated in a flow mapping", head + "    with: {task_id: x,\n", 6, 11, "'{' is never closed"},
		{"key outside its sequence item", "version: 1\nname: x\nsteps:\n  - id: a\n  uses: task.wait\n", 5, 3, "expected '-'"},
	}
	for _, c := range cases {
		_, diags := schema.Load("w.yaml", []byte(c.src), schema.LoadOptions{})
		if len(diags) != 1 {
			t.Errorf("%s: want one diagnostic, got %v", c.name, diags)
			continue
		}
		d := diags[0]
		if d.Pos.Line != c.line || d.Pos.Col != c.col || !strings.Contains(d.Message, c.says) {
			t.Errorf("%s: got %s, want w.yaml:%d:%d: ...%s...", c.name, d, c.line, c.col, c.says)
		}
	}
	// A BOM at the very start is allowed and shifts no column.
	_, diags := schema.Load("w.yaml", []byte("\ufeffversion: 2\nname: x\nsteps: [{id: a, uses: task.wait}]\n"), schema.LoadOptions{})
	if len(diags) == 0 || diags[0].Pos.Line != 1 || diags[0].Pos.Col != 10 {
		t.Errorf("leading BOM: %v", diags)
	}
}
