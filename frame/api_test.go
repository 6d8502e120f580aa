package frame_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

func TestCallRefusesBadParamsAndSendsNothing(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, taskJSON) })
	c := newClient(t, srv.URL())
	cases := []struct {
		name   string
		params map[string]any
		param  string
	}{
		{"sandbox.clone", map[string]any{"source_pool_id": "p"}, "target_account_id"},
		{"sandbox.clone", map[string]any{"target_account_id": "a", "source_pool_id": "p", "join_domian": true}, "join_domian"},
		{"sandbox.clone", map[string]any{"target_account_id": "a", "source_pool_id": "p", "join_domain": "maybe"}, "join_domain"},
		{"sandbox.clone", map[string]any{"target_account_id": "a/../b", "source_pool_id": "p"}, "target_account_id"},
		{"sandbox.clone", map[string]any{"target_account_id": nil, "source_pool_id": "p"}, "target_account_id"},
		{"pools.elasticity.set", map[string]any{"pool_id": "p"}, "max_servers"},
		{"pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": 2.5}, "max_servers"},
		{"pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": "five"}, "max_servers"},
		{"pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": true}, "max_servers"},
		{"pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": []any{1}}, "max_servers"},
		{"pools.elasticity.set", map[string]any{"pool_id": map[string]any{}, "max_servers": 1}, "pool_id"},
		{"no.such.endpoint", nil, ""},
	}
	for _, cs := range cases {
		_, err := c.Call(context.Background(), cs.name, cs.params)
		noteErr(err)
		var ie *frame.InvalidRequestError
		if !errors.As(err, &ie) {
			t.Errorf("%s %v: err = %v, want InvalidRequestError", cs.name, cs.params, err)
			continue
		}
		if ie.Param != cs.param || (cs.param != "" && !strings.Contains(err.Error(), cs.param)) {
			t.Errorf("%s %v: error %q should name %q", cs.name, cs.params, err, cs.param)
		}
		if !strings.Contains(err.Error(), "nothing was sent") {
			t.Errorf("error should say nothing was sent: %v", err)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestCallEncodesPerCatalog(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/clone"):
			writeJSON(w, 200, `{"account":{"id":"a"},"pending_request":`+taskJSON+`}`)
		case r.URL.Path == "/v1/accounts":
			writeJSON(w, 200, `[{"id":"a","name":"Store-1","active":true,"request_id":1853969,"ratio":0.5}]`)
		default:
			writeJSON(w, 200, taskJSON)
		}
	})
	c := newClient(t, srv.URL())
	ctx := context.Background()

	// YAML and JSON give numbers as int or float64; the CLI gives strings.
	for _, v := range []any{5, int64(5), 5.0, "5", uint8(5)} {
		if _, err := c.Call(ctx, "pools.elasticity.set", map[string]any{"pool_id": "pool 1"[:4] + "-1", "max_servers": v, "min_servers": 1}); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		last := srv.Requests()[len(srv.Requests())-1]
		if last.Method != "POST" || last.Path != "/pools/pool-1/elasticity_settings" || last.Body != "max_servers=5&min_servers=1" || last.ContentType != "application/x-www-form-urlencoded" {
			t.Errorf("%T: sent %+v", v, last)
		}
	}

	got, err := c.Call(ctx, "sandbox.clone", map[string]any{"target_account_id": "Köln", "source_pool_id": "p1", "join_domain": false})
	if err != nil {
		t.Fatal(err)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	// The curl example sends join_domain as form data (-F), not in the query.
	if last.Path != "/accounts/K%C3%B6ln/pools/p1/clone" || last.Query != "" || last.Body != "join_domain=false" || last.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("clone sent %+v", last)
	}
	if m, ok := got.(map[string]any); !ok || m["pending_request"].(map[string]any)["id"] != "t-1" {
		t.Errorf("decoded %#v", got)
	}

	got, err = c.Call(ctx, "accounts.list", map[string]any{"name": "Store"})
	if err != nil {
		t.Fatal(err)
	}
	last = srv.Requests()[len(srv.Requests())-1]
	if last.Method != "GET" || last.Query != "name=Store" {
		t.Errorf("list sent %+v", last)
	}
	item := got.([]any)[0].(map[string]any)
	if item["request_id"] != 1853969 || item["ratio"] != 0.5 || item["active"] != true {
		t.Errorf("numbers: %#v", item)
	}
}

func TestBuildRequest(t *testing.T) {
	req, err := frame.BuildRequest("persistent_desktop.capacity.set", map[string]any{"account_id": "a", "max_users": 20, "keep_instances_running_for_new_users": "false"})
	if err != nil {
		t.Fatal(err)
	}
	want := &frame.Request{Method: "POST", Path: "/accounts/a/persistent_desktop_elasticity_settings", Form: url.Values{"max_users": {"20"}, "keep_instances_running_for_new_users": {"false"}}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("got %+v", req)
	}
	ct, body, err := req.Body()
	if err != nil || ct != "application/x-www-form-urlencoded" || string(body) != "keep_instances_running_for_new_users=false&max_users=20" {
		t.Errorf("%s %s %v", ct, body, err)
	}
	// Endpoints with JSON parameters get an object body (if the catalog
	// has one, look it up; the seed may not).
	for _, ep := range frame.Catalog() {
		var jp *frame.Param
		for i := range ep.Params {
			if ep.Params[i].In == frame.InJSON {
				jp = &ep.Params[i]
				break
			}
		}
		if jp == nil {
			continue
		}
		params := map[string]any{}
		for _, p := range ep.Params {
			if !p.Required {
				continue
			}
			switch p.Type {
			case "integer", "number":
				params[p.Name] = 1
			case "boolean":
				params[p.Name] = true
			case "object":
				params[p.Name] = map[string]any{"enabled": true}
			case "array":
				params[p.Name] = []any{"x"}
			default:
				params[p.Name] = "x1"
			}
		}
		req, err := frame.BuildRequest(ep.Name, params)
		if err != nil {
			t.Errorf("%s: %v", ep.Name, err)
			continue
		}
		if _, ok := req.JSON.(map[string]any); !ok || req.Form != nil {
			t.Errorf("%s: want a JSON object body, got %+v", ep.Name, req)
		}
		break
	}
}

func TestTypedHelpers(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		p := strings.TrimPrefix(r.URL.Path, "/v1")
		switch {
		case r.Method == "GET" && p == "/accounts":
			writeJSON(w, 200, `[{"id":"a1","name":"Store-1","active":true,"description":null,"last_publish":null,"website":null}]`)
		case r.Method == "GET" && p == "/accounts/a1":
			writeJSON(w, 200, `{"id":"a1","name":"Store-1","active":true,"kind":"frame"}`)
		case p == "/accounts/a1/pools":
			writeJSON(w, 200, `[{"id":"p1","kind":"sandbox","name":"S"},{"id":"p2","kind":"production","name":"P"}]`)
		case p == "/accounts/a1/sandbox/status":
			writeJSON(w, 200, `{"pool_id":"p1","status":"running_server_available","max_servers":1}`)
		case p == "/accounts/a1/publish" && r.Method == "POST":
			writeJSON(w, 200, `{"account":{"id":"a1"},"pending_request":`+taskJSON+`}`)
		case p == "/accounts/a1/publish/tasks":
			writeJSON(w, 200, `[{"id":"gateway-prod.57186","status":"completed","request_id":1853969}]`)
		case p == "/accounts/a1/publish/x1":
			writeJSON(w, 200, `{"status":"completed","id":"x1"}`)
		case p == "/accounts/a1/task/t-1":
			writeJSON(w, 200, strings.Replace(taskJSON, "not_started", "done", 1))
		case p == "/accounts/a1/elasticity":
			writeJSON(w, 200, `{"min_servers":75,"buffer_servers":20,"max_servers":475}`)
		case p == "/accounts/a1/sandbox/start":
			writeJSON(w, 200, taskJSON)
		case p == "/accounts/a1/persistent_desktop_elasticity_settings" && r.Method == "GET":
			writeJSON(w, 200, `{"keep_instances_running_for_new_users":false,"max_users":10,"number_of_backups_to_save":1}`)
		case p == "/accounts/a1/persistent_desktop_elasticity_settings":
			writeJSON(w, 200, taskJSON)
		default:
			writeJSON(w, 404, `{"error":"no route `+r.Method+" "+p+`"}`)
		}
	})
	c := newClient(t, srv.URL())
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	accts, err := c.ListAccounts(ctx, "Store", "org-1")
	must("ListAccounts", err)
	if len(accts) != 1 || accts[0].Name != "Store-1" || srv.Requests()[0].Query != "name=Store&organization_id=org-1" {
		t.Errorf("ListAccounts: %+v %+v", accts, srv.Requests()[0])
	}
	acct, err := c.GetAccount(ctx, "a1")
	must("GetAccount", err)
	pools, err := c.ListPools(ctx, "a1")
	must("ListPools", err)
	ss, err := c.SandboxStatus(ctx, "a1")
	must("SandboxStatus", err)
	pub, err := c.Publish(ctx, "a1")
	must("Publish", err)
	pts, err := c.PublishTasks(ctx, "a1")
	must("PublishTasks", err)
	ps, err := c.PublishStatus(ctx, "a1", "x1")
	must("PublishStatus", err)
	task, err := c.GetTask(ctx, "a1", "t-1")
	must("GetTask", err)
	ae, err := c.GetAccountElasticity(ctx, "a1")
	must("GetAccountElasticity", err)
	st, err := c.StartSandbox(ctx, "a1")
	must("StartSandbox", err)
	pd, err := c.GetPersistentDesktopCapacity(ctx, "a1")
	must("GetPersistentDesktopCapacity", err)
	two := 2
	pdt, err := c.SetPersistentDesktopCapacity(ctx, "a1", frame.PersistentDesktopCapacity{NumberOfBackupsToSave: &two, MaxUsers: 20})
	must("SetPersistentDesktopCapacity", err)
	summary := fmt.Sprint( // Sprint spaces adjacent non-strings
		acct.Kind, len(pools), pools[1].Kind, ss.PoolID, pub.ID, len(pts), ps.Status, task.Stage, ae.String(), st.ID, pd.MaxUsers, *pd.NumberOfBackupsToSave, pdt.ID)
	if want := "frame2productionp1t-11completeddone75/20/475t-110 1t-1"; summary != want {
		t.Errorf("summary %s, want %s", summary, want)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	if last.Body != "keep_instances_running_for_new_users=false&max_users=20&number_of_backups_to_save=2" {
		t.Errorf("persistent desktop form: %q", last.Body)
	}
	before := srv.Count()
	for _, e := range []frame.Elasticity{{MinServers: -1, MaxServers: 1}, {MinServers: 5, MaxServers: 1}} {
		_, err := c.SetPoolElasticity(ctx, "p2", e)
		noteErr(err)
		if c, _ := frame.Classify(err); c != frame.ClassInvalid {
			t.Errorf("%v: %v", e, err)
		}
	}
	if srv.Count() != before {
		t.Error("invalid elasticity was sent")
	}
	// A GET that answers something other than a task is an error, not a task.
	_, err = c.GetTask(ctx, "a1", "missing")
	noteErr(err)
	if err == nil {
		t.Error("404 task accepted")
	}
}

func TestSecretParamsNeverEchoed(t *testing.T) {
	const password = "Pa55-w0rd-NEVER-SHOWN"
	ep, ok := frame.LookupEndpoint("accounts.domain_join_settings.update")
	if !ok {
		t.Skip("catalog has no accounts.domain_join_settings.update")
	}
	params := map[string]any{"service_account_password": password}
	for _, p := range ep.Params {
		if p.Required && p.Name != "service_account_password" {
			params[p.Name] = "acc-1"
		}
	}
	var status atomic.Int32
	status.Store(502)
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, int(status.Load()), `{"error":"bad password `+password+`"}`)
	})
	c := newClient(t, srv.URL())
	_, err := c.Call(context.Background(), ep.Name, params)
	var ou *frame.OutcomeUnknownError
	if !errors.As(err, &ou) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(srv.Requests()[0].Body, password) {
		t.Fatalf("the password must still be sent: %q", srv.Requests()[0].Body)
	}
	status.Store(400)
	_, err400 := c.Call(context.Background(), ep.Name, params)
	params["service_account_password"] = []any{password} // wrong type
	_, errType := c.Call(context.Background(), ep.Name, params)
	if cl, _ := frame.Classify(errType); cl != frame.ClassInvalid {
		t.Errorf("wrong type: %v", errType)
	}
	for _, e := range []error{err, err400, errType} {
		text := fmt.Sprintf("%v %+v %#v", e, e, e)
		if ou, ok := e.(*frame.OutcomeUnknownError); ok {
			text += string(ou.Body) + ou.Query
		}
		if strings.Contains(text, password) {
			t.Errorf("secret echoed: %s", text)
		}
	}
}
