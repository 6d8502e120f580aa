package serve

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"
)

// Backend is the engine behind the pages: the same plan, apply, resume and
// journal code as the CLI's commands. The server never plans, sends or
// journals anything itself.
type Backend interface {
	// Playbook loads and compiles a playbook. A playbook with problems
	// comes back with Problems set (FILE:LINE:COL: message) and no error.
	Playbook(file string) (*Playbook, error)
	// Plan makes a plan (reads live, nothing sent). Inputs are the form's
	// strings, typed by the playbook's declarations. Bad input is an
	// *InputError and nothing is sent.
	Plan(ctx context.Context, file string, inputs map[string]string) (*plan.Plan, error)
	// Apply executes exactly p, approved by approver. It refuses a stale
	// plan with a *StaleError before sending anything, calls started with
	// the run's id once its journal exists, and returns when the run ends.
	Apply(ctx context.Context, r ApplyRequest) (status string, err error)
	// Resume continues a failed or interrupted run from its journal.
	Resume(ctx context.Context, r ResumeRequest) (status string, err error)
	// Runs lists the runs in the state directory.
	Runs() ([]RunSummary, error)
	// Run is one run's details: the same data as `frameflow runs show`.
	Run(id string) (*RunDetail, error)
	// Gates is the approval steps run id waits at now, from its journal
	// (whoever runs it: this server or a terminal).
	Gates(id string) ([]Gate, error)
	// Decide records a decision on an approval step of a run, as
	// `frameflow approve` does: written once; a second decision is refused
	// with who made the first.
	Decide(ctx context.Context, r DecideRequest) error
}

// Gate is an approval step waiting for a person's decision.
type Gate struct {
	Step     string    // the step's full id, [item] inside a fan-out
	Message  string    // what the approver is asked
	Since    time.Time // when it started waiting
	Deadline time.Time // when the step gives up unless someone decides
	Approve  string    // the command line equivalent (frameflow approve RUN STEP)
	// Approvers are who may decide (the step's approvers input); empty:
	// anyone who can reach the run.
	Approvers []string
	// Decision is the decision recorded and not yet taken up by the step
	// (it reads it within a second while it runs; a crashed run's resume
	// reads it), nil while nobody decided.
	Decision *Decision
}

// Decision is a recorded decision on an approval step.
type Decision struct {
	Approved bool
	By       string
	At       time.Time
	Comment  string
}

// DecideRequest is one person's decision on one approval step.
type DecideRequest struct {
	RunID   string
	Step    string
	Reject  bool
	Comment string
	By      string // the page's authenticated user
}

// ApplyRequest is one approval of one plan.
type ApplyRequest struct {
	Plan     *plan.Plan
	Inputs   map[string]string // the secret inputs, which plans do not hold
	Approver string
	Events   engine.EventSink
	Started  func(runID string)
}

// ResumeRequest continues a run.
type ResumeRequest struct {
	RunID    string
	Inputs   map[string]string // secret inputs, which journals do not hold
	Approver string
	Events   engine.EventSink
	Started  func(runID string)
}

// Playbook is a playbook file as the page shows it.
type Playbook struct {
	File     string
	Workflow *schema.Workflow // nil when it could not be loaded
	Problems []string         // FILE:LINE:COL: message
}

// InputError is bad input from a form: every problem at once.
type InputError struct{ Problems []string }

func (e *InputError) Error() string {
	return "invalid input, nothing was sent: " + strings.Join(e.Problems, "; ")
}

// StaleError is an apply refused because the estate or the playbook changed
// since the plan was made.
type StaleError struct {
	PlanHash    string
	Differences []string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("plan %s is stale; nothing was sent: %s", e.PlanHash, strings.Join(e.Differences, "; "))
}

// AlreadyAppliedError is an apply of a plan that a run already applied.
type AlreadyAppliedError struct{ PlanHash, RunID string }

func (e *AlreadyAppliedError) Error() string {
	return fmt.Sprintf("plan %s was already applied by run %s; nothing was sent", e.PlanHash, e.RunID)
}

// RunSummary is one line of the history.
type RunSummary struct {
	ID       string
	Workflow string
	File     string
	Mode     string
	PlanHash string
	Approver string
	Started  time.Time
	Finished time.Time
	Status   string
	Attempts int
	Error    string
	// Waiting is where the run waits for approval (or was waiting when it
	// crashed).
	Waiting []Gate
}

// RunDetail is a run's header and its steps as journaled.
type RunDetail struct {
	RunSummary
	Inputs map[string]any // secret ones already "(sensitive)"
	Steps  []StepRecord
	Plan   *plan.Plan // the applied plan, for apply runs
	// SecretInputs must be given again to resume (journals do not hold them).
	SecretInputs []string
	// AttemptList is each process's go at the run: the first, each resume.
	AttemptList []Attempt
	// Rejected are the approval gates people rejected ("gate, by ann").
	// OnlyRejected: they are all that failed, so a resume would stop at
	// them again and none is offered.
	Rejected     []string
	OnlyRejected bool
}

// Attempt is one process's go at a run.
type Attempt struct {
	N        int
	Started  time.Time
	Finished time.Time
	Status   string
	Approver string
	Host     string
	PID      int
}

// StepRecord is one journaled step execution.
type StepRecord struct {
	Step     string
	Item     string
	Status   string
	Error    string
	Attempts int
	Duration time.Duration
}
