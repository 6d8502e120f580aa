package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ExtractTask finds the task in a response body, in any documented shape: a
// bare task (sandbox start, pool elasticity, task status);
// {"pending_request": task} (domain join settings);
// {"account": ..., "pending_request": task} (clone, publish, account
// creation); and, tolerantly, {"task": task}. A body without a task id is an
// error.
func ExtractTask(body []byte) (*Task, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("no task in response: empty body")
	}
	// One pass for the shapes Frame sends: every poll and every mutation
	// answer comes through here, and decoding the body into a generic map
	// first and then again into a Task was most of this function's cost.
	// Anything unusual (a type error, a non-string stage, not an object)
	// takes the general path below, which owns the error messages.
	if t, err, ok := fastExtractTask(body); ok {
		return t, err
	}
	if string(body) != "null" {
		var env taskEnvelope
		if json.Unmarshal(body, &env) == nil {
			if t, err, ok := env.task(body); ok {
				return t, err
			}
		}
	}
	return extractTaskGeneral(body)
}

// taskEnvelope reads a response as either a bare task (the embedded Task;
// Stage shadows Task.Stage so that its presence is known) or a wrapper,
// whose task is decoded in the same pass (a clone's or a publish's answer:
// decoding it again from raw bytes was a third of this function's cost).
type taskEnvelope struct {
	Task
	PendingRequest *Task           `json:"pending_request"`
	Nested         *Task           `json:"task"`
	Stage          json.RawMessage `json:"stage"`
}

// task applies ExtractTask's rules to the decoded envelope; ok is false
// when the general path must decide.
func (e *taskEnvelope) task(body []byte) (*Task, error, bool) {
	for _, w := range []struct {
		key string
		t   *Task
	}{{"pending_request", e.PendingRequest}, {"task", e.Nested}} {
		if w.t == nil {
			continue // absent or null
		}
		// Exactly once: a repeated key's objects were merged into one
		// Task here, where the general path takes the last alone.
		if n, ok := keyCount(body, w.key); !ok || n != 1 {
			return nil, nil, false
		}
		if w.t.ID == "" {
			return nil, fmt.Errorf("%s: %w", w.key, errNoTaskID), true
		}
		return w.t, nil, true
	}
	if e.Stage == nil || !hasKey(body, "stage") {
		return nil, nil, false
	}
	t := e.Task
	if n := len(e.Stage); n >= 2 && e.Stage[0] == '"' && e.Stage[n-1] == '"' && bytes.IndexByte(e.Stage, '\\') < 0 {
		// A plain string (the body is ASCII, checked by hasKey, and valid
		// JSON): its text is its value.
		t.Stage = string(e.Stage[1 : n-1])
	} else if json.Unmarshal(e.Stage, &t.Stage) != nil {
		return nil, nil, false
	}
	if t.ID == "" {
		return nil, errNoTaskID, true
	}
	return &t, nil, true
}

var errNoTaskID = errors.New("task has no id")

// hasKey reports whether body spells key exactly and in no other way.
// encoding/json matches struct fields regardless of case (Unicode folding
// included), the general path does not: with a differently spelt key, or
// any non-ASCII byte, the general path decides.
func hasKey(body []byte, key string) bool {
	n, ok := keyCount(body, key)
	return ok && n > 0
}

// keyCount counts the places body spells "key" (as a key or as a string
// anywhere, nested or not); ok is false when body also spells it in
// another case or holds a non-ASCII byte.
func keyCount(body []byte, key string) (n int, ok bool) {
	q := `"` + key + `"`
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c >= 0x80 {
			return 0, false
		}
		if c != '"' || len(body)-i < len(q) || !strings.EqualFold(string(body[i:i+len(q)]), q) {
			continue
		}
		if string(body[i:i+len(q)]) != q {
			return 0, false
		}
		n++
	}
	return n, true
}

// extractTaskGeneral is ExtractTask over a generic map of the top level.
func extractTaskGeneral(body []byte) (*Task, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("no task in response: %v", jsonErrShort(err))
	}
	if top == nil {
		return nil, errors.New("no task in response: null")
	}
	for _, key := range []string{"pending_request", "task"} {
		raw, ok := top[key]
		if !ok || isJSONNull(raw) {
			continue
		}
		t, err := decodeTask(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return t, nil
	}
	// A bare task. "stage" tells it from other objects with an id (an
	// account, a pool) so a wrong endpoint does not pass for a task.
	if _, ok := top["stage"]; !ok {
		return nil, errors.New("no task in response: no pending_request, task or stage field")
	}
	return decodeTask(body)
}

func decodeTask(raw json.RawMessage) (*Task, error) {
	var t Task
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("not a task: %v", jsonErrShort(err))
	}
	if t.ID == "" {
		return nil, errNoTaskID
	}
	return &t, nil
}

// ExtractPublishStatus decodes GET /accounts/:id/publish/:task_id
// ({"status": "in_progress"|"completed", "id": ...}).
func ExtractPublishStatus(body []byte) (*PublishStatus, error) {
	var ps PublishStatus
	if err := json.Unmarshal(bytes.TrimSpace(body), &ps); err != nil {
		return nil, fmt.Errorf("not a publish status: %v", jsonErrShort(err))
	}
	if ps.Status == "" {
		return nil, errors.New("publish status has no status field")
	}
	return &ps, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// jsonErrShort keeps decoding errors short: they may otherwise quote large
// parts of a body.
func jsonErrShort(err error) string { return shorten(err.Error(), 120) }
