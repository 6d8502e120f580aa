package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// Deps is what the step types need from the run.
type Deps struct {
	// Client talks to the Frame Admin API; nil in offline mode. In plan
	// mode it should be read-only (the steps only read through it there).
	Client *frame.Client
	// Poller is shared by every wait of a run so that it learns how long
	// each kind of task takes; nil: a Poller with the default PollConfig.
	Poller *Poller
	// Findings are what `frameflow doctor` confirmed about this estate
	// (nil: nothing). Only with them does the absence of an audit entry
	// prove that a clone was not sent.
	Findings *frame.Findings
}

// Register registers every step type into reg.
func Register(reg *engine.Registry, d Deps) error {
	for _, t := range Types(d) {
		if err := reg.Register(t); err != nil {
			return fmt.Errorf("steps: %s: %w", t.Name, err)
		}
	}
	return nil
}

// Types returns every step type, hand-written ones first, then one api.*
// type per catalog endpoint. It is the one list of step types.
func Types(d Deps) []*engine.StepType {
	s := newSteps(d)
	list := []*engine.StepType{
		s.accountsList(),
		s.accountsGet(),
		s.poolsList(),
		s.sandboxClone(),
		s.sandboxPublish(),
		s.taskWait(),
		s.elasticitySet(),
		s.persistentDesktopCapacitySet(),
		s.sandboxStart(),
		s.sandboxStop(),
		s.apiCall(),
	}
	return append(list, s.catalogTypes()...)
}

// stepsImpl carries the dependencies shared by the step types of one run.
type stepsImpl struct {
	client   *frame.Client
	poller   *Poller
	findings *frame.Findings

	// sourcePools caches the sandbox pool of source accounts: a clone
	// fanned out over many targets reads its source once, not once per
	// target. Sandbox pool ids do not change during a run.
	mu          sync.Mutex
	sourcePools map[string]*sourcePoolEntry
	// poolNames caches, per account, its pools' names (id → name), read
	// once for plans to name a clone's source pool.
	poolNames map[string]*poolNamesEntry
}

type poolNamesEntry struct {
	done  chan struct{}
	names map[string]string
}

type sourcePoolEntry struct {
	done chan struct{}
	pool string
	err  error
}

func newSteps(d Deps) *stepsImpl {
	p := d.Poller
	if p == nil {
		p = NewPoller(PollConfig{})
	}
	return &stepsImpl{client: d.Client, poller: p, findings: d.Findings, sourcePools: map[string]*sourcePoolEntry{}, poolNames: map[string]*poolNamesEntry{}}
}

// reader returns the client to read with, or nil when reads are not made
// (offline mode): the caller then puts Unknown where a read would go. A run
// without a client is an error, not a silent dry run.
func (s *stepsImpl) reader(sc *engine.StepContext) (*frame.Client, error) {
	if sc.Mode() == engine.ModeOffline {
		return nil, nil
	}
	if s.client == nil {
		if sc.Mode() == engine.ModePlan {
			return nil, nil
		}
		return nil, errors.New("no Frame API client configured")
	}
	return s.client, nil
}

// resolvePath fills a path template. Unknown parameters (plan modes) are
// shown as "(known after apply)"; known ones are validated and escaped by
// frame.PathFor, so a bad ID is refused before anything is sent.
func resolvePath(template string, params map[string]any) (string, error) {
	known := map[string]string{}
	unknown := []string{}
	for k, v := range params {
		if engine.IsUnknown(v) {
			unknown = append(unknown, k)
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("path parameter %s: want a string, got %s", k, describe(v))
		}
		known[k] = s
	}
	if len(unknown) == 0 {
		return frame.PathFor(template, known)
	}
	// Validate the known parts, then show the unknown ones as such.
	for _, k := range unknown {
		known[k] = "UNKNOWN-" + k
	}
	p, err := frame.PathFor(template, known)
	if err != nil {
		return "", err
	}
	for _, k := range unknown {
		p = strings.ReplaceAll(p, "UNKNOWN-"+k, fmt.Sprint(engine.Unknown))
	}
	return p, nil
}

// taskOutput is the JSON form of a task, as steps output it.
func taskOutput(t *frame.Task) (any, error) {
	if t == nil {
		return nil, nil
	}
	return engine.RoundTrip(t)
}

// taskFrom reads a task from a step output or an input object. ok is false
// when v is Unknown or its id is (plan modes).
func taskFrom(v any) (t *frame.Task, ok bool, err error) {
	if v == nil {
		return nil, false, errors.New("no task")
	}
	if engine.IsUnknown(v) {
		return nil, false, nil
	}
	if ft, isTask := v.(*frame.Task); isTask {
		return ft, true, nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, false, fmt.Errorf("want a task object, got %s", describe(v))
	}
	for _, k := range []string{"id", "stage", "account_id"} {
		if engine.IsUnknown(m[k]) {
			return nil, false, nil
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false, err
	}
	var out frame.Task
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, false, fmt.Errorf("not a task object: %v", err)
	}
	return &out, true, nil
}

// taskPlaceholder is what a mutation returning a task yields in plan modes:
// what is known from the inputs, Unknown for what only the server knows.
func taskPlaceholder(accountID any, kind, displayName string) map[string]any {
	return map[string]any{
		"id":           engine.Unknown,
		"account_id":   accountID,
		"kind":         kind,
		"display_name": displayName,
		"stage":        engine.Unknown,
	}
}

// extractTask turns a mutation's raw JSON result into a task.
func extractTask(v any) (*frame.Task, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return frame.ExtractTask(b)
}

// accountResources is the resource list of a step touching an account.
func accountResources(names ...string) func(in map[string]any) []string {
	return func(in map[string]any) []string {
		var out []string
		for _, n := range names {
			if s, ok := in[n].(string); ok && s != "" {
				out = append(out, "account:"+s)
			}
		}
		sort.Strings(out)
		return out
	}
}

// waitInputs are the inputs shared by steps with an optional `wait`.
func waitInput(what string) engine.InputSpec {
	return engine.InputSpec{Name: "wait", Type: "boolean", Default: false,
		Description: "Wait until the " + what + " task is done (polling GET /accounts/:account_id/task/:task_id); a failed task fails the step."}
}

// maybeWait waits for the task in res when wait is set; res is a
// mutation's result (a task map, or Unknown in plan modes).
func (s *stepsImpl) maybeWait(ctx context.Context, sc *engine.StepContext, wait bool, res any, w waitSpec) (any, error) {
	if !wait || res == nil || engine.DecidedByOperator(res) {
		// An operator's mark is the proof: there is no task to wait on.
		return res, nil
	}
	return s.wait(ctx, sc, res, w)
}
