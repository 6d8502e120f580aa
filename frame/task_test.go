package frame_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// The files are the docs' response examples, copied verbatim.
func TestExtractTaskDocumentedShapes(t *testing.T) {
	cases := map[string]struct{ id, stage, kind string }{
		"sandbox_start_bare.json":                     {"291f6621-431d-425b-9edc-15a9b7aa335b", "not_started", "power_on"},
		"pool_elasticity_set_bare.json":               {"0bf720c4-7729-48aa-95a8-470211aea40f", "not_started", "update_pool_elasticity_settings"},
		"task_status_done.json":                       {"57643caa-1700-4938-b6cc-94b8dd5fa7df", "done", "publish_sandbox_to_production"},
		"domain_join_pending_request.json":            {"c454d6da-fa30-4dc4-a533-6af2286d1754", "not_started", "disable_enterprise_profiles"},
		"publish_account_pending_request.json":        {"c454d6da-fa30-4dc4-a533-6af2286d1754", "not_started", "publish_sandbox_to_production"},
		"clone_account_pending_request.json":          {"e7e44ecb-5e8c-342d-8c23-b190b1004e31", "not_started", "clone_pool"},
		"account_create_account_pending_request.json": {"96c8d6c1-8008-562b-81d7-d40073a88b11", "not_started", "create_account"},
	}
	for file, want := range cases {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "api", "tasks", file))
		if err != nil {
			t.Fatal(err)
		}
		task, err := frame.ExtractTask(data)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if task.ID != want.id || task.Stage != want.stage || task.Kind != want.kind {
			t.Errorf("%s: got %s/%s/%s", file, task.ID, task.Stage, task.Kind)
		}
		if task.AccountID == "" || task.DisplayName == "" {
			t.Errorf("%s: fields missing: %+v", file, task)
		}
	}
	done, _ := os.ReadFile("../testdata/api/tasks/task_status_done.json")
	task, _ := frame.ExtractTask(done)
	if !task.Finished() || task.DurationSec == nil || *task.DurationSec != 1530 || task.FinishedAt == nil {
		t.Errorf("done task: %+v", task)
	}
}

func TestExtractTaskTolerantAndStrict(t *testing.T) {
	task, err := frame.ExtractTask([]byte(`{"task":{"id":"t9","stage":"in_progress"}}`))
	if err != nil || task.ID != "t9" {
		t.Errorf("nested under task: %v %v", task, err)
	}
	task, err = frame.ExtractTask([]byte(`{"account":{"id":"acc"},"pending_request":{"id":"t1","stage":"failed","result_info":{"error":"disk"}}}`))
	if err != nil || task.ID != "t1" || task.Stage != frame.StageFailed {
		t.Errorf("%v %v", task, err)
	}
	for _, body := range []string{
		``, `null`, `[]`, `"t1"`, `{}`, `{`,
		`{"id":"acc-1","name":"Store-1","active":true}`, // an account is not a task
		`{"pending_request":{"stage":"done"}}`,          // no id
		`{"pending_request":{"id":""}}`,
		`{"pending_request":"t1"}`,
		`{"id":"","stage":"done"}`,
		`{"id":7,"stage":"done"}`,
	} {
		if task, err := frame.ExtractTask([]byte(body)); err == nil {
			t.Errorf("ExtractTask(%q) = %+v, want an error", body, task)
		}
	}
}

func TestExtractPublishStatus(t *testing.T) {
	data, _ := os.ReadFile("../testdata/api/tasks/publish_status_in_progress.json")
	ps, err := frame.ExtractPublishStatus(data)
	if err != nil || ps.Status != "in_progress" || !strings.Contains(string(ps.ID), "793db0f3") {
		t.Fatalf("%+v %v", ps, err)
	}
	for _, body := range []string{``, `{}`, `[]`, `{"id":"x"}`} {
		if _, err := frame.ExtractPublishStatus([]byte(body)); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
}

func FuzzExtractTask(f *testing.F) {
	files, _ := filepath.Glob("../testdata/api/tasks/*.json")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"pending_request":{"id":"x"}}`))
	f.Add([]byte(`{"task":null,"stage":"done","id":"y"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := frame.ExtractTask(body)
		if err == nil && (task == nil || task.ID == "") {
			t.Fatalf("accepted a task without id: %q", body)
		}
		if err != nil && task != nil {
			t.Fatalf("task and error both returned")
		}
	})
}

// The publish task list's documented shape: a gateway-... string id and a
// separate integer request_id, which is what the status call is addressed by.
func TestPublishStatusIDsAsDocumented(t *testing.T) {
	ep, _ := frame.LookupEndpoint("publish.tasks")
	var list []frame.PublishStatus
	if err := json.Unmarshal(ep.Example, &list); err != nil || len(list) == 0 {
		t.Fatalf("documented example: %v", err)
	}
	if got := list[0].PublishID(); got != "gateway-prod.57186" {
		t.Errorf("PublishID = %q", got)
	}
	if got := list[0].StatusID(); got != "1853969" {
		t.Errorf("StatusID = %q, want the request_id", got)
	}
	noReq := frame.PublishStatus{ID: json.RawMessage(`"793db0f3"`)}
	if noReq.StatusID() != "793db0f3" || noReq.PublishID() != "793db0f3" {
		t.Errorf("without request_id: %q %q", noReq.StatusID(), noReq.PublishID())
	}
}
