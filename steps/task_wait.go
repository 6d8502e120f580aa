package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

type taskWaitParams struct {
	Task            any           `param:"task,object" doc:"A task object from another step's outputs (e.g. steps.clone.outputs.task); it carries account_id and id."`
	AccountID       any           `param:"account_id,id" doc:"Frame account ID the task runs in (with task_id, instead of task)."`
	TaskID          any           `param:"task_id,id" doc:"Frame task ID (with account_id, instead of task)."`
	InitialInterval time.Duration `param:"initial_interval" doc:"First poll delay, e.g. 2s (default: the workflow's polling settings, else 1s)."`
	MaxInterval     time.Duration `param:"max_interval" doc:"Longest interval between polls, e.g. 30s (default: the workflow's polling settings, else 5m)."`
	Timeout         time.Duration `param:"timeout" doc:"Give up after this long, e.g. 45m (default: the workflow's polling settings, else 1h)."`
}

func (s *stepsImpl) taskWait() *engine.StepType {
	const name = "task.wait"
	return &engine.StepType{
		Name:        name,
		Description: "Waits until a Frame task is done (polling GET /accounts/:account_id/task/:task_id); a failed task fails the step.",
		Inputs:      inputsOf[taskWaitParams](""),
		AnyOf:       [][]string{{"task"}, {"account_id", "task_id"}},
		Outputs:     map[string]*engine.Shape{"task": taskShape()},
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p taskWaitParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			if _, given := in["task"]; given && p.Task == nil && p.TaskID == nil {
				// The step that would have made the task sent nothing
				// (elasticity.set found the pool as desired): nothing to wait for.
				sc.SetUnchanged()
				return map[string]any{"task": nil}, nil
			}
			task, err := p.task()
			if err != nil {
				return nil, invalid(name, err)
			}
			if task == nil {
				return map[string]any{"task": engine.Unknown}, nil
			}
			if _, _, err := taskFrom(task); err != nil {
				return nil, invalid(name, fmt.Errorf("input task: %v", err))
			}
			w := waitSpec{policy: engine.PollingPolicy{InitialInterval: p.InitialInterval, MaxInterval: p.MaxInterval, Timeout: p.Timeout}}
			out, err := s.wait(ctx, sc, task, w)
			if err != nil {
				return nil, err
			}
			return map[string]any{"task": out}, nil
		},
	}
}

// task is the task to wait for: the object given (with account_id filled
// in when given apart), or one made of account_id and task_id; nil when
// those are known only after apply.
func (p taskWaitParams) task() (any, error) {
	switch {
	case p.Task != nil:
		if m, ok := p.Task.(map[string]any); ok && p.AccountID != nil && m["account_id"] == nil {
			m = cloneMap(m)
			m["account_id"] = p.AccountID
			return m, nil
		}
		return p.Task, nil
	case engine.IsUnknown(p.AccountID) || engine.IsUnknown(p.TaskID):
		return nil, nil
	case p.AccountID == nil:
		return nil, errors.New("input account_id is required (or give task)")
	case p.TaskID == nil:
		return nil, errors.New("input task_id is required (or give task)")
	}
	return map[string]any{"id": p.TaskID, "account_id": p.AccountID}, nil
}

// waitSpec is a wait's polling overrides (task.wait's inputs).
type waitSpec struct {
	policy  engine.PollingPolicy
	started time.Time
}

// wait polls the task in v (a task object) until it is done and returns
// its final form. Unknown tasks (plan modes) come back as they are, at
// once; offline nothing is read. In plan mode a known task is read once,
// not waited on: a plan must not block on the real estate's tasks.
func (s *stepsImpl) wait(ctx context.Context, sc *engine.StepContext, v any, w waitSpec) (any, error) {
	t, ok, err := taskFrom(v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return v, nil
	}
	publishID := ""
	if m, isMap := v.(map[string]any); isMap {
		publishID, _ = m["publish_id"].(string)
	}
	if taskFinished(t) && (t.ID != "" || publishID != "") {
		return finalTask(v, t)
	}
	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return v, nil
	}
	get, err := taskGetter(c, t, publishID)
	if err != nil {
		return nil, err
	}
	if get == nil {
		return finalTask(v, t)
	}
	pol := w.over(sc.Polling())
	if sc.Mode() != engine.ModeRun {
		got, err := get(ctx)
		if err != nil {
			return nil, err
		}
		return finalTask(nil, got)
	}
	final, err := s.poller.Wait(ctx, WaitOptions{
		Kind:     t.Kind,
		Policy:   pol,
		Started:  w.started,
		Get:      get,
		Sleep:    sc.Sleep,
		Progress: sc.Progress,
	})
	if err != nil {
		return nil, err
	}
	if publishID != "" {
		final.AccountID = t.AccountID
		out, err := taskOutput(final)
		if err != nil {
			return nil, err
		}
		m := out.(map[string]any)
		m["publish_id"] = publishID
		return m, nil
	}
	return taskOutput(final)
}

// taskGetter returns how to read task t again: by its id, or, for a
// publish found by reconciliation, by its publish id. nil, nil: t is
// finished and there is nothing to read.
func taskGetter(c *frame.Client, t *frame.Task, publishID string) (func(ctx context.Context) (*frame.Task, error), error) {
	switch {
	case t.ID != "" && t.AccountID != "":
		acc, id := t.AccountID, t.ID
		if _, err := frame.PathFor("/accounts/{account_id}/task/{task_id}", map[string]string{"account_id": acc, "task_id": id}); err != nil {
			return nil, err
		}
		return func(ctx context.Context) (*frame.Task, error) { return c.GetTask(ctx, acc, id) }, nil
	case publishID != "" && t.AccountID != "":
		// A publish found by reconciliation: only its publish id is known.
		acc := t.AccountID
		return func(ctx context.Context) (*frame.Task, error) { return publishStatusTask(ctx, c, acc, publishID) }, nil
	case taskFinished(t):
		return nil, nil
	}
	return nil, fmt.Errorf("cannot wait for a task without account_id and id")
}

// over returns pol with the wait's own settings in place of its defaults.
func (w waitSpec) over(pol engine.PollingPolicy) engine.PollingPolicy {
	if w.policy.InitialInterval > 0 {
		pol.InitialInterval = w.policy.InitialInterval
	}
	if w.policy.MaxInterval > 0 {
		pol.MaxInterval = w.policy.MaxInterval
	}
	if w.policy.Timeout > 0 {
		pol.Timeout = w.policy.Timeout
	}
	return pol
}

// taskFinished reports whether t reached a final stage, in any spelling
// (see StageIsDone, StageIsFailed).
func taskFinished(t *frame.Task) bool { return StageIsDone(t.Stage) || StageIsFailed(t.Stage) }

// finalTask returns a finished task as output, failing on a failure stage.
func finalTask(v any, t *frame.Task) (any, error) {
	if StageIsFailed(t.Stage) {
		return nil, &frame.TaskFailedError{Task: t}
	}
	if v != nil {
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	}
	return taskOutput(t)
}

// publishStatusTask reads GET /accounts/:id/publish/:task_id as a task.
func publishStatusTask(ctx context.Context, c *frame.Client, accountID, publishID string) (*frame.Task, error) {
	ps, err := c.PublishStatus(ctx, accountID, publishID)
	if err != nil {
		return nil, err
	}
	return publishTask(accountID, *ps), nil
}

// publishTask maps a publish status onto the task stages.
func publishTask(accountID string, ps frame.PublishStatus) *frame.Task {
	stage := ps.Status
	switch strings.ToLower(ps.Status) {
	case "completed", "done", "succeeded":
		stage = frame.StageDone
	case "failed", "error", "cancelled", "canceled":
		stage = frame.StageFailed
	case "in_progress", "started", "running", "":
		stage = frame.StageInProgress
	}
	return &frame.Task{
		AccountID:   accountID,
		Kind:        publishKind,
		DisplayName: "Publishing Sandbox to Production",
		Stage:       stage,
		ResultInfo:  json.RawMessage(nil),
	}
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
