package frame_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

// go test ./frame -run 'TestCatalogDocs|TestCatalogTestdata' -update
// rewrites docs/api-catalog.md and testdata/api/<name>.json from catalog.json.
var update = flag.Bool("update", false, "rewrite docs/api-catalog.md and testdata/api/*.json from frame/catalog.json")

const (
	docsFile    = "../docs/api-catalog.md"
	testdataDir = "../testdata/api"
)

func TestCatalogSize(t *testing.T) {
	eps := frame.Catalog()
	// The Admin API v1 reference documents 104 endpoints (103 with a method
	// line, plus the account API authorization rules without one).
	if len(eps) < 100 {
		t.Fatalf("catalog has %d endpoints, want at least 100", len(eps))
	}
	perGroup := map[string]int{}
	for _, e := range eps {
		perGroup[e.Group]++
	}
	for _, g := range frame.CatalogGroups {
		if perGroup[g] == 0 {
			t.Errorf("group %q has no endpoints", g)
		}
	}
}

func TestCatalogSortedAndLookup(t *testing.T) {
	eps := frame.Catalog()
	if !sort.SliceIsSorted(eps, func(i, j int) bool { return eps[i].Name < eps[j].Name }) {
		t.Error("Catalog() is not sorted by name")
	}
	for i := range eps {
		e, ok := frame.LookupEndpoint(eps[i].Name)
		if !ok || e != &eps[i] {
			t.Errorf("LookupEndpoint(%q) does not return the catalog entry", eps[i].Name)
		}
	}
	if _, ok := frame.LookupEndpoint("accounts.nope"); ok {
		t.Error("LookupEndpoint found an unknown name")
	}
}

// Names promised to other packages before the catalog was complete; they
// must keep their shape.
func TestCatalogSeedEndpointsStable(t *testing.T) {
	cases := []struct{ name, method, path, body string }{
		{"accounts.list", "GET", "/accounts", ""},
		{"accounts.get", "GET", "/accounts/{account_id}", ""},
		{"pools.list", "GET", "/accounts/{account_id}/pools", ""},
		{"sandbox.status", "GET", "/accounts/{account_id}/sandbox/status", ""},
		{"sandbox.start", "POST", "/accounts/{account_id}/sandbox/start", ""},
		{"sandbox.stop", "POST", "/accounts/{account_id}/sandbox/stop", ""},
		{"sandbox.reboot", "POST", "/accounts/{account_id}/sandbox/reboot", ""},
		{"sandbox.clone", "POST", "/accounts/{target_account_id}/pools/{source_pool_id}/clone", "form"},
		{"sandbox.publish", "POST", "/accounts/{account_id}/publish", ""},
		{"publish.tasks", "GET", "/accounts/{account_id}/publish/tasks", ""},
		{"publish.status", "GET", "/accounts/{account_id}/publish/{task_id}", ""},
		{"publish.cancel", "DELETE", "/accounts/{account_id}/publish/{task_id}", ""},
		{"tasks.get", "GET", "/accounts/{account_id}/task/{task_id}", ""},
		{"pools.elasticity.get", "GET", "/pools/{pool_id}/elasticity_settings", ""},
		{"pools.elasticity.set", "POST", "/pools/{pool_id}/elasticity_settings", "form"},
		{"accounts.elasticity.get", "GET", "/accounts/{account_id}/elasticity", ""},
		{"persistent_desktop.capacity.get", "GET", "/accounts/{account_id}/persistent_desktop_elasticity_settings", ""},
		{"persistent_desktop.capacity.set", "POST", "/accounts/{account_id}/persistent_desktop_elasticity_settings", "form"},
		// Encodings the docs state explicitly.
		{"accounts.create", "POST", "/accounts", "form"},
		{"accounts.session_settings.update", "POST", "/accounts/{account_id}/update_session_settings", "json"},
		{"accounts.general_settings.update", "POST", "/accounts/{account_id}/update_general_settings", "json"},
		{"launchpads.applications.toggle", "POST", "/launchpads/{launchpad_id}/toggle_application", "json"},
		// The curl example's /accounts/, not the method line's /account/.
		{"applications.onboard", "POST", "/accounts/{account_id}/onboard_app", "json"},
	}
	for _, c := range cases {
		e, ok := frame.LookupEndpoint(c.name)
		if !ok {
			t.Errorf("%s: missing", c.name)
			continue
		}
		if e.Method != c.method || e.Path != c.path {
			t.Errorf("%s: %s %s, want %s %s", c.name, e.Method, e.Path, c.method, c.path)
		}
		if got := bodyKind(e); got != c.body {
			t.Errorf("%s: body %q, want %q", c.name, got, c.body)
		}
	}

	clone, _ := frame.LookupEndpoint("sandbox.clone")
	if p, ok := clone.Param("join_domain"); !ok || p.In != frame.InForm || p.Required {
		t.Errorf("sandbox.clone join_domain = %+v, want an optional form param (curl -F)", p)
	}
	if !clone.Destructive {
		t.Error("sandbox.clone overwrites the target sandbox: it must be destructive")
	}
	el, _ := frame.LookupEndpoint("pools.elasticity.set")
	if p, ok := el.Param("max_servers"); !ok || !p.Required || p.Type != "integer" {
		t.Errorf("pools.elasticity.set max_servers = %+v", p)
	}
	if got := len(el.PathParams()); got != 1 {
		t.Errorf("pools.elasticity.set has %d path params, want 1", got)
	}
	if got := el.SuccessStatus(); got != 200 {
		t.Errorf("pools.elasticity.set success status %d", got)
	}
	stop, _ := frame.LookupEndpoint("sandbox.stop")
	if stop.SuccessStatus() != 202 || stop.Response != frame.RespEmpty {
		t.Errorf("sandbox.stop: status %d response %q, want 202 empty", stop.SuccessStatus(), stop.Response)
	}
}

func bodyKind(e *frame.Endpoint) string {
	switch {
	case len(e.ParamsIn(frame.InForm)) > 0:
		return "form"
	case len(e.ParamsIn(frame.InJSON)) > 0:
		return "json"
	}
	return ""
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	// Verb last; the three seed names below predate the rule and are kept
	// because other packages already use them.
	verbs = map[string]bool{
		"list": true, "get": true, "set": true, "create": true, "update": true, "delete": true,
		"start": true, "stop": true, "reboot": true, "terminate": true, "clone": true, "publish": true,
		"cancel": true, "disable": true, "toggle": true, "onboard": true, "onboard_bulk": true,
		"assign": true, "unassign": true, "reassign": true, "restore": true,
	}
	verblessSeedNames = map[string]bool{"sandbox.status": true, "publish.tasks": true, "publish.status": true}
)

func TestCatalogWellFormed(t *testing.T) {
	paths := map[string]string{}
	for _, e := range frame.Catalog() {
		if !nameRE.MatchString(e.Name) {
			t.Errorf("%s: malformed name", e.Name)
		}
		segs := strings.Split(e.Name, ".")
		if verb := segs[len(segs)-1]; !verbs[verb] && !verblessSeedNames[e.Name] {
			t.Errorf("%s: name does not end with a verb", e.Name)
		}
		if e.Method == "GET" && (e.Mutates || e.Destructive) {
			t.Errorf("%s: a GET must not mutate", e.Name)
		}
		if e.Method != "GET" && !e.Mutates {
			t.Errorf("%s: %s must mutate", e.Name, e.Method)
		}
		if strings.ContainsAny(e.Path, "?:$") {
			t.Errorf("%s: path %q still has a query string or a :param/${param}", e.Name, e.Path)
		}
		key := e.Method + " " + e.Path
		if other, dup := paths[key]; dup {
			t.Errorf("%s and %s are both %s", e.Name, other, key)
		}
		paths[key] = e.Name

		// Every {param} has exactly one path param and vice versa.
		inPath := map[string]bool{}
		for _, m := range regexp.MustCompile(`\{([^}]*)\}`).FindAllStringSubmatch(e.Path, -1) {
			if inPath[m[1]] {
				t.Errorf("%s: {%s} appears twice", e.Name, m[1])
			}
			inPath[m[1]] = true
		}
		pathParams := map[string]bool{}
		for _, p := range e.PathParams() {
			if !inPath[p.Name] {
				t.Errorf("%s: path param %q is not in %s", e.Name, p.Name, e.Path)
			}
			if !p.Required {
				t.Errorf("%s: path param %q must be required", e.Name, p.Name)
			}
			pathParams[p.Name] = true
		}
		for name := range inPath {
			if !pathParams[name] {
				t.Errorf("%s: {%s} has no path param", e.Name, name)
			}
		}
		if e.Method == "GET" && bodyKind(&e) != "" {
			t.Errorf("%s: a GET with body params", e.Name)
		}
		if len(e.ParamsIn(frame.InForm)) > 0 && len(e.ParamsIn(frame.InJSON)) > 0 {
			t.Errorf("%s: mixes form and JSON", e.Name)
		}
		for _, p := range e.Params {
			if p.Description == "" {
				t.Errorf("%s: param %q has no description", e.Name, p.Name)
			}
		}
	}
}

// The simulator serves every catalog endpoint from one net/http.ServeMux;
// two templates that the mux cannot tell apart would make it panic.
func TestCatalogPathsRouteUnambiguously(t *testing.T) {
	mux := http.NewServeMux()
	for _, e := range frame.Catalog() {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", e.Name, r)
				}
			}()
			mux.HandleFunc(e.Method+" "+e.Path, func(http.ResponseWriter, *http.Request) {})
		}()
	}
}

// ParseCatalog is what keeps a bad edit of catalog.json from loading; it
// must reject each kind of mistake and name the endpoint.
func TestParseCatalogRejects(t *testing.T) {
	good := `{"name":"things.get","group":"account","method":"GET","path":"/things/{thing_id}","summary":"s",
		"params":[{"name":"thing_id","in":"path","type":"string","required":true,"description":"d"}],"mutates":false,"response":"object"}`
	if _, err := frame.ParseCatalog([]byte("[" + good + "]")); err != nil {
		t.Fatalf("a valid entry was rejected: %v", err)
	}
	cases := map[string]string{
		"duplicate":           "[" + good + "," + good + "]",
		"unknown field":       `[{"name":"things.get","nme":"x"}]`,
		"bad name":            strings.Replace(good, "things.get", "Things", 1),
		"single segment":      strings.Replace(good, "things.get", "things", 1),
		"unknown group":       strings.Replace(good, `"account"`, `"galaxy"`, 1),
		"GET mutates":         strings.Replace(good, `"mutates":false`, `"mutates":true`, 1),
		"POST not mutating":   strings.Replace(good, `"GET"`, `"POST"`, 1),
		"bad method":          strings.Replace(good, `"GET"`, `"FETCH"`, 1),
		"placeholder missing": strings.Replace(good, "/things/{thing_id}", "/things", 1),
		"param missing":       strings.Replace(good, `"name":"thing_id"`, `"name":"other_id"`, 1),
		"colon param":         strings.Replace(good, "/things/{thing_id}", "/things/:thing_id", 1),
		"query in path":       strings.Replace(good, "/things/{thing_id}", "/things/{thing_id}?a=b", 1),
		"trailing slash":      strings.Replace(good, "/things/{thing_id}", "/things/{thing_id}/", 1),
		"bad location":        strings.Replace(good, `"in":"path"`, `"in":"header"`, 1),
		"bad type":            strings.Replace(good, `"type":"string"`, `"type":"str"`, 1),
		"bad response":        strings.Replace(good, `"object"`, `"blob"`, 1),
		"bad example":         strings.Replace(good, `"response":"object"`, `"response":"object","example":{"a":}`, 1),
		"non-2xx status":      strings.Replace(good, `"response":"object"`, `"response":"object","status":404`, 1),
		"no summary":          strings.Replace(good, `"summary":"s"`, `"summary":""`, 1),
		"GET with body": strings.Replace(good, `"params":[`,
			`"params":[{"name":"x","in":"json","type":"string","required":false,"description":"d"},`, 1),
	}
	for name, data := range cases {
		if _, err := frame.ParseCatalog([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := frame.ParseCatalog([]byte("[" + strings.Replace(good, `"GET"`, `"FETCH"`, 1) + "]"))
	if err == nil || !strings.Contains(err.Error(), "things.get") {
		t.Errorf("error %v does not name the endpoint", err)
	}
}

func TestCatalogResponseKindsMatchExamples(t *testing.T) {
	for _, e := range frame.Catalog() {
		if len(e.Example) == 0 {
			if e.Response != frame.RespEmpty {
				t.Errorf("%s: no documented example for a %q response", e.Name, e.Response)
			}
			continue
		}
		var v any
		if err := json.Unmarshal(e.Example, &v); err != nil {
			t.Errorf("%s: example: %v", e.Name, err)
			continue
		}
		switch e.Response {
		case frame.RespList:
			if _, ok := v.([]any); !ok {
				t.Errorf("%s: list response with a %T example", e.Name, v)
			}
		case frame.RespObject, frame.RespTask, frame.RespPublishStatus:
			if _, ok := v.(map[string]any); !ok {
				t.Errorf("%s: %s response with a %T example", e.Name, e.Response, v)
			}
		case frame.RespEmpty:
			if m, ok := v.(map[string]any); !ok || len(m) != 0 {
				t.Errorf("%s: empty response with example %s", e.Name, e.Example)
			}
		}
	}
}

// Every task-returning example, in all three documented shapes, yields a
// task with an id and a stage.
func TestCatalogTaskExamplesDecode(t *testing.T) {
	n := 0
	for _, e := range frame.Catalog() {
		if e.Response != frame.RespTask {
			continue
		}
		n++
		task, err := frame.ExtractTask(e.Example)
		if err != nil {
			t.Errorf("%s: ExtractTask: %v", e.Name, err)
			continue
		}
		if task.ID == "" || task.Stage == "" || task.Kind == "" {
			t.Errorf("%s: task %+v lacks id, stage or kind", e.Name, task)
		}
		switch task.Stage {
		case frame.StageNotStarted, frame.StageInProgress, frame.StageDone, frame.StageFailed:
		default:
			t.Errorf("%s: undocumented stage %q", e.Name, task.Stage)
		}
	}
	if n < 10 {
		t.Errorf("only %d task endpoints", n)
	}
}

// Mutating endpoints answer with a decodable body of their documented kind.
func TestCatalogMutatingExamplesDecode(t *testing.T) {
	for _, e := range frame.Catalog() {
		if !e.Mutates {
			continue
		}
		switch e.Response {
		case frame.RespTask:
			// TestCatalogTaskExamplesDecode
		case frame.RespEmpty:
			if len(e.Example) > 0 && string(e.Example) != "{}" {
				t.Errorf("%s: empty response example %s", e.Name, e.Example)
			}
		case frame.RespObject:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(e.Example, &m); err != nil || len(m) == 0 {
				t.Errorf("%s: object example does not decode: %v", e.Name, err)
			}
		case frame.RespList:
			var l []json.RawMessage
			if err := json.Unmarshal(e.Example, &l); err != nil {
				t.Errorf("%s: list example does not decode: %v", e.Name, err)
			}
		default:
			t.Errorf("%s: mutating endpoint with a %q response", e.Name, e.Response)
		}
	}
}

// The typed models cover the documented examples. strict means the struct
// is meant to hold every documented field.
func TestCatalogExamplesDecodeIntoTypes(t *testing.T) {
	type check struct {
		name   string
		strict bool
		into   func() any
		ok     func(any) error
	}
	accountOK := func(v any) error {
		a := v.(*frame.Account)
		if a.ID == "" || a.Name == "" {
			return fmt.Errorf("account without id or name: %+v", a)
		}
		return nil
	}
	accountsOK := func(v any) error {
		l := *v.(*[]frame.Account)
		if len(l) == 0 {
			return fmt.Errorf("no accounts")
		}
		for i := range l {
			if err := accountOK(&l[i]); err != nil {
				return err
			}
		}
		return nil
	}
	elasticityOK := func(v any) error {
		e := v.(*frame.Elasticity)
		if e.MaxServers == 0 || e.MinServers > e.MaxServers {
			return fmt.Errorf("implausible elasticity %s", e)
		}
		return nil
	}
	checks := []check{
		{"accounts.list", true, func() any { return new([]frame.Account) }, accountsOK},
		{"customers.accounts.list", true, func() any { return new([]frame.Account) }, accountsOK},
		{"accounts.get", true, func() any { return new(frame.Account) }, accountOK},
		{"accounts.maintenance_mode.set", true, func() any { return new(frame.Account) }, accountOK},
		{"accounts.deployment_group.set", true, func() any { return new(frame.Account) }, accountOK},
		{"pools.list", true, func() any { return new([]frame.Pool) }, func(v any) error {
			for _, p := range *v.(*[]frame.Pool) {
				if p.ID == "" || p.Kind == "" || p.Name == "" {
					return fmt.Errorf("pool lacks id, kind or name: %+v", p)
				}
			}
			return nil
		}},
		{"pools.elasticity.get", true, func() any { return new(frame.Elasticity) }, elasticityOK},
		{"accounts.elasticity.get", true, func() any { return new(frame.Elasticity) }, elasticityOK},
		{"organizations.elasticity.get", true, func() any { return new(frame.Elasticity) }, elasticityOK},
		{"customers.elasticity.get", true, func() any { return new(frame.Elasticity) }, elasticityOK},
		{"sandbox.status", true, func() any { return new(frame.SandboxStatus) }, func(v any) error {
			s := v.(*frame.SandboxStatus)
			if s.PoolID == "" || s.Status == "" || s.MaxServers == 0 {
				return fmt.Errorf("sandbox status lacks pool_id, status or max_servers: %+v", s)
			}
			return nil
		}},
		{"publish.status", true, func() any { return new(frame.PublishStatus) }, func(v any) error {
			s := v.(*frame.PublishStatus)
			if s.Status == "" || len(s.ID) == 0 {
				return fmt.Errorf("publish status lacks status or id: %+v", s)
			}
			return nil
		}},
		{"publish.tasks", true, func() any { return new([]frame.PublishStatus) }, func(v any) error {
			l := *v.(*[]frame.PublishStatus)
			if len(l) == 0 {
				return fmt.Errorf("no publish tasks")
			}
			for _, s := range l {
				if s.Status == "" || len(s.ID) == 0 || s.LastChange == "" || len(s.RequestID) == 0 {
					return fmt.Errorf("publish task lacks fields: %+v", s)
				}
			}
			return nil
		}},
		// Tasks carry started_by, which Task does not model.
		{"tasks.get", false, func() any { return new(frame.Task) }, func(v any) error {
			tk := v.(*frame.Task)
			if tk.ID == "" || tk.Stage != frame.StageDone || !tk.Finished() || tk.FinishedAt == nil || tk.DurationSec == nil {
				return fmt.Errorf("done task lacks fields: %+v", tk)
			}
			return nil
		}},
	}
	for _, c := range checks {
		e, ok := frame.LookupEndpoint(c.name)
		if !ok {
			t.Errorf("%s: missing", c.name)
			continue
		}
		v := c.into()
		dec := json.NewDecoder(bytes.NewReader(e.Example))
		if c.strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if err := c.ok(v); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// The account embedded in clone, publish and creation answers.
	for _, name := range []string{"sandbox.clone", "sandbox.publish", "accounts.create"} {
		e, _ := frame.LookupEndpoint(name)
		var body struct {
			Account frame.Account `json:"account"`
		}
		if err := json.Unmarshal(e.Example, &body); err != nil || accountOK(&body.Account) != nil {
			t.Errorf("%s: embedded account does not decode: %v %+v", name, err, body.Account)
		}
	}
}

func TestCatalogSecretsMarked(t *testing.T) {
	e, _ := frame.LookupEndpoint("accounts.domain_join_settings.update")
	if p, _ := e.Param("service_account_password"); !p.Secret {
		t.Error("service_account_password must be marked secret")
	}
	for _, e := range frame.Catalog() {
		for _, p := range e.Params {
			if strings.Contains(p.Name, "password") || strings.Contains(p.Name, "secret") {
				if !p.Secret {
					t.Errorf("%s: %s looks secret but is not marked", e.Name, p.Name)
				}
			}
		}
	}
}

// testdata/api/<name>.json holds the documented example of each endpoint
// that has one, so tests elsewhere can read them as files.
func TestCatalogTestdata(t *testing.T) {
	want := map[string][]byte{}
	for _, e := range frame.Catalog() {
		if len(e.Example) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, e.Example, "", "  "); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		buf.WriteByte('\n')
		want[e.Name+".json"] = buf.Bytes()
	}
	if *update {
		if err := os.MkdirAll(testdataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, data := range want {
			if err := os.WriteFile(filepath.Join(testdataDir, file), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every file in the tree (the client's tasks/ included) is valid JSON.
	err := filepath.WalkDir(testdataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !json.Valid(data) {
			t.Errorf("%s is not valid JSON", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, data := range want {
		got, err := os.ReadFile(filepath.Join(testdataDir, file))
		if err != nil {
			t.Errorf("%v (run go test ./frame -run TestCatalogTestdata -update)", err)
			continue
		}
		if !jsonEqual(got, data) {
			t.Errorf("%s differs from the example in catalog.json (run with -update)", file)
		}
	}
	top, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range top {
		if !f.IsDir() && want[f.Name()] == nil {
			t.Errorf("%s/%s matches no catalog example", testdataDir, f.Name())
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

func TestCatalogDocs(t *testing.T) {
	want := renderCatalogMarkdown(frame.Catalog(), frame.CatalogFor(frame.APIv1Alpha))
	if *update {
		if err := os.MkdirAll(filepath.Dir(docsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatalf("%v (run go test ./frame -run TestCatalogDocs -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with frame/catalog.json (run go test ./frame -run TestCatalogDocs -update)", docsFile)
	}
}

func renderCatalogMarkdown(eps, alpha []frame.Endpoint) []byte {
	var b bytes.Buffer
	b.WriteString("# Frame Admin API endpoint catalog\n\n")
	b.WriteString("Generated from `frame/catalog.json` and `frame/catalog_v1alpha.json` by `go test ./frame -run TestCatalogDocs -update`; a test fails when this file is out of date. Do not edit by hand.\n\n")
	fmt.Fprintf(&b, "%d endpoints of the Admin API v1 (`https://api.console.nutanix.com/v1`) and %d of the older v1alpha web API (`%s`, [below](#v1alpha-endpoints)). ", len(eps), len(alpha), frame.DefaultV1AlphaURL)
	b.WriteString("*Mutates* says whether the call changes anything (plan mode never sends it); *destructive* calls overwrite or delete data and need approval. ")
	b.WriteString("Parameter locations, types and documented examples are in the catalog files; `frameflow api list` (`--api v1alpha`) prints the same list.\n\n")
	b.WriteString("How parameters travel: path parameters are escaped into the path; an object or list in a query string or form body uses the bracket notation of the docs' examples (`name[key]=v`, repeated `name[]=v`, nested as deep as the value goes); in a JSON body it is nested JSON. ")
	b.WriteString("Where the catalog places a parameter wrongly for a server, the `api.call` step's `query:`/`form:`/`json:` inputs and `frameflow api`'s `-q`/`-f`/`--input` flags place it explicitly.\n")
	titles := map[string]string{
		"account": "Account endpoints", "organization": "Organization endpoints",
		"customer": "Customer endpoints", "infrastructure": "Infrastructure endpoints",
	}
	table := func(eps []frame.Endpoint, g string) {
		b.WriteString("| name | method | path | mutates | summary |\n| --- | --- | --- | --- | --- |\n")
		for _, e := range eps {
			if g != "" && e.Group != g {
				continue
			}
			mut := "no"
			if e.Destructive {
				mut = "yes, destructive"
			} else if e.Mutates {
				mut = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", e.Name, e.Method, e.Path, mut, mdCell(e.Summary))
		}
	}
	for _, g := range frame.CatalogGroups {
		fmt.Fprintf(&b, "\n## %s\n\n", titles[g])
		table(eps, g)
	}
	b.WriteString("\n## v1alpha endpoints\n\n")
	fmt.Fprintf(&b, "Base URL `%s` (the docs' host), or, when `FRAME_API_URL` is not the documented v1 URL, that URL with its final `/v1` replaced by `/v1alpha` (a simulator or proxy serves both); `%s` overrides either. Signed like v1. Use `frameflow api list --api v1alpha`, `frameflow api get --api v1alpha PATH` or the `api.call` step with `api: v1alpha`.\n\n", frame.DefaultV1AlphaURL, frame.EnvV1AlphaURL)
	table(alpha, "")
	b.WriteString("\n## Where the parameter table and the curl example disagree\n\n")
	b.WriteString("The catalog follows the curl example (the call someone actually ran) and records each choice; the docs' own wording is quoted. Exceptions, each said below: where the curl example is plainly a slip (a misspelt path, a stop payload on start, a restore sent as a GET with a body) and where a read would become a mutation (the account API authorization rules). The strict simulator (`frame/sim`, [simulator.md](simulator.md)) holds its own placement table written from the docs, and `TestPlacementTableMatchesCatalog` lists every difference between the two with its reason.\n\n")
	for _, e := range append(append([]frame.Endpoint(nil), eps...), alpha...) {
		if e.DocNote != "" {
			fmt.Fprintf(&b, "- `%s%s`: %s\n  - The docs: %s\n", apiPrefix(e), e.Name, mdCell(e.Notes), mdCell(e.DocNote))
		}
	}
	b.WriteString("\n## Other notes on the docs\n\n")
	for _, e := range append(append([]frame.Endpoint(nil), eps...), alpha...) {
		if e.Notes != "" && e.DocNote == "" {
			fmt.Fprintf(&b, "- `%s%s`: %s\n", apiPrefix(e), e.Name, mdCell(e.Notes))
		}
	}
	return b.Bytes()
}

func apiPrefix(e frame.Endpoint) string {
	if e.API != "" {
		return e.API + " "
	}
	return ""
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
