package steps_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
)

// The endpoints whose object and list parameters could not be sent before
// reach the strict simulator as the docs' curl examples send them.
func TestObjectAndListParamsReachStrictSimulator(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa := e.accountID("QA")
	servers := e.ok("api.servers.list", map[string]any{"account_id": qa}, runOpts{})["response"].([]any)
	if len(servers) == 0 {
		t.Fatal("no servers in the scenario")
	}
	serverID := fmt.Sprint(servers[0].(map[string]any)["external_id"])

	e.ok("api.servers.stop", map[string]any{"account_id": qa, "server_id": serverID, "account_server_stop": map[string]any{"force": false}}, runOpts{})
	e.ok("api.servers.reboot", map[string]any{"account_id": qa, "id": serverID, "account_server_reboot": map[string]any{"force": true}}, runOpts{})
	e.ok("api.accounts.user_activities.list", map[string]any{"account_id": qa, "from_date": "2026-01-01", "to_date": "2026-01-31",
		"skip_user_idps": []any{"okta-admins", "okta-dev"}}, runOpts{})

	var stop, reboot, activities *sim.RequestRecord
	for _, r := range e.sim.Requests() {
		r := r
		switch {
		case strings.HasSuffix(r.Path, "/stop"):
			stop = &r
		case strings.HasSuffix(r.Path, "/servers/reboot"):
			reboot = &r
		case strings.HasSuffix(r.Path, "/user_activities"):
			activities = &r
		}
	}
	if stop == nil || stop.Status != 200 || stop.Body != `{"account_server_stop":{"force":false}}` || stop.Query != "" {
		t.Errorf("servers.stop sent %+v", stop)
	}
	if reboot == nil || reboot.Status != 200 || reboot.Body != `{"account_server_reboot":{"force":true},"id":"`+serverID+`"}` {
		t.Errorf("servers.reboot sent %+v", reboot)
	}
	q, _ := url.ParseQuery(activities.Query)
	if activities.Status != 200 || strings.Join(q["skip_user_idps[]"], ",") != "okta-admins,okta-dev" {
		t.Errorf("user_activities sent %+v", activities)
	}
}

// api.call's query:/form:/json: place a parameter explicitly; the strict
// simulator answers 400, naming the parameter, when it is not where the docs
// put it.
func TestAPICallOverrides(t *testing.T) {
	e := newEnv(t, sim.Options{})
	qa := e.accountID("QA")
	base := map[string]any{"account_id": qa, "from_date": "2026-01-01", "to_date": "2026-01-31"}

	e.ok("api.call", map[string]any{"endpoint": "accounts.user_activities.list", "params": base,
		"query": map[string]any{"skip_user_idps": []any{"a"}}}, runOpts{})
	last := e.sim.Requests()[len(e.sim.Requests())-1]
	if q, _ := url.ParseQuery(last.Query); last.Status != 200 || q.Get("skip_user_idps[]") != "a" {
		t.Errorf("query override sent %+v", last)
	}

	// resolution_type travels as a header (curl -H); forcing it into the
	// query reaches the simulator, which refuses it and says where it goes.
	_, _, err := e.run("api.call", map[string]any{"endpoint": "accounts.usage.get", "params": base,
		"query": map[string]any{"resolution_type": "by_day"}}, runOpts{})
	var apiErr *frame.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, `"resolution_type" belongs in the request headers`) {
		t.Fatalf("misplaced override: %v", err)
	}
	e.ok("api.call", map[string]any{"endpoint": "accounts.usage.get", "params": map[string]any{
		"account_id": qa, "from_date": "2026-01-01", "to_date": "2026-01-31", "resolution_type": "by_day"}}, runOpts{})
	if last := e.sim.Requests()[len(e.sim.Requests())-1]; last.Status != 200 || strings.Contains(last.Query, "resolution_type") {
		t.Errorf("usage sent %+v", last)
	}

	// Refused locally: a name both in params and an override, two bodies.
	before := len(e.sim.Requests())
	for _, in := range []map[string]any{
		{"endpoint": "accounts.usage.get", "params": base, "query": map[string]any{"from_date": "x"}},
		{"endpoint": "accounts.maintenance_mode.set", "params": map[string]any{"account_id": qa, "under_maintenance": true}, "form": map[string]any{"x": 1}},
		{"endpoint": "accounts.get", "params": map[string]any{"account_id": qa}, "form": map[string]any{"a": 1}, "json": map[string]any{"b": 1}},
	} {
		if _, _, err := e.run("api.call", in, runOpts{}); err == nil {
			t.Errorf("%v: accepted", in)
		}
	}
	if n := len(e.sim.Requests()) - before; n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
}

// The api.call step reaches the v1alpha API under its own base URL.
func TestAPICallV1Alpha(t *testing.T) {
	e := newEnv(t, sim.Options{})
	out := e.ok("api.call", map[string]any{"endpoint": "accounts.list", "api": "v1alpha"}, runOpts{})
	list := out["response"].([]any)
	if len(list) == 0 || list[0].(map[string]any)["account_id"] == nil {
		t.Fatalf("v1alpha accounts = %v", out["response"])
	}
	id := str(list[0].(map[string]any)["account_id"])
	out = e.ok("api.call", map[string]any{"endpoint": "accounts.usage.get", "api": "v1alpha",
		"params": map[string]any{"account_id": id, "date_from": "2026-01-01", "date_to": "2026-01-02"}}, runOpts{})
	if _, ok := out["response"].([]any); !ok {
		t.Errorf("v1alpha usage = %v", out["response"])
	}
	out = e.ok("api.call", map[string]any{"endpoint": "accounts.recent_sessions.list", "api": "v1alpha", "params": map[string]any{"account_id": id}}, runOpts{})
	if s, _ := out["response"].(string); !strings.HasPrefix(s, `"username"`) {
		t.Errorf("v1alpha recent_sessions (CSV) = %q", out["response"])
	}
	var paths []string
	for _, r := range e.sim.Requests() {
		paths = append(paths, r.Path)
	}
	if want := "/v1alpha/accounts/" + id + "/usage"; !strings.Contains(strings.Join(paths, " "), want) {
		t.Errorf("requests %v, want one to %s", paths, want)
	}
	// A v1 name that v1alpha does not have is refused before sending.
	if _, _, err := e.run("api.call", map[string]any{"endpoint": "sandbox.status", "api": "v1alpha", "params": map[string]any{"account_id": id}}, runOpts{}); err == nil || !strings.Contains(err.Error(), "unknown v1alpha endpoint") {
		t.Errorf("v1 name under v1alpha: %v", err)
	}
}

// A publish found by reconciliation is followed through the documented
// status call, addressed by the list entry's integer request_id (not its
// gateway-... id, not a task UUID).
func TestPublishReconcileWaitsByRequestID(t *testing.T) {
	e := newEnv(t, sim.Options{TaskDuration: 400 * time.Millisecond})
	store := e.accountID("Store-001")
	crash := &crashRecorder{send: true}
	if _, _, err := e.run("sandbox.publish", map[string]any{"account_id": store}, runOpts{recorder: crash}); !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	resume := &crashRecorder{restore: crash.witness}
	out := e.ok("sandbox.publish", map[string]any{"account_id": store, "wait": true}, runOpts{recorder: resume})
	task := out["task"].(map[string]any)
	if !resume.found || task["stage"] != frame.StageDone {
		t.Fatalf("reconciled task = %v (found %v)", task, resume.found)
	}
	var list []frame.PublishStatus
	var err error
	if list, err = e.client.PublishTasks(context.Background(), store); err != nil || len(list) != 1 {
		t.Fatalf("publish tasks %v %v", list, err)
	}
	if !strings.HasPrefix(list[0].PublishID(), "gateway-prod.") || task["publish_id"] != list[0].StatusID() || list[0].StatusID() == list[0].PublishID() {
		t.Fatalf("publish_id %v, list entry id %s request_id %s", task["publish_id"], list[0].PublishID(), list[0].StatusID())
	}
	statusGETs := 0
	for _, r := range e.sim.Requests() {
		if r.Method == "GET" && r.Path == "/v1/accounts/"+store+"/publish/"+list[0].StatusID() {
			if r.Status != 200 {
				t.Errorf("status call answered %d", r.Status)
			}
			statusGETs++
		}
	}
	if statusGETs == 0 {
		t.Error("the wait never read the publish status by request_id")
	}
}
