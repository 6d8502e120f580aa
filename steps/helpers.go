package steps

// Helpers shared by the step types: reading inputs that may be known only
// after apply, paths, the read-step preamble, tasks, resources and waits.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

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
	if m, ok := t.JSONObject(); ok {
		return m, nil
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
	if t, ok := taskFromMap(m); ok {
		return t, true, nil
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

// knownID returns a required ID input: its string, or engine.Unknown in
// plan modes.
func knownID(a args, name string) (any, error) {
	if a.unknown(name) {
		return engine.Unknown, nil
	}
	return a.id(name)
}

func orUnknown(v any) any {
	if v == nil {
		return engine.Unknown
	}
	return v
}

func poolResources(pool, account any) []string {
	var out []string
	if p, ok := pool.(string); ok {
		out = append(out, "pool:"+p)
	}
	if a, ok := account.(string); ok {
		out = append(out, "account:"+a)
	}
	return out
}

// readStep is the Run of a read step whose parameters P name what it
// reads (target): the inputs are decoded into P, then read is called with
// the client and the target's ID; when the read is not made (offline
// plans, or an ID known only after apply) every output is Unknown. A run
// without a client is an error.
func readStep[P any](s *stepsImpl, name string, outputs map[string]*engine.Shape, target func(*P) any,
	read func(ctx context.Context, c *frame.Client, id string, p *P) (map[string]any, error)) func(context.Context, *engine.StepContext, map[string]any) (map[string]any, error) {
	return func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
		var p P
		if err := decodeParams(in, "", &p); err != nil {
			return nil, invalid(name, err)
		}
		c, err := s.reader(sc)
		if err != nil {
			return nil, err
		}
		id, known := target(&p).(string)
		if c == nil || !known {
			out := make(map[string]any, len(outputs))
			for k := range outputs {
				out[k] = engine.Unknown
			}
			return out, nil
		}
		return read(ctx, c, id, &p)
	}
}
