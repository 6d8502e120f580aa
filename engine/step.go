package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/frameflow/frameflow/schema"
)

// This file is the contract between the engine and the step types. The
// engine never imports a concrete step: step types register into a Registry
// (see steps.Register), and main wires them.

// Mode says what a run is allowed to do.
type Mode int

const (
	// ModeRun sends everything.
	ModeRun Mode = iota
	// ModePlan sends reads (GET) and records mutations instead of sending them.
	ModePlan
	// ModeOffline sends nothing at all: reads are Unknown.
	ModeOffline
)

func (m Mode) String() string {
	switch m {
	case ModePlan:
		return "plan"
	case ModeOffline:
		return "offline"
	default:
		return "run"
	}
}

// unknownValue marks a value that exists only after apply (a task id) or a
// read that was not made (offline plans).
type unknownValue struct{}

func (unknownValue) String() string               { return "(known after apply)" }
func (unknownValue) MarshalJSON() ([]byte, error) { return json.Marshal("(known after apply)") }

// Unknown is the one unknown value. Compare with IsUnknown.
var Unknown any = unknownValue{}

// IsUnknown reports whether v is Unknown.
func IsUnknown(v any) bool { _, ok := v.(unknownValue); return ok }

// Shape describes the type of a step's output (or of a predicate's item) so
// that expressions referring to it are checked when the workflow is loaded:
// a typo like steps.targets.outputs.acounts is an error at its position.
type Shape struct {
	Kind   string            `json:"kind"`             // any, string, integer, number, boolean, list, object
	Fields map[string]*Shape `json:"fields,omitempty"` // object: the known fields
	Open   bool              `json:"open,omitempty"`   // object: other fields may exist (not checked)
	Elem   *Shape            `json:"elem,omitempty"`   // list: element shape
	Doc    string            `json:"doc,omitempty"`
}

// Shape constructors, for step declarations.
func AnyShape() *Shape                       { return &Shape{Kind: "any"} }
func StringShape() *Shape                    { return &Shape{Kind: "string"} }
func IntShape() *Shape                       { return &Shape{Kind: "integer"} }
func NumberShape() *Shape                    { return &Shape{Kind: "number"} }
func BoolShape() *Shape                      { return &Shape{Kind: "boolean"} }
func ListShape(elem *Shape) *Shape           { return &Shape{Kind: "list", Elem: elem} }
func ObjectShape(f map[string]*Shape) *Shape { return &Shape{Kind: "object", Fields: f} }
func OpenObjectShape(f map[string]*Shape) *Shape {
	return &Shape{Kind: "object", Fields: f, Open: true}
}

// InputSpec declares one input of a step type's `with` block. The workflow
// JSON Schema and the step reference are generated from these.
type InputSpec struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"` // string, integer, number, boolean, list, object, any
	Required    bool     `json:"required"`
	Description string   `json:"description"`
	Enum        []any    `json:"enum,omitempty"`
	Default     any      `json:"default,omitempty"`
	Minimum     *float64 `json:"minimum,omitempty"`
	Maximum     *float64 `json:"maximum,omitempty"`
	// Sensitive marks an input the API documents as secret and that is sent
	// in a header or a body field, never in a path or a query: the only
	// kind of input a value computed from a secret may be given to. Step
	// types show it masked in plans and never echo it in errors.
	Sensitive bool `json:"sensitive,omitempty"`
	// Predicate makes the input an expression (not a ${{ }} template) that is
	// evaluated once per element, with the element bound to Predicate.Var.
	// It is compiled and checked against Predicate.Shape before anything runs.
	Predicate *PredicateSpec `json:"predicate,omitempty"`
}

// PredicateSpec: see InputSpec.Predicate.
type PredicateSpec struct {
	Var   string `json:"var"`
	Shape *Shape `json:"shape"`
}

// StepType is one kind of step (accounts.list, sandbox.clone, ...).
type StepType struct {
	Name        string
	Description string // one line: the effect, e.g. "Overwrites the target account's sandbox with ..."
	Inputs      []InputSpec
	// AnyOf lists alternative sets of inputs of which one must be complete
	// (e.g. {pool_id} or {account_id, pool_kind}). Empty: none.
	AnyOf   [][]string
	Outputs map[string]*Shape
	Mutates bool
	// Destructive steps overwrite or delete data and need approval.
	Destructive bool
	// Resources names what a step mutates ("account:<id>", "pool:<id>") from
	// its resolved inputs; the engine serializes steps whose resources meet.
	Resources func(in map[string]any) []string
	// NeedsApproval, when set, narrows which steps of a mutating type count
	// as mutations for approval, from the step's constant `with` values
	// (http.request: a GET or HEAD is a read). An input written as an
	// expression is in dynamic, not in constants: its value is known only at
	// run time, so the answer should then be the cautious one.
	NeedsApproval func(constants map[string]any, dynamic map[string]bool) bool
	// Check, when set, looks at the step's constant `with` values when the
	// workflow is compiled (validate) and returns problems, each reported
	// at its input's position (http.request: a literal URL outside the
	// workflow's http.allow).
	Check func(wf *schema.Workflow, constants map[string]any) []InputProblem
	// Run does the work. in holds the resolved inputs (expressions evaluated,
	// defaults applied). It returns the step's outputs.
	Run func(ctx context.Context, sc *StepContext, in map[string]any) (map[string]any, error)
}

// InputProblem is a problem Check found with one input.
type InputProblem struct {
	Input   string
	Message string
}

// Mutation is one state-changing API request a step wants to make. Steps
// never send mutations themselves: they hand them to StepContext.Mutate, which
// records the intent durably before sending (run mode), records instead of
// sending (plan modes), and on resume reconciles instead of re-sending.
// Method, Path, Query and Body describe exactly the request Send sends:
// a step builds the request once and derives both from it, so the plan,
// the journal's intent and apply's guard see what travels.
type Mutation struct {
	Type   string            `json:"type"`   // the step type or catalog name, e.g. "sandbox.clone"
	Method string            `json:"method"` // POST, DELETE, ...
	Path   string            `json:"path"`   // resolved and escaped, e.g. /accounts/abc/pools/p1/clone
	Query  map[string]string `json:"query,omitempty"`
	// Headers are the request headers a step sets itself (http.request),
	// credential-like values masked; the Frame client's own (signature,
	// content type) are not listed.
	Headers   map[string]string `json:"headers,omitempty"`
	Body      any               `json:"body,omitempty"`
	Resources []string          `json:"resources,omitempty"`
	// Change is the difference the mutation makes, where the step could read
	// the current state (elasticity 0/0/1 -> 1/1/5).
	Change *Change `json:"change,omitempty"`

	// Send makes the request and returns its JSON-able result (a task, ...).
	Send func(ctx context.Context) (any, error) `json:"-"`
	// Reconcile proves, after a crash or an unknown outcome, whether an
	// earlier Send took effect: found=true with its result when it did. Nil
	// when nothing can prove it.
	Reconcile func(ctx context.Context) (result any, found bool, err error) `json:"-"`
	// Placeholder is what Mutate returns in plan modes, with Unknown where a
	// value exists only after apply. Nil means Unknown.
	Placeholder any `json:"-"`
	// Witness is state the step read before sending that Reconcile needs to
	// tell a sent mutation from one never sent (sandbox.publish: the publish
	// task ids listed before the POST). It is journaled with the intent; on
	// resume the recorder must copy the journaled Witness into the new
	// Mutation before calling its Reconcile (a re-run step reads the world
	// after the crash, which would hide the mutation being looked for).
	Witness json.RawMessage `json:"witness,omitempty"`

	// Action is what the request does to what it targets, for people
	// reading a plan: ActionCreate, ActionUpdate (an existing thing changes:
	// a publish, a setting) or ActionDelete. "" lets the plan infer it.
	Action string `json:"action,omitempty"`
	// Details are facts a reviewer needs that the method and path do not
	// say (a clone's source account and pool, what is overwritten). A value
	// that is an id the plan knows a name for is shown with the name.
	Details []Detail `json:"details,omitempty"`
	// Names maps ids the step read to their names (a pool's name), so that
	// a plan can show names beside ids.
	Names map[string]string `json:"names,omitempty"`
}

// Mutation actions (Mutation.Action).
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Detail is one labelled fact about a mutation ("source pool": id).
type Detail struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Change is a before/after pair for plan rendering.
type Change struct {
	Before any `json:"before,omitempty"`
	After  any `json:"after,omitempty"`
}

// Status is the outcome of a step execution or of a run (see StatusSucceeded
// and RunSucceeded), and in events also running or waiting.
type Status string

// EventType says what an Event reports.
type EventType string

// The event types (docs/events.md).
const (
	EventRunStarted   EventType = "run_started"
	EventStepStarted  EventType = "step_started"
	EventStepProgress EventType = "step_progress"
	EventStepRetrying EventType = "step_retrying"
	EventStepFinished EventType = "step_finished"
	EventRequest      EventType = "request"
	EventMutation     EventType = "mutation"
	EventRunFinished  EventType = "run_finished"
)

// Event is what the engine reports while it runs; renderers (live view,
// plain lines, JSON lines, JUnit) and the journal consume events.
type Event struct {
	Type        EventType     `json:"type"`
	Time        time.Time     `json:"time"`
	RunID       string        `json:"run_id,omitempty"`
	Workflow    string        `json:"workflow,omitempty"`
	Step        string        `json:"step,omitempty"` // step id; inside a group "group.step"
	Item        string        `json:"item,omitempty"` // fan-out item label
	Index       *int          `json:"index,omitempty"`
	Status      Status        `json:"status,omitempty"`
	Attempt     int           `json:"attempt,omitempty"`
	MaxAttempts int           `json:"max_attempts,omitempty"`
	Delay       time.Duration `json:"delay,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
	Message     string        `json:"message,omitempty"`
	Error       string        `json:"error,omitempty"`
	Method      string        `json:"method,omitempty"`
	Path        string        `json:"path,omitempty"`
	HTTPStatus  int           `json:"http_status,omitempty"`
	Total       int           `json:"total,omitempty"` // fan-out size
}

// Label is "step" or "group.step [item]": how renderers name the
// execution an event is about.
func (e Event) Label() string {
	if e.Item != "" {
		return e.Step + " [" + e.Item + "]"
	}
	return e.Step
}

// EventSink receives events; it must not block for long.
type EventSink func(Event)

// Logger is what steps use for debug logs.
type Logger = *slog.Logger
