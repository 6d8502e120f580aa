package schema

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// This file is the contract between the loader and the engine. The loader
// fills it from YAML, keeping the position of every node so that later checks
// (expressions, references, the DAG) report FILE:LINE:COL too.

// Pos is a position in a workflow file (1-based line and column).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// PosOf gives the position of a YAML node in file.
func PosOf(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// Workflow is a loaded, schema-valid workflow file (format version 1).
type Workflow struct {
	File string // as given on the command line (a called playbook: joined to its caller's folder)
	// Hash is "sha256:<hex>" of the file's bytes when the playbook calls no
	// other playbook; otherwise it also covers every called file's content
	// (CallsHash), so that a plan or a journal made before lib/x.yaml
	// changed is seen as stale.
	Hash string
	// SourceHash is "sha256:<hex>" of this file's bytes alone.
	SourceHash  string
	Version     int
	Name        string
	Description string
	Inputs      []*Input // in file order
	Vars        []*Var   // in file order; values may hold expressions
	Env         []string // environment variable names the workflow may read (env.NAME)
	Defaults    Defaults
	Concurrency int // most steps in flight (0: engine default)
	// ConcurrencyPos is where concurrency: is written (zero when it is not).
	ConcurrencyPos Pos
	MaxTargets     int // guardrail: most items a mutating fan-out may have (0: default)
	// Approval is "not_required" when the playbook declares its mutations
	// need no approval (reversible work); "" or "required" otherwise.
	// Destructive steps need approval whatever it says.
	Approval string
	// HTTPAllow lists the hosts http.request may call (http.allow); nil:
	// any host. An entry "*.example.com" allows its subdomains.
	HTTPAllow []string
	Steps     []*Step
	// Outputs are the playbook's declared results (outputs:), evaluated
	// among its top-level steps; a caller (uses: ./this.yaml) reads them as
	// steps.ID.outputs.NAME.
	Outputs      map[string]*Value
	OutputsOrder []string
	Pos          Pos
	Root         *yaml.Node // the document node, for tools that need more
	// Checked is set by Load: the loader has already reported duplicate
	// keys and ids, unknown step types, the shape of groups, needs that name
	// no step, and the with inputs of each step type. The engine then
	// reports only what is its own (expressions, references, the DAG), so
	// no problem is reported twice.
	Checked bool

	scalarsOnce sync.Once
	scalars     map[[2]int]*yaml.Node // scalar nodes by line and column, for ExprShift
}

// Input is a declared workflow input.
type Input struct {
	Name        string
	Type        string // string, number, integer, boolean, list, object
	Default     any    // nil when absent (HasDefault tells)
	HasDefault  bool
	Required    bool
	Description string
	Enum        []any
	Secret      bool
	Pos         Pos
}

// Var is a workflow variable; Value is a Value tree (strings may hold ${{ }}).
type Var struct {
	Name  string
	Value *Value
	Pos   Pos
}

// Defaults apply to every step that does not say otherwise.
type Defaults struct {
	Retry   *Retry
	Timeout time.Duration
	Polling *Polling
}

// Polling configures task.wait-style polling.
type Polling struct {
	InitialInterval time.Duration
	MaxInterval     time.Duration
	Timeout         time.Duration
	Pos             Pos
}

// Retry is a step's retry policy.
type Retry struct {
	MaxAttempts  int
	Backoff      string // constant | exponential
	InitialDelay time.Duration
	MaxDelay     time.Duration
	Jitter       bool
	// AttemptTimeout bounds each attempt; the step's Timeout bounds all of
	// them, waits between attempts included. An attempt that runs out of
	// time fails with class "timeout".
	AttemptTimeout time.Duration
	On             []string // error classes: throttled, server_error, network, task_failed, conflict, timeout
	Pos            Pos
}

// Step is one step, or a group (Uses == "" and len(Steps) > 0) whose steps
// form a small DAG run once per item of ForEach.
type Step struct {
	ID              string
	Uses            string
	With            map[string]*Value // keyed by input name
	WithOrder       []string          // input names in file order
	WithPos         Pos               // the with mapping (the step's mapping when absent)
	Needs           []string
	NeedsPos        []Pos
	If              string // expression source without ${{ }} (both forms accepted)
	IfPos           Pos
	Retry           *Retry
	Timeout         time.Duration
	ContinueOnError bool
	Outputs         map[string]*Value // named expressions
	OutputsOrder    []string
	Confirm         bool
	// Approval overrides the workflow's: "required" or "not_required"
	// ("" inherits). A destructive step cannot be not_required.
	Approval    string
	ApprovalPos Pos
	Description string
	MaxTargets  int

	// Fan-out.
	ForEach           string // expression yielding a list (with or without ${{ }})
	ForEachPos        Pos
	ForEachList       *Value // for_each given as a list literal (ForEach is then "")
	As                string // item variable name; default "item"
	Concurrency       int
	MaxFailures       *int
	MaxFailurePercent *float64
	Batch             int     // canary: the first Batch items must succeed before the rest start
	Steps             []*Step // group body

	Pos     Pos // position of the step's mapping
	IDPos   Pos
	UsesPos Pos
	Parent  *Step // enclosing group, nil at top level

	// Callee is the playbook a step with uses: ./path.yaml runs, loaded by
	// Load (nil when it could not be loaded, or closes a cycle: both were
	// reported).
	Callee *Workflow
}

// IsGroup reports whether the step is a group of steps.
func (s *Step) IsGroup() bool { return s.Uses == "" && len(s.Steps) > 0 }

// IsCall reports whether the step runs another playbook (uses: ./x.yaml).
func (s *Step) IsCall() bool { return IsPlaybookPath(s.Uses) }

// IsPlaybookPath reports whether a step's uses names a playbook file (a
// path starting with ./ or ../, relative to the calling file) rather than
// a step type. Step type names never start with a dot.
func IsPlaybookPath(uses string) bool {
	return strings.HasPrefix(uses, "./") || strings.HasPrefix(uses, "../")
}

// Value is a YAML value with its position: a scalar (Scalar holds the decoded
// Go value: string, int, float64, bool or nil), a list or a map.
type Value struct {
	Kind   ValueKind
	Scalar any
	List   []*Value
	Map    map[string]*Value
	Keys   []string // map keys in file order
	Pos    Pos
	Node   *yaml.Node
}

type ValueKind int

const (
	ScalarValue ValueKind = iota
	ListValue
	MapValue
)

// Plain converts the Value into plain Go data (map[string]any, []any, scalars)
// without evaluating expressions.
func (v *Value) Plain() any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ListValue:
		out := make([]any, len(v.List))
		for i, e := range v.List {
			out[i] = e.Plain()
		}
		return out
	case MapValue:
		out := make(map[string]any, len(v.Map))
		for k, e := range v.Map {
			out[k] = e.Plain()
		}
		return out
	default:
		return v.Scalar
	}
}

// Diagnostic is one problem found in a workflow file.
type Diagnostic struct {
	Pos     Pos
	Message string
}

func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Message }

// Diagnostics is every problem found, sorted by position. It is an error when
// non-empty.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += "\n"
		}
		s += d.String()
	}
	return s
}

// StepTypeInfo is what the loader needs to know of a step type: its name and
// the JSON Schema of its `with` block. The registry in engine/ supplies these
// as data, so the schema package imports nothing of the project.
type StepTypeInfo struct {
	Name        string
	Description string
	WithSchema  map[string]any // a JSON Schema object for `with`
}

// SortDiagnostics sorts ds by file, line, column, then message.
func SortDiagnostics(ds Diagnostics) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		return a.Message < b.Message
	})
}
