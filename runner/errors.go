package runner

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"

	"github.com/frameflow/frameflow/internal/termtext"
)

// Every error below means nothing was sent, unless it says otherwise.

// WorkflowError is a workflow file that cannot be run: every problem at
// once, each at its FILE:LINE:COL.
type WorkflowError struct {
	Diagnostics schema.Diagnostics
}

func (e *WorkflowError) Error() string {
	if len(e.Diagnostics) == 1 {
		return "1 problem found; nothing was sent"
	}
	return fmt.Sprintf("%d problems found; nothing was sent", len(e.Diagnostics))
}

// InputError is an input the workflow refuses: unknown, missing, of the
// wrong type or outside its enum. The message never echoes a secret.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// ConfigError is an API client that cannot be built (credentials, URL).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// RefusedError is a run the engine refused before starting anything: what
// the inputs make of vars and filters is invalid (target_filter='name ==').
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// StepFailure is one failed step execution, as data.
type StepFailure struct {
	Step  string `json:"step"`
	Item  string `json:"item,omitempty"`
	Error string `json:"error"` // redacted
}

// Label is "step" or "step [item]".
func (f StepFailure) Label() string {
	if f.Item != "" {
		return f.Step + " [" + f.Item + "]"
	}
	return f.Step
}

func failureLines(fs []StepFailure) string {
	msgs := make([]string, len(fs))
	for i, f := range fs {
		// One line each: a server's message cannot add lines to the list.
		msgs[i] = termtext.Line(f.Label() + ": " + f.Error)
	}
	return strings.Join(msgs, "\n  ")
}

// PreflightError lists the steps that refused their input when the
// workflow ran offline: a capacity of -1, min above max. Found before any
// request, so a typo does not surface after every store was cloned.
type PreflightError struct{ Failures []StepFailure }

func (e *PreflightError) Error() string {
	return "invalid input, found before sending anything (nothing was sent):\n  " + failureLines(e.Failures)
}

// PlanFailedError is a plan that could not be made: a read failed, or a
// step refused what it read.
type PlanFailedError struct {
	Failures []StepFailure
	// Hint says what to check when every failure is the API refusing the
	// credentials or not being reached (AccessHint); "" otherwise.
	Hint string
}

func (e *PlanFailedError) Error() string {
	return "planning failed (nothing was sent):\n  " + failureLines(e.Failures)
}

// StaleError is a saved plan that no longer matches the estate or the
// workflow: apply refused it, and Diffs say what changed.
type StaleError struct {
	PlanHash string
	Diffs    []plan.Difference
}

func (e *StaleError) Error() string {
	lines := make([]string, len(e.Diffs))
	for i, d := range e.Diffs {
		lines[i] = d.String()
	}
	return fmt.Sprintf("the plan is stale; nothing was sent. What changed since it was made:\n  %s\nMake a new plan", strings.Join(lines, "\n  "))
}

// OfflinePlanError is an offline plan given to apply: it was made without
// reading the estate, so it cannot say what apply would send.
type OfflinePlanError struct{ Path string }

func (e *OfflinePlanError) Error() string {
	return fmt.Sprintf("%s is an offline plan (made without reading the estate); make one with `frameflow plan --out` to apply", e.Path)
}

// MissingSecretError is a secret input a saved plan or a journal does not
// store (by design) and the caller did not give again.
type MissingSecretError struct {
	Input string
	Where string // "plan" or "journal"
}

func (e *MissingSecretError) Error() string {
	return fmt.Sprintf("input %q is secret and not stored in the %s: pass it again with --input %s=...", e.Input, e.Where, e.Input)
}

// FixedInputError is a non-secret input given again to apply or resume:
// a saved plan's inputs are what was reviewed, and a run's are what it
// started with. Only secret inputs, which neither stores, are given again.
type FixedInputError struct {
	Input string
	Where string // "plan" or "journal"
	Value any    // the stored value
}

func (e *FixedInputError) Error() string {
	if e.Where == "plan" {
		return fmt.Sprintf("input %q is fixed by the plan (%s = %s): a plan applies the inputs it was made with. To change it, make a new plan: frameflow plan FILE --input %s=... --out PLAN", e.Input, e.Input, storedText(e.Value), e.Input)
	}
	return fmt.Sprintf("input %q is fixed by the run (%s = %s): resume continues a run with the inputs it started with and accepts only secret inputs again. To use another value, start a new run", e.Input, e.Input, storedText(e.Value))
}

func storedText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// NotApprovedError is a run or apply whose approval the caller did not
// confirm, or confirmed for a different plan. Approval is what it needed.
type NotApprovedError struct {
	Approval Approval
	Reason   string
}

func (e *NotApprovedError) Error() string {
	if e.Reason != "" {
		return e.Reason + "; nothing was sent"
	}
	return "not approved; nothing was sent"
}

// WorkflowChangedError is a resume whose workflow file changed since the
// run started; Force resumes with the new file.
type WorkflowChangedError struct {
	RunID, File, Was, Now string
}

func (e *WorkflowChangedError) Error() string {
	return fmt.Sprintf("run %s: %s changed since the run started (%s, now %s); resume with --force to run the new file", e.RunID, e.File, e.Was, e.Now)
}

// AppliedPlanError is an apply run whose kept plan cannot be read or is
// not the approved one: resuming it could send what was never planned.
type AppliedPlanError struct {
	RunID, PlanHash string
	Err             error
}

func (e *AppliedPlanError) Error() string {
	return fmt.Sprintf("run %s applied plan %s, %v; nothing was sent. Make and apply a new plan", e.RunID, e.PlanHash, e.Err)
}

func (e *AppliedPlanError) Unwrap() error { return e.Err }
