package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/frameflow/frameflow/frame"
)

// route is one modelled endpoint.
type route struct {
	method, path string // path as in the docs, {param} placeholders, without /v1
	h            func(c *call)
}

// call is one request being answered. Handlers run with s.mu held and the
// estate advanced to c.now.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	now   time.Time
	body  []byte
	place *placement // where the docs put each parameter (nil: none documented)
}

func (c *call) path(name string) string { return c.r.PathValue(name) }

func (c *call) json(status int, v any) { writeJSON(c.w, status, v) }

func (c *call) fail(status int, format string, args ...any) {
	writeError(c.w, status, fmt.Sprintf(format, args...))
}

func (s *Server) modelled() []route {
	return []route{
		{"GET", "/organizations", s.listOrganizations},
		{"GET", "/organizations/{organization_id}", s.getOrganization},
		{"GET", "/accounts", s.listAccounts},
		{"POST", "/accounts", s.createAccount},
		{"GET", "/accounts/{account_id}", s.getAccount},
		{"GET", "/accounts/{account_id}/pools", s.listPools},
		{"GET", "/accounts/{account_id}/sandbox/status", s.sandboxStatus},
		{"POST", "/accounts/{account_id}/sandbox/start", s.sandboxPower("start")},
		{"POST", "/accounts/{account_id}/sandbox/stop", s.sandboxPower("stop")},
		{"POST", "/accounts/{account_id}/sandbox/reboot", s.sandboxPower("reboot")},
		{"POST", "/accounts/{target_account_id}/pools/{source_pool_id}/clone", s.clone},
		{"POST", "/accounts/{account_id}/publish", s.publish},
		{"GET", "/accounts/{account_id}/publish/tasks", s.publishTasks},
		{"GET", "/accounts/{account_id}/publish/{task_id}", s.publishStatus},
		{"DELETE", "/accounts/{account_id}/publish/{task_id}", s.cancelPublish},
		{"GET", "/accounts/{account_id}/task/{task_id}", s.getTask},
		{"GET", "/pools/{pool_id}/elasticity_settings", s.getPoolElasticity},
		{"POST", "/pools/{pool_id}/elasticity_settings", s.setPoolElasticity},
		{"GET", "/accounts/{account_id}/elasticity", s.accountElasticity},
		{"GET", "/accounts/{account_id}/persistent_desktop_elasticity_settings", s.getPersistent},
		{"POST", "/accounts/{account_id}/persistent_desktop_elasticity_settings", s.setPersistent},
		{"GET", "/accounts/{account_id}/servers", s.listServers},
		{"POST", "/accounts/{account_id}/servers/{server_id}/start", s.serverPower(true)},
		{"POST", "/accounts/{account_id}/servers/{server_id}/stop", s.serverPower(false)},
		{"POST", "/accounts/{account_id}/update_account_maintenance_mode", s.maintenance},
		{"GET", "/accounts/{account_id}/instance_types", s.instanceTypes},
		{"GET", "/accounts/{account_id}/applications", s.applications},
		{"GET", "/accounts/{account_id}/launchpads", s.launchpads},
		{"GET", "/accounts/{account_id}/launchpads/{launchpad_id}", s.launchpad},
		{"GET", "/accounts/{account_id}/audit-trails", s.auditTrails},
	}
}

var placeholder = regexp.MustCompile(`\{[^}]*\}|:[A-Za-z_][A-Za-z0-9_]*`)

// shapeKey identifies an endpoint independently of its parameter names.
func shapeKey(method, path string) string {
	return strings.ToUpper(method) + " " + strings.TrimSuffix(placeholder.ReplaceAllString(path, "{}"), "/")
}

func (s *Server) routes(catalog []frame.Endpoint) *http.ServeMux {
	mux := http.NewServeMux()
	taken := map[string]bool{}
	for _, rt := range s.modelled() {
		h := rt.h
		place := s.placements[placementKey("", rt.method, rt.path)]
		mux.HandleFunc(rt.method+" /v1"+rt.path, s.strict(place, h))
		taken[shapeKey(rt.method, rt.path)] = true
	}
	for _, rt := range s.modelledV1Alpha() {
		place := s.placements[placementKey("v1alpha", rt.method, rt.path)]
		mux.HandleFunc(rt.method+" /v1alpha"+rt.path, s.strict(place, rt.h))
	}
	s.addCatalogRoutes(mux, taken, catalog)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// strict wraps a handler: a request that puts a parameter anywhere but
// where the docs do is answered 400 before anything happens.
func (s *Server) strict(place *placement, h func(c *call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ri := info(r)
		if err := checkPlacement(place, r, ri.body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.clockLocked(ri.now)
		s.advance(now)
		h(&call{s: s, w: w, r: r, now: now, body: ri.body, place: place})
	}
}

// ---- request parameters ---------------------------------------------------------

// params merges the query string with the body: form data (urlencoded or
// multipart, as curl -F sends it) or a JSON object, whose scalar values are
// turned into strings so that both encodings validate alike.
//
// The placement was checked before the handler ran (see strict), so merging
// is safe here. Bracketed keys (name[]=v, name[k]=v) also count as their
// parameter name; a body wrapped as the docs show it is unwrapped; header
// parameters are read from the headers.
func (c *call) params() (map[string]string, error) {
	out := map[string]string{}
	addFlat := func(vals map[string][]string) {
		for k, v := range vals {
			if len(v) == 0 {
				continue
			}
			out[k] = v[0]
			if name, shape, err := bracketShape(k); err == nil && shape != shapeScalar {
				if _, ok := out[name]; !ok {
					out[name] = v[0]
				}
			}
		}
	}
	addFlat(c.r.URL.Query())
	if c.place != nil {
		for name, pp := range c.place.Params {
			if v := c.r.Header.Get(name); pp.Loc == locHeader && v != "" {
				out[name] = v
			}
		}
	}
	body := bytes.TrimSpace(c.body)
	if len(body) == 0 {
		return out, nil
	}
	ct := c.r.Header.Get("Content-Type")
	mt, mp, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && (body[0] == '{' || body[0] == '[')):
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("body is not a JSON object: %v", err)
		}
		if c.place != nil && c.place.Wrap != "" {
			if inner, ok := m[c.place.Wrap].(map[string]any); ok {
				m = inner
			}
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			case bool:
				out[k] = strconv.FormatBool(x)
			case nil:
				// absent
			default:
				b, _ := json.Marshal(x)
				out[k] = string(b)
			}
		}
	case mt == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(c.body), mp["boundary"]).ReadForm(maxBody)
		if err != nil {
			return nil, fmt.Errorf("malformed multipart form: %v", err)
		}
		defer func() { _ = form.RemoveAll() }()
		addFlat(form.Value)
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("malformed form body: %v", err)
		}
		addFlat(vals)
	}
	return out, nil
}

// intParam parses an optional non-negative integer. Form values arrive as
// strings; JSON numbers too after params.
func intParam(p map[string]string, name string) (v int, present bool, err error) {
	raw, ok := p[name]
	if !ok || strings.TrimSpace(raw) == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, true, fmt.Errorf("%s must be an integer, got %q", name, raw)
	}
	if n < 0 {
		return 0, true, fmt.Errorf("%s must not be negative, got %d", name, n)
	}
	return n, true, nil
}

func boolParam(p map[string]string, name string) (v, present bool, err error) {
	raw, ok := p[name]
	if !ok || raw == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(raw))
	if err != nil {
		return false, true, fmt.Errorf("%s must be true or false, got %q", name, raw)
	}
	return b, true, nil
}

// ---- lookups ----------------------------------------------------------------------

// bodyParams is c.params, answering 400 when they do not parse.
func (c *call) bodyParams() (p map[string]string, ok bool) {
	p, err := c.params()
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return nil, false
	}
	return p, true
}

// accountWithParams is the account named by the path parameter param and
// the request's parameters; ok false when either answered an error.
func (c *call) accountWithParams(param string) (a *account, p map[string]string, ok bool) {
	if a = c.account(param); a == nil {
		return nil, nil, false
	}
	p, ok = c.bodyParams()
	return a, p, ok
}

func (c *call) account(param string) *account {
	id := c.path(param)
	a, ok := c.s.acctByID[id]
	if !ok {
		c.fail(http.StatusNotFound, "account %q not found", id)
		return nil
	}
	return a
}

func (c *call) busy(t *task, what string) bool {
	if running(t) {
		c.fail(http.StatusConflict, "%s has a task in progress (%s, task %s); wait for it to finish", what, t.kind, t.id)
		return true
	}
	return false
}

// ---- JSON shapes (as in the docs' examples) ---------------------------------------

type accountOut struct {
	Active      bool    `json:"active"`
	Description *string `json:"description"`
	ID          string  `json:"id"`
	InsertedAt  string  `json:"inserted_at"`
	Kind        string  `json:"kind"`
	LastPublish *string `json:"last_publish"`
	Name        string  `json:"name"`
	Notes       *string `json:"notes"`
	URLSlug     string  `json:"url_slug"`
	Website     *string `json:"website"`
}

func accountJSON(a *account) accountOut {
	out := accountOut{Active: a.active, ID: a.id, InsertedAt: a.insertedAt, Kind: "frame", Name: a.name, URLSlug: a.slug}
	if a.lastPublish != "" {
		lp := a.lastPublish
		out.LastPublish = &lp
	}
	return out
}

type startedBy struct {
	Email            string `json:"email"`
	FirstName        string `json:"first_name"`
	ID               string `json:"id"`
	IdentityProvider string `json:"identity_provider"`
	LastName         string `json:"last_name"`
}

type taskOut struct {
	AccountID          string          `json:"account_id"`
	CustomerID         string          `json:"customer_id"`
	DisplayName        string          `json:"display_name"`
	DurationSec        *float64        `json:"duration_sec"`
	ExternalResourceID *string         `json:"external_resource_id"`
	FinishedAt         *string         `json:"finished_at"`
	ID                 string          `json:"id"`
	InsertedAt         string          `json:"inserted_at"`
	Kind               string          `json:"kind"`
	OrganizationID     string          `json:"organization_id"`
	PoolID             *string         `json:"pool_id"`
	ProgressInfo       json.RawMessage `json:"progress_info"`
	ResultInfo         json.RawMessage `json:"result_info"`
	Stage              string          `json:"stage"`
	StartedBy          startedBy       `json:"started_by"`
	UpdatedAt          string          `json:"updated_at"`
}

var customerID = deriveID("customer", "frameflow-sim")

// stageName is the name a task's stage is reported by: the scenario's
// task_stages may rename it (see Scenario.TaskStages).
func (s *Server) stageName(stage string) string {
	if n, ok := s.opts.Scenario.TaskStages[stage]; ok {
		return n
	}
	return stage
}

func (s *Server) taskJSON(t *task, now time.Time) taskOut {
	out := taskOut{
		AccountID:      t.acct.id,
		CustomerID:     customerID,
		DisplayName:    t.display,
		ID:             t.id,
		InsertedAt:     formatTime(t.inserted),
		Kind:           t.kind,
		OrganizationID: t.acct.orgID,
		ProgressInfo:   json.RawMessage("null"),
		ResultInfo:     json.RawMessage("null"),
		Stage:          s.stageName(t.stageAt(now)),
		StartedBy: startedBy{
			Email:            s.opts.ClientID + ".img.frame.nutanix.com_third-party-api",
			FirstName:        "X",
			ID:               s.apiUserID,
			IdentityProvider: "third-party-api",
			LastName:         "X",
		},
		UpdatedAt: formatTime(t.inserted),
	}
	if t.pool != nil {
		id := t.pool.id
		out.PoolID = &id
	}
	if t.finished {
		fin := formatTime(t.updated)
		d := s.reportedDuration(t)
		out.FinishedAt, out.DurationSec, out.UpdatedAt = &fin, &d, fin
		if t.resultInfo != nil {
			out.ResultInfo = t.resultInfo
		}
	} else if t.stageAt(now) == StageInProgress {
		out.UpdatedAt = formatTime(t.startsAt)
	}
	return out
}

// pendingRequest is the documented shape of clone, publish and account
// creation: the account and the task.
func (s *Server) pendingRequest(a *account, t *task, now time.Time) any {
	return map[string]any{"account": accountJSON(a), "pending_request": s.taskJSON(t, now)}
}

// ---- organizations and accounts -----------------------------------------------

type orgOut struct {
	Description *string `json:"description"`
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	URLSlug     string  `json:"url_slug"`
	Website     *string `json:"website"`
}

func (s *Server) listOrganizations(c *call) {
	name := strings.ToLower(c.r.URL.Query().Get("name"))
	out := []orgOut{}
	for _, o := range s.orgs {
		if name == "" || strings.Contains(strings.ToLower(o.name), name) {
			out = append(out, orgOut{ID: o.id, Name: o.name, URLSlug: o.slug})
		}
	}
	c.json(http.StatusOK, out)
}

func (s *Server) getOrganization(c *call) {
	id := c.path("organization_id")
	for _, o := range s.orgs {
		if o.id == id {
			c.json(http.StatusOK, orgOut{ID: o.id, Name: o.name, URLSlug: o.slug})
			return
		}
	}
	c.fail(http.StatusNotFound, "organization %q not found", id)
}

func (s *Server) listAccounts(c *call) {
	q := c.r.URL.Query()
	name := strings.ToLower(q.Get("name"))
	orgID := q.Get("organization_id")
	out := make([]accountOut, 0, len(s.accounts))
	for _, a := range s.accounts {
		if orgID != "" && a.orgID != orgID {
			continue
		}
		if name != "" && !strings.Contains(strings.ToLower(a.name), name) {
			continue
		}
		out = append(out, accountJSON(a))
	}
	c.json(http.StatusOK, out)
}

func (s *Server) getAccount(c *call) {
	if a := c.account("account_id"); a != nil {
		c.json(http.StatusOK, accountJSON(a))
	}
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// createAccount is POST /accounts (form data as documented).
func (s *Server) createAccount(c *call) {
	p, ok := c.bodyParams()
	if !ok {
		return
	}
	o, provider, err := s.checkNewAccount(p)
	if err != nil {
		c.fail(http.StatusBadRequest, "%s", err)
		return
	}
	no := false
	spec := AccountSpec{
		Name: p["name"], Organization: o.id, CloudProvider: provider, Active: &no,
		Sandbox: SandboxSpec{ImageVersion: p["master_image_id"]},
		Production: ProductionSpec{Pools: []PoolSpec{{
			Name: p["sandbox_instance_type_id"], InstanceType: p["sandbox_instance_type_id"],
			Elasticity: ElasticitySpec{0, 0, 0}, // a new account serves nobody until capacity is set
		}}},
	}
	if err := normalizeAccount(&spec, "account", s.ids, s.names); err != nil {
		c.fail(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "account: "))
		return
	}
	a := s.newAccount(spec, c.now)
	a.slug = p["url_slug"]
	a.insertedAt = formatTime(c.now)
	s.audit(a, "createAccount", c.now)
	t := s.newTask(c.now, KindCreate, "Creating account "+a.name, a, nil, func(time.Time) { a.active = true })
	lockAccount(a, t)
	c.json(http.StatusOK, s.pendingRequest(a, t, c.now))
}

// checkNewAccount checks POST /accounts' parameters: the organization
// and the provider of the cloud service named, or why the request is bad.
func (s *Server) checkNewAccount(p map[string]string) (*org, string, error) {
	required := []string{"organization_id", "name", "url_slug", "cloud_service_external_id", "data_center_external_id", "sandbox_instance_type_id", "image_family", "master_image_id"}
	var missing []string
	for _, k := range required {
		if strings.TrimSpace(p[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("missing required parameter(s): %s", strings.Join(missing, ", "))
	}
	var o *org
	for _, x := range s.orgs {
		if x.id == p["organization_id"] {
			o = x
		}
	}
	if o == nil {
		return nil, "", fmt.Errorf("organization_id %q: no such organization", p["organization_id"])
	}
	if !slugRE.MatchString(p["url_slug"]) {
		return nil, "", fmt.Errorf("url_slug %q: use lowercase letters, digits and '-'", p["url_slug"])
	}
	for _, a := range s.accounts {
		if a.slug == p["url_slug"] {
			return nil, "", fmt.Errorf("url_slug %q is already used by account %q", p["url_slug"], a.name)
		}
	}
	provider, ok := s.cloudServices[p["cloud_service_external_id"]]
	if !ok {
		if providerName.MatchString(p["cloud_service_external_id"]) {
			provider = p["cloud_service_external_id"]
		} else {
			return nil, "", fmt.Errorf("cloud_service_external_id %q: unknown cloud service", p["cloud_service_external_id"])
		}
	}
	if disk, present, err := intParam(p, "disk_size"); err != nil || (present && (disk < 20 || disk > 2048)) {
		if err == nil {
			err = fmt.Errorf("disk_size %d out of range 20..2048 GiB", disk)
		}
		return nil, "", fmt.Errorf("%v", err)
	}
	return o, provider, nil
}

// ---- pools, sandbox -----------------------------------------------------------------

type poolOut struct {
	DiskSize     int    `json:"disk_size"`
	ExternalID   string `json:"external_id"`
	ID           string `json:"id"`
	ImageFamily  string `json:"image_family"`
	InstanceType string `json:"instance_type"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
}

func imageFamily(provider string) string {
	switch provider {
	case "gcp":
		return "GoogleWindows2016"
	case "azure":
		return "AzureWindows2019"
	default:
		return "FrameAWSWindows2016"
	}
}

func (s *Server) listPools(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	out := []poolOut{}
	for _, p := range append([]*pool{a.sandbox}, a.prod...) {
		out = append(out, poolOut{50, p.externalID, p.id, imageFamily(a.provider), p.instanceType, p.kind, p.name})
	}
	c.json(http.StatusOK, out)
}

func (s *Server) sandboxStatus(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	n := 0
	status := "stopped"
	if a.sandboxRunning {
		n, status = 1, "running_server_available"
	}
	c.json(http.StatusOK, map[string]any{
		"active_servers": n, "active_sessions": 0, "available_servers": n, "buffer_servers": 0,
		"max_servers": 1, "max_users": 0, "min_servers": 0, "pool_id": a.sandbox.id,
		"running_servers": n, "status": status, "total_running_servers": n, "total_servers": 1,
		// Not in the docs' example: the simulator shows what the sandbox holds.
		"image_version": a.sandboxImage,
	})
}

func (a *account) setSandboxRunning(on bool) {
	a.sandboxRunning = on
	for _, srv := range a.servers {
		if srv.pool == a.sandbox {
			srv.running = on
		}
	}
}

// lockAccount makes t hold a until it ends.
func lockAccount(a *account, t *task) {
	a.lock = t
	t.release = func() {
		if a.lock == t {
			a.lock = nil
		}
	}
}

func (s *Server) sandboxPower(action string) func(c *call) {
	return func(c *call) {
		a := c.account("account_id")
		if a == nil || c.busy(a.lock, fmt.Sprintf("account %q", a.name)) {
			return
		}
		s.audit(a, action+"Sandbox", c.now)
		switch action {
		case "start":
			t := s.newTask(c.now, KindPowerOn, "Powering on", a, a.sandbox, func(time.Time) { a.setSandboxRunning(true) })
			lockAccount(a, t)
			c.json(http.StatusOK, s.taskJSON(t, c.now))
		case "reboot":
			t := s.newTask(c.now, KindReboot, "Rebooting", a, a.sandbox, func(time.Time) { a.setSandboxRunning(true) })
			lockAccount(a, t)
			c.json(http.StatusOK, s.taskJSON(t, c.now))
		default:
			t := s.newTask(c.now, KindPowerOff, "Powering off", a, a.sandbox, func(time.Time) { a.setSandboxRunning(false) })
			lockAccount(a, t)
			c.json(http.StatusAccepted, map[string]any{})
		}
	}
}

// clone is POST /accounts/{target_account_id}/pools/{source_pool_id}/clone.
func (s *Server) clone(c *call) {
	target := c.account("target_account_id")
	if target == nil {
		return
	}
	srcID := c.path("source_pool_id")
	src, ok := s.pools[srcID]
	if !ok {
		c.fail(http.StatusNotFound, "pool %q not found", srcID)
		return
	}
	p, ok := c.bodyParams()
	if !ok {
		return
	}
	if _, _, err := boolParam(p, "join_domain"); err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	switch {
	case src.kind != "sandbox":
		c.fail(http.StatusBadRequest, "pool %q is a %s pool; the source of a clone must be a Sandbox pool", srcID, src.kind)
		return
	case src.acct == target:
		c.fail(http.StatusBadRequest, "source pool %q belongs to the target account %q; clone to a different account", srcID, target.name)
		return
	case src.acct.provider != target.provider:
		c.fail(http.StatusBadRequest, "source and target accounts must belong to the same cloud provider (source %q is on %s, target %q on %s)", src.acct.name, src.acct.provider, target.name, target.provider)
		return
	}
	if c.busy(target.lock, fmt.Sprintf("account %q", target.name)) {
		return
	}
	image := src.acct.sandboxImage // what the source holds now is what gets copied
	s.auditOp(target, "clone", "cloneSandbox", c)
	t := s.newTask(c.now, KindClone, "Cloning system", target, target.sandbox, func(time.Time) { target.sandboxImage = image })
	lockAccount(target, t)
	c.json(http.StatusOK, s.pendingRequest(target, t, c.now))
}

func (s *Server) publish(c *call) {
	a := c.account("account_id")
	if a == nil || c.busy(a.lock, fmt.Sprintf("account %q", a.name)) {
		return
	}
	capacity := 0
	for _, p := range a.prod {
		capacity += p.el.MaxServers
	}
	if capacity < 1 {
		c.fail(http.StatusBadRequest, "account %q has no production pool with max_servers >= 1; set a pool's capacity before publishing", a.name)
		return
	}
	image := a.sandboxImage
	s.auditOp(a, "publish", "publishSandbox", c)
	s.publishSeq++
	entry := &publishEntry{id: fmt.Sprintf("gateway-prod.%d", 57000+s.publishSeq), requestID: 1850000 + s.publishSeq, instances: len(a.prod)}
	t := s.newTask(c.now, KindPublish, "Publishing Sandbox to Production", a, nil, func(at time.Time) {
		a.prodImage = image
		a.lastPublish = formatTime(at)
	})
	entry.task = t
	a.publishes = append(a.publishes, entry)
	lockAccount(a, t)
	c.json(http.StatusOK, s.pendingRequest(a, t, c.now))
}

type publishOut struct {
	ID                string `json:"id"`
	LastChange        string `json:"last_change"`
	NumberOfInstances int    `json:"number_of_instances"`
	RequestID         int    `json:"request_id"`
	Status            string `json:"status"`
}

// publishStatusOf maps a task stage to the publish vocabulary
// (in_progress, completed); failed and cancelled publishes say so.
func publishStatusOf(t *task, now time.Time) string {
	switch t.stageAt(now) {
	case StageDone:
		return "completed"
	case StageFailed:
		if bytes.Contains(t.resultInfo, []byte("cancelled")) {
			return "cancelled"
		}
		return "failed"
	default:
		return "in_progress"
	}
}

func (s *Server) publishTasks(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	out := make([]publishOut, 0, len(a.publishes))
	for _, e := range a.publishes {
		last := e.task.inserted
		if e.task.finished {
			last = e.task.updated
		}
		out = append(out, publishOut{e.id, formatTime(last), e.instances, e.requestID, publishStatusOf(e.task, c.now)})
	}
	c.json(http.StatusOK, out)
}

// publishByRequestID finds the publish GET /accounts/:id/publish/:request_id
// addresses: the docs' curl example uses the list's integer request_id.
func (c *call) publishByRequestID(a *account) *publishEntry {
	id := c.path("task_id")
	for _, e := range a.publishes {
		if strconv.Itoa(e.requestID) == id {
			return e
		}
	}
	c.fail(http.StatusNotFound, "publish request %q not found for account %q (the status is addressed by the request_id of GET /accounts/:id/publish/tasks)", id, a.name)
	return nil
}

// publishToCancel finds the publish DELETE /accounts/:id/publish/:task_id
// addresses. The docs call it the "Task id of a publish", the wording the
// status call's table uses for what its curl example names request_id; the
// publish task list calls its gateway-... string "id". Either is accepted.
func (c *call) publishToCancel(a *account) *publishEntry {
	id := c.path("task_id")
	for _, e := range a.publishes {
		if e.id == id || strconv.Itoa(e.requestID) == id {
			return e
		}
	}
	c.fail(http.StatusNotFound, "publish %q not found for account %q (give the id or the request_id of GET /accounts/:id/publish/tasks)", id, a.name)
	return nil
}

func (s *Server) publishStatus(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	if e := c.publishByRequestID(a); e != nil {
		// The documented answer's id is a UUID: the publish's task.
		c.json(http.StatusOK, map[string]string{"status": publishStatusOf(e.task, c.now), "id": e.task.id})
	}
}

func (s *Server) cancelPublish(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	e := c.publishToCancel(a)
	if e == nil {
		return
	}
	if e.task.finished {
		c.fail(http.StatusConflict, "publish %s already ended (%s)", e.id, e.task.stage)
		return
	}
	s.cancel(e.task, c.now, "cancelled")
	c.json(http.StatusOK, map[string]any{})
}

func (s *Server) getTask(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	id := c.path("task_id")
	t, ok := s.taskByID[id]
	if !ok || t.acct != a {
		c.fail(http.StatusNotFound, "task %q not found for account %q", id, a.name)
		return
	}
	c.json(http.StatusOK, s.taskJSON(t, c.now))
}

// ---- elasticity -------------------------------------------------------------------

func (c *call) poolParam() *pool {
	id := c.path("pool_id")
	p, ok := c.s.pools[id]
	if !ok {
		c.fail(http.StatusNotFound, "pool %q not found", id)
		return nil
	}
	return p
}

func (s *Server) getPoolElasticity(c *call) {
	if p := c.poolParam(); p != nil {
		c.json(http.StatusOK, p.el)
	}
}

func (s *Server) setPoolElasticity(c *call) {
	p := c.poolParam()
	if p == nil {
		return
	}
	params, err := c.params()
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	next := p.el
	maxV, hasMax, err := intParam(params, "max_servers")
	if err == nil && !hasMax {
		err = fmt.Errorf("max_servers is required")
	}
	next.MaxServers = maxV
	for _, f := range []struct {
		name string
		dst  *int
	}{{"min_servers", &next.MinServers}, {"buffer_servers", &next.BufferServers}} {
		if err != nil {
			break
		}
		v, present, e := intParam(params, f.name)
		if e != nil {
			err = e
		} else if present {
			*f.dst = v
		}
	}
	if err == nil {
		err = checkElasticity(next)
	}
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	if p.kind != "production" {
		c.fail(http.StatusBadRequest, "pool %q is a %s pool; capacity can be set on production pools only", p.id, p.kind)
		return
	}
	if c.busy(p.lock, fmt.Sprintf("pool %q", p.name)) {
		return
	}
	s.audit(p.acct, "updateElasticitySettings", c.now)
	t := s.newTask(c.now, KindElasticity, "Updating elasticity for "+p.name, p.acct, p, func(time.Time) { p.el = next })
	p.lock = t
	t.release = func() {
		if p.lock == t {
			p.lock = nil
		}
	}
	c.json(http.StatusOK, s.taskJSON(t, c.now))
}

func (s *Server) accountElasticity(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	var sum ElasticitySpec
	for _, p := range a.prod {
		sum.MinServers += p.el.MinServers
		sum.BufferServers += p.el.BufferServers
		sum.MaxServers += p.el.MaxServers
	}
	c.json(http.StatusOK, sum)
}

func (s *Server) getPersistent(c *call) {
	if a := c.account("account_id"); a != nil {
		c.json(http.StatusOK, a.persistent)
	}
}

func (s *Server) setPersistent(c *call) {
	a, p, ok := c.accountWithParams("account_id")
	if !ok {
		return
	}
	next := a.persistent
	maxUsers, hasMax, err := intParam(p, "max_users")
	if err == nil && !hasMax {
		err = fmt.Errorf("max_users is required")
	}
	keep, hasKeep, kerr := boolParam(p, "keep_instances_running_for_new_users")
	if err == nil && kerr != nil {
		err = kerr
	}
	if err == nil && !hasKeep {
		err = fmt.Errorf("keep_instances_running_for_new_users is required")
	}
	backups, hasBackups, berr := intParam(p, "number_of_backups_to_save")
	if err == nil && berr != nil {
		err = berr
	}
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	next.MaxUsers, next.KeepRunning = maxUsers, keep
	if hasBackups {
		next.Backups = backups
	}
	if c.busy(a.pdLock, fmt.Sprintf("persistent desktop settings of account %q", a.name)) {
		return
	}
	s.audit(a, "updatePersistentDesktopElasticitySettings", c.now)
	t := s.newTask(c.now, KindPersistent, "Updating capacity for persistent desktop", a, nil, func(time.Time) { a.persistent = next })
	a.pdLock = t
	t.release = func() {
		if a.pdLock == t {
			a.pdLock = nil
		}
	}
	c.json(http.StatusOK, s.taskJSON(t, c.now))
}

// ---- servers, maintenance ------------------------------------------------------------

func serverJSON(a *account, srv *server) map[string]any {
	status := "stopped"
	if srv.running {
		status = "running"
	}
	zone := map[string]string{"gcp": "us-central1-a", "azure": "eastus-1"}[a.provider]
	if zone == "" {
		zone = "us-west-1a"
	}
	return map[string]any{
		"active": srv.running, "cloud_instance_id": fmt.Sprintf("i-%017x", srv.id), "creation_time": a.insertedAt,
		"debug": false, "desired_status": status, "domain_joined": false, "external_id": srv.externalID,
		"id": srv.id, "in_use": false, "instance_type_name": srv.pool.instanceType, "last_change": a.insertedAt,
		"launch_time": nil, "machine_name": srv.machine, "machine_status": nil, "maintenance": a.underMaintenance,
		"name": srv.name, "pool_external_id": srv.pool.externalID, "pool_name": strings.ToLower(srv.pool.kind),
		"private_ip": fmt.Sprintf("10.0.%d.%d", (srv.id/250)%250, srv.id%250+2), "problem": false,
		"public_hostname": nil, "public_wsport": 443, "recovery": false, "reserved": -1, "server_ip": nil,
		"server_version": "8.4.9.0", "status": status, "upgrade_version": 0, "user_in_session": nil, "zone": zone,
	}
}

func (s *Server) listServers(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	out := make([]map[string]any, 0, len(a.servers))
	for _, srv := range a.servers {
		out = append(out, serverJSON(a, srv))
	}
	c.json(http.StatusOK, out)
}

func (s *Server) serverPower(on bool) func(c *call) {
	return func(c *call) {
		a := c.account("account_id")
		if a == nil {
			return
		}
		id := c.path("server_id")
		srv, ok := s.servers[id]
		if !ok || srv.pool.acct != a {
			c.fail(http.StatusNotFound, "server %q not found in account %q", id, a.name)
			return
		}
		if _, err := c.params(); err != nil {
			c.fail(http.StatusBadRequest, "%v", err)
			return
		}
		if on {
			s.audit(a, "startServer", c.now)
		} else {
			s.audit(a, "stopServer", c.now)
		}
		srv.running = on
		if srv.pool == a.sandbox {
			a.sandboxRunning = on
		}
		c.json(http.StatusOK, serverJSON(a, srv))
	}
}

func (s *Server) maintenance(c *call) {
	a, p, ok := c.accountWithParams("account_id")
	if !ok {
		return
	}
	on, present, err := boolParam(p, "under_maintenance")
	if err == nil && !present {
		err = fmt.Errorf("under_maintenance is required")
	}
	if err != nil {
		c.fail(http.StatusBadRequest, "%v", err)
		return
	}
	s.audit(a, "updateAccountMaintenanceMode", c.now)
	a.underMaintenance = on
	a.maintenanceMessage = p["maintenance_message"]
	out := accountJSON(a)
	c.json(http.StatusOK, map[string]any{
		"website": out.Website, "name": out.Name, "last_publish": out.LastPublish,
		"id": out.ID, "description": out.Description, "active": out.Active,
	})
}

// ---- audit trails ----------------------------------------------------------------

// audit appends an entry to a's trail. Callers hold s.mu.
func (s *Server) audit(a *account, kind string, now time.Time) {
	s.auditSeq++
	a.audit = append(a.audit, auditEntry{
		id:   deriveID("audit", strconv.FormatInt(s.opts.Seed, 10), strconv.Itoa(s.auditSeq)),
		kind: kind,
		at:   now,
	})
}

type auditOut struct {
	ID             string `json:"id"`
	UserFirstName  string `json:"user_first_name"`
	UserLastName   string `json:"user_last_name"`
	UserIDP        string `json:"user_idp"`
	UserEmail      string `json:"user_email"`
	Kind           string `json:"kind"`
	AccountID      string `json:"account_id"`
	OrganizationID string `json:"organization_id"`
	CustomerID     string `json:"customer_id"`
	InsertedAt     string `json:"inserted_at"`
}

// auditTrails is GET /accounts/{account_id}/audit-trails: kind and search
// match as case-insensitive substrings (the docs' "wildcard"), from_date and
// to_date bound inserted_at (inclusive), limit and offset page, order is
// desc (newest first, as the docs' example) unless asc.
func (s *Server) auditTrails(c *call) {
	if s.auditForbidden(c) { // audit.go
		return
	}
	a := c.account("account_id")
	if a == nil {
		return
	}
	f, err := auditFilterOf(c.r.URL.Query())
	if err != nil {
		c.fail(http.StatusBadRequest, "%s", err)
		return
	}
	c.json(http.StatusOK, s.auditEntries(a, f))
}

// auditFilter is an audit-trail query's filters, order and page.
type auditFilter struct {
	from, to            time.Time
	limit, offset       int
	hasLimit            bool
	order, kind, search string
}

// auditFilterOf reads an audit-trail query as the docs describe it, or
// says why it is bad.
func auditFilterOf(q url.Values) (auditFilter, error) {
	var f auditFilter
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"from_date", &f.from}, {"to_date", &f.to}} {
		raw := q.Get(d.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil || !strings.HasSuffix(raw, "Z") {
			return f, fmt.Errorf("%s %q: want an ISO 8601 UTC time with the Z suffix, e.g. 2021-12-25T23:20:58.128Z", d.name, raw)
		}
		*d.dst = t
	}
	p := map[string]string{"limit": q.Get("limit"), "offset": q.Get("offset")}
	var err error
	var hasOffset bool
	if f.limit, f.hasLimit, err = intParam(p, "limit"); err != nil {
		return f, err
	}
	if f.offset, hasOffset, err = intParam(p, "offset"); err != nil {
		return f, err
	}
	if f.hasLimit != hasOffset {
		return f, fmt.Errorf("limit and offset must be given together")
	}
	f.order = strings.ToLower(q.Get("order"))
	if f.order != "" && f.order != "asc" && f.order != "desc" {
		return f, fmt.Errorf("order %q: want asc or desc", q.Get("order"))
	}
	if ob := q.Get("order_by"); ob != "" && ob != "inserted_at" {
		return f, fmt.Errorf("order_by %q: audit trails can be ordered by inserted_at only", ob)
	}
	f.kind = strings.ToLower(q.Get("kind"))
	f.search = strings.ToLower(q.Get("search"))
	return f, nil
}

// auditEntries is account a's audit trail as f selects it.
func (s *Server) auditEntries(a *account, f auditFilter) []auditOut {
	user := s.opts.ClientID + ".img.frame.nutanix.com_third-party-api"
	out := []auditOut{}
	for _, e := range a.audit {
		if f.kind != "" && !strings.Contains(strings.ToLower(e.kind), f.kind) {
			continue
		}
		// search matches the user's full name ("X X" for API keys), email,
		// idp or the kind.
		if f.search != "" && !strings.Contains(strings.ToLower("x x\x00"+user+"\x00third-party-api\x00"+e.kind), f.search) {
			continue
		}
		if (!f.from.IsZero() && e.at.Before(f.from)) || (!f.to.IsZero() && e.at.After(f.to)) {
			continue
		}
		out = append(out, auditOut{
			ID: e.id, UserFirstName: "X", UserLastName: "X", UserIDP: "third-party-api", UserEmail: user,
			Kind: e.kind, AccountID: a.id, OrganizationID: a.orgID, CustomerID: customerID, InsertedAt: formatTime(e.at),
		})
	}
	if f.order != "asc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	if f.hasLimit {
		start := min(f.offset, len(out))
		out = out[start : start+min(f.limit, len(out)-start)]
	}
	return out
}

// ---- catalogue-like reads ---------------------------------------------------------------

func (s *Server) instanceTypes(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	type it struct {
		DisplayName   string  `json:"display_name"`
		ExternalID    string  `json:"external_id"`
		FGWCompatible *bool   `json:"fgw_compatible"`
		GPU           string  `json:"gpu"`
		GPUMetadata   *string `json:"gpu_metadata"`
		ID            string  `json:"id"`
		Name          string  `json:"name"`
		RAM           int     `json:"ram"`
		VCPU          int     `json:"vcpu"`
	}
	var out []it
	switch a.provider {
	case "gcp":
		out = []it{
			{DisplayName: "Air 8GB (E2)", ExternalID: "gateway-prod.21", GPU: "None", ID: "gateway-prod.21", Name: "e2-standard-2-Windows", RAM: 8, VCPU: 2},
			{DisplayName: "Air 4GB", ExternalID: "gateway-prod.22", GPU: "None", ID: "gateway-prod.22", Name: "custom-2-4096-Windows", RAM: 4, VCPU: 2},
		}
	default:
		out = []it{
			{DisplayName: "Air 4GB", ExternalID: "gateway-prod.1", GPU: "None", ID: "gateway-prod.1", Name: "t2.medium", RAM: 4, VCPU: 2},
			{DisplayName: "Air 8GB", ExternalID: "gateway-prod.2", GPU: "None", ID: "gateway-prod.2", Name: "t3.large", RAM: 8, VCPU: 2},
			{DisplayName: "Pro 122GB", ExternalID: "gateway-prod.3", GPU: "1 GPU", ID: "gateway-prod.3", Name: "g3.4xlarge", RAM: 122, VCPU: 16},
		}
	}
	c.json(http.StatusOK, out)
}

func (s *Server) applications(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	apps := []struct{ name, path string }{
		{"Frame Explorer", `C:\Program Files\Frame\FrameExplorer\FrameExplorer.exe`},
		{"Google Chrome", `C:\Program Files(x86)\Google\Chrome\Application\chrome.exe`},
		{"Customer Service Tool", `C:\Program Files\MarksHardware\cs-tool\cs-tool.exe`},
	}
	out := make([]map[string]any, 0, len(apps))
	for _, app := range apps {
		out = append(out, map[string]any{
			"working_directory": nil, "path": app.path, "name": app.name, "is_updated": false,
			"is_published": true, "is_deleted": false, "id": deriveID("application", a.id, app.name),
			"icon_url": "https://assets.console.nutanix.com/images/apps/" + slugify(app.name) + ".png", "arguments": nil,
		})
	}
	c.json(http.StatusOK, out)
}

func launchpadsOf(a *account) []map[string]any {
	mk := func(kind, name string, order int) map[string]any {
		lp := map[string]any{
			"url_slug": slugify(name),
			"settings": map[string]any{"session_settings": map[string]any{}, "new_app_mode_enabled": false, "is_session_setting_enabled": false},
			"order":    order, "name": name, "kind": kind, "id": deriveID("launchpad", a.id, kind),
			"backgrounds": []any{}, "pools": []any{}, "description": nil, "active": true,
		}
		if kind == "application" {
			lp["applications"] = []any{}
		}
		return lp
	}
	return []map[string]any{mk("desktop", "Desktop 1", 0), mk("application", "Apps 1", 1)}
}

func (s *Server) launchpads(c *call) {
	if a := c.account("account_id"); a != nil {
		c.json(http.StatusOK, launchpadsOf(a))
	}
}

func (s *Server) launchpad(c *call) {
	a := c.account("account_id")
	if a == nil {
		return
	}
	id := c.path("launchpad_id")
	for _, lp := range launchpadsOf(a) {
		if lp["id"] == id {
			c.json(http.StatusOK, lp)
			return
		}
	}
	c.fail(http.StatusNotFound, "launchpad %q not found in account %q", id, a.name)
}

// sortedParamNames is used by the fallback for stable messages.
func sortedParamNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
