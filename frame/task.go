package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
		return nil, errors.New("task has no id")
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
