package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/plan"
	"github.com/frameflow/frameflow/schema"
)

// page is what every template gets: the layout's fields and the page's data.
type page struct {
	Title     string
	Nav       string
	User      string
	CanLogout bool
	Version   string
	Script    string
	Data      any
}

var pageNames = []string{"login", "error", "accounts", "account", "playbooks", "playbook", "plan", "runs", "run"}

var funcs = template.FuncMap{
	// mayDecide: whether the page's user is among a gate's approvers
	// (any user when it names none), as Approve will check.
	"mayDecide": func(approvers []string, user string) bool { return engine.MayDecide(approvers, user) },
	"join":      strings.Join,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"orDash": func(s *string) string {
		if s == nil || *s == "" {
			return "never"
		}
		return *s
	},
	"short": func(h string) string {
		h = strings.TrimPrefix(h, "sha256:")
		if len(h) > 12 {
			return h[:12]
		}
		return h
	},
	"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	// iso and left are a deadline for the script and for people: the page
	// says the time left when rendered, live.js counts it down.
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"left": timeLeft,
	"show": valueString,
}

// timeLeft is the time until t as people read it: 59m 30s, 3h 05m, 20s;
// "no time" once it passed.
func timeLeft(t time.Time) string {
	d := time.Until(t).Round(time.Second)
	switch {
	case d <= 0:
		return "no time"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

func parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("serve: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page. It is rendered to memory first so that a template
// error gives a clean error page, and the result goes through the redactor:
// no page ever carries a known secret, whatever a template does.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	p := page{Title: titles[name], Nav: navOf[name], User: userOf(r), CanLogout: s.auth.required && userOf(r) != "", Version: s.o.Version, Data: data}
	if name == "run" {
		p.Script = "live.js"
	}
	if name == "accounts" {
		p.Script = "filter.js"
	}
	if t, ok := data.(interface{ title() string }); ok {
		p.Title = t.title()
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.o.Logger.Error("render", "page", name, "error", s.o.Redact(err.Error()))
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(s.o.Redact(buf.String())))
}

var titles = map[string]string{"login": "Log in", "error": "Error", "accounts": "Accounts", "account": "Account",
	"playbooks": "Playbooks", "playbook": "Plan a rollout", "plan": "Plan", "runs": "History", "run": "Run"}
var navOf = map[string]string{"accounts": "accounts", "account": "accounts", "playbooks": "playbooks", "playbook": "playbooks",
	"plan": "playbooks", "runs": "runs", "run": "runs"}

type errorData struct {
	Status  int
	Message string
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", errorData{Status: status, Message: s.o.Redact(msg)})
}

// apiError shows an API error: method, path, status and the server's
// message are in its text already (frame.APIError).
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := http.StatusBadGateway
	var ae *frame.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		status = http.StatusNotFound
	}
	s.o.Logger.Warn(what, "error", s.o.Redact(err.Error()))
	s.errorPage(w, r, status, what+": "+err.Error())
}

// --- accounts ---

type accountsData struct {
	Query    string
	Active   string
	Accounts []frame.Account
	Total    int
}

func (s *Server) accountReader() (AccountReader, error) {
	if s.o.Accounts == nil {
		return nil, errors.New("no Frame API configured (set FRAME_API_URL, FRAME_CLIENT_ID and FRAME_CLIENT_SECRET)")
	}
	return s.o.Accounts()
}

func (s *Server) accountsPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.accountReader()
	if err != nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	all, err := c.ListAccounts(r.Context(), "", "")
	if err != nil {
		s.apiError(w, r, "listing accounts", err)
		return
	}
	d := accountsData{Query: r.URL.Query().Get("q"), Active: r.URL.Query().Get("active"), Total: len(all)}
	q := strings.ToLower(strings.TrimSpace(d.Query))
	for _, a := range all {
		if q != "" && !strings.Contains(strings.ToLower(a.Name), q) && !strings.Contains(strings.ToLower(a.ID), q) {
			continue
		}
		if (d.Active == "yes" && !a.Active) || (d.Active == "no" && a.Active) {
			continue
		}
		d.Accounts = append(d.Accounts, a)
	}
	sort.SliceStable(d.Accounts, func(i, j int) bool { return d.Accounts[i].Name < d.Accounts[j].Name })
	s.render(w, r, http.StatusOK, "accounts", d)
}

type accountData struct {
	Account *frame.Account
	Pools   []poolView
}

func (d accountData) title() string { return "Account " + d.Account.Name }

type poolView struct {
	frame.Pool
	Elasticity *frame.Elasticity
	Error      string
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.accountReader()
	if err != nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	id := r.PathValue("id")
	a, err := c.GetAccount(r.Context(), id)
	if err != nil {
		s.apiError(w, r, "reading account "+id, err)
		return
	}
	pools, err := c.ListPools(r.Context(), id)
	if err != nil {
		s.apiError(w, r, "listing the pools of "+a.Name, err)
		return
	}
	d := accountData{Account: a}
	for _, p := range pools {
		pv := poolView{Pool: p}
		if e, err := c.GetPoolElasticity(r.Context(), p.ID); err != nil {
			pv.Error = s.o.Redact(err.Error())
		} else {
			pv.Elasticity = e
		}
		d.Pools = append(d.Pools, pv)
	}
	s.render(w, r, http.StatusOK, "account", d)
}

// --- playbooks ---

type playbookEntry struct {
	Name        string // file name, the URL's key
	Title       string
	Description string
	Problems    []string
}

func (s *Server) playbookFiles() ([]string, error) {
	entries, err := os.ReadDir(s.o.PlaybooksDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *Server) playbooksPage(w http.ResponseWriter, r *http.Request) {
	files, err := s.playbookFiles()
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "reading the playbooks directory: "+err.Error())
		return
	}
	var list []playbookEntry
	for _, f := range files {
		e := playbookEntry{Name: f, Title: f}
		pb, err := s.o.Backend.Playbook(filepath.Join(s.o.PlaybooksDir, f))
		switch {
		case err != nil:
			e.Problems = []string{err.Error()}
		default:
			e.Problems = pb.Problems
			if pb.Workflow != nil {
				e.Title, e.Description = pb.Workflow.Name, pb.Workflow.Description
			}
		}
		list = append(list, e)
	}
	s.render(w, r, http.StatusOK, "playbooks", struct {
		Dir   string
		Books []playbookEntry
	}{s.o.PlaybooksDir, list})
}

// playbook resolves a playbook named in a URL: a plain file of the
// playbooks directory, never a path.
func (s *Server) playbook(name string) (*Playbook, string, error) {
	files, err := s.playbookFiles()
	if err != nil {
		return nil, "", err
	}
	if !slices.Contains(files, name) {
		return nil, "", fs.ErrNotExist
	}
	file := filepath.Join(s.o.PlaybooksDir, name)
	pb, err := s.o.Backend.Playbook(file)
	return pb, file, err
}

// field is one input of the plan form.
type field struct {
	Name        string
	Label       string
	Type        string // string, number, integer, boolean, list, object
	Control     string // text, number, password, select, textarea
	Step        string
	Value       string
	Options     []string
	Required    bool
	Secret      bool
	Description string
	Error       string
}

type playbookData struct {
	Name     string
	Playbook *Playbook
	Fields   []field
	Problems []string // form-level problems
}

func (d playbookData) title() string {
	if d.Playbook != nil && d.Playbook.Workflow != nil {
		return "Plan " + d.Playbook.Workflow.Name
	}
	return "Plan " + d.Name
}

func formFields(wf *schema.Workflow, given url.Values) []field {
	var out []field
	for _, in := range wf.Inputs {
		f := field{Name: in.Name, Label: in.Name, Type: in.Type, Required: in.Required && !in.HasDefault, Secret: in.Secret, Description: in.Description}
		if in.HasDefault {
			f.Value = valueString(in.Default)
		}
		switch {
		case in.Secret:
			f.Control, f.Value = "password", "" // never echoed back
		case len(in.Enum) > 0:
			f.Control = "select"
			for _, e := range in.Enum {
				f.Options = append(f.Options, valueString(e))
			}
		case in.Type == "boolean":
			f.Control, f.Options = "select", []string{"true", "false"}
		case in.Type == "integer":
			f.Control, f.Step = "number", "1"
		case in.Type == "number":
			f.Control, f.Step = "number", "any"
		case in.Type == "list" || in.Type == "object":
			f.Control = "textarea"
		default:
			f.Control = "text"
		}
		if given != nil && !in.Secret {
			f.Value = given.Get("in." + in.Name)
		}
		out = append(out, f)
	}
	return out
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func (s *Server) playbookPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pb, _, err := s.playbook(name)
	if err != nil {
		s.playbookError(w, r, name, err)
		return
	}
	d := playbookData{Name: name, Playbook: pb}
	if pb.Workflow != nil && len(pb.Problems) == 0 {
		d.Fields = formFields(pb.Workflow, nil)
	}
	s.render(w, r, http.StatusOK, "playbook", d)
}

func (s *Server) playbookError(w http.ResponseWriter, r *http.Request, name string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No playbook %q in %s.", name, s.o.PlaybooksDir))
		return
	}
	s.errorPage(w, r, http.StatusInternalServerError, err.Error())
}

// makePlan plans the playbook with the form's inputs. Bad input shows the
// form again with every problem; nothing is sent.
func (s *Server) makePlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pb, file, err := s.playbook(name)
	if err != nil {
		s.playbookError(w, r, name, err)
		return
	}
	if pb.Workflow == nil || len(pb.Problems) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "playbook", playbookData{Name: name, Playbook: pb})
		return
	}
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	inputs := map[string]string{}
	secrets := map[string]string{}
	for _, in := range pb.Workflow.Inputs {
		v := r.PostForm.Get("in." + in.Name)
		if v == "" {
			continue // the declared default applies
		}
		inputs[in.Name] = v
		if in.Secret {
			secrets[in.Name] = v
		}
	}
	p, err := s.o.Backend.Plan(r.Context(), file, inputs)
	if err != nil {
		d := playbookData{Name: name, Playbook: pb, Fields: formFields(pb.Workflow, r.PostForm)}
		var ie *InputError
		status := http.StatusUnprocessableEntity
		if errors.As(err, &ie) {
			d.Problems = ie.Problems
		} else {
			d.Problems = []string{err.Error()}
			status = http.StatusBadGateway
		}
		for i := range d.Problems {
			d.Problems[i] = s.o.Redact(d.Problems[i])
		}
		s.render(w, r, status, "playbook", d)
		return
	}
	pp := &pendingPlan{Playbook: name, Plan: p, By: userOf(r)}
	if err := s.plans.add(r.Context(), pp, secrets); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, s.o.Redact(err.Error())+"; nothing was sent. Try again.")
		return
	}
	http.Redirect(w, r, "/plans/"+pp.ID, http.StatusSeeOther)
}

// --- plan ---

type planData struct {
	ID         string
	Playbook   string
	Plan       *plan.Plan
	Groups     []changeGroup
	Text       string
	Inputs     []kv
	Stale      *StaleError
	Applied    string // run id when this plan was applied already
	ApplyError string
	MadeBy     string
	// NeedSecrets are the secret inputs to type again: the plan was made
	// on another serve process, or before a restart (their values are
	// never stored).
	NeedSecrets []string
	Problems    []string
}

func (d planData) title() string { return "Plan " + d.Plan.Workflow.Name }

type kv struct{ Key, Value string }

// changeGroup is one kind of change and its targets: plan.Grouped, the
// same grouping as the CLI's text plan, shown as a page.
type changeGroup struct {
	Title       string
	Symbol      string // + create, ~ update, - delete, ! destructive
	Verb        string
	Destructive bool
	Request     string // the method and path pattern
	Headers     string // those http.request sets, credentials masked
	Body        string
	Change      string
	Details     []plan.Detail
	Targets     []string
}

// Open: a short list of targets is shown open, a long one folded.
func (g changeGroup) Open() bool { return len(g.Targets) <= 12 }

func planView(p *plan.Plan, redact func(string) string) (groups []changeGroup, text string) {
	for _, g := range p.Grouped().Groups {
		cg := changeGroup{Title: g.Title(), Symbol: g.Symbol, Verb: g.Verb, Destructive: g.Destructive,
			Request: g.Method + " " + g.Path, Headers: g.Headers, Body: g.Body, Change: g.Change, Details: g.Details}
		for _, m := range g.Members {
			cg.Targets = append(cg.Targets, m.Label())
		}
		groups = append(groups, cg)
	}
	var b strings.Builder
	_ = plan.Render(&b, p, "text", plan.RenderOptions{Redact: redact})
	return groups, b.String()
}

func (s *Server) planData(pp *pendingPlan) planData {
	d := planData{ID: pp.ID, Playbook: pp.Playbook, Plan: pp.Plan, MadeBy: pp.By, NeedSecrets: pp.needSecrets()}
	d.Groups, d.Text = planView(pp.Plan, s.o.Redact)
	for _, k := range sortedKeys(pp.Plan.Inputs) {
		d.Inputs = append(d.Inputs, kv{k, valueString(pp.Plan.Inputs[k])})
	}
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pendingPlan reads the plan of the request's {id} from the backend, or
// answers with an error page and returns nil.
func (s *Server) pendingPlan(w http.ResponseWriter, r *http.Request, unknown string) *pendingPlan {
	pp, err := s.plans.get(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
		s.errorPage(w, r, http.StatusInternalServerError, s.o.Redact(err.Error())+"; nothing was sent.")
	case pp == nil:
		s.errorPage(w, r, http.StatusNotFound, unknown)
	}
	return pp
}

func (s *Server) planPage(w http.ResponseWriter, r *http.Request) {
	pp := s.pendingPlan(w, r, "This plan is unknown or expired (plans made in the page can be applied for a limited time). Make a new plan from the Playbooks page.")
	if pp == nil {
		return
	}
	d := s.planData(pp)
	// Say so before anyone clicks, whichever serve process applied it.
	if rec, err := s.plans.applied(r.Context(), pp.Plan.Hash); err == nil && rec != nil {
		d.Applied = rec.RunID
	}
	s.render(w, r, http.StatusOK, "plan", d)
}

// planJSON is the plan as `frameflow plan --out` saves it, so that it can
// be reviewed elsewhere or applied from a terminal (`frameflow apply`,
// which checks it is not stale the same way). Secret inputs are
// "(sensitive)" in it, as in every plan file.
func (s *Server) planJSON(w http.ResponseWriter, r *http.Request) {
	pp := s.pendingPlan(w, r, "This plan is unknown or expired. Make a new plan from the Playbooks page.")
	if pp == nil {
		return
	}
	var buf bytes.Buffer
	if err := plan.Render(&buf, pp.Plan, "json", plan.RenderOptions{Redact: s.o.Redact}); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.TrimSuffix(pp.Playbook, filepath.Ext(pp.Playbook))+`.plan.json"`)
	_, _ = w.Write(buf.Bytes())
}

// applyPlan approves and applies exactly the plan the page showed: the
// form carries its hash, and a different or stale plan is refused. The
// first click starts the run; any other click on this process while it
// starts is shown that run, and any click after it (on any serve process
// sharing the state backend, after a restart too) is refused, naming it.
func (s *Server) applyPlan(w http.ResponseWriter, r *http.Request) {
	pp := s.pendingPlan(w, r, "This plan is unknown or expired; nothing was sent. Make a new plan from the Playbooks page.")
	if pp == nil {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read; nothing was sent.")
		return
	}
	if h := r.PostForm.Get("plan_hash"); h != pp.Plan.Hash {
		s.errorPage(w, r, http.StatusConflict, fmt.Sprintf("The approval names plan %q but this is plan %s; nothing was sent.", h, pp.Plan.Hash))
		return
	}
	if !pp.Plan.HasChanges() {
		s.errorPage(w, r, http.StatusConflict, "This plan has no changes; there is nothing to apply.")
		return
	}
	secrets := pp.secrets
	if need := pp.needSecrets(); len(need) > 0 {
		var missing []string
		secrets, missing = secretsFromForm(r, need, "secret inputs are not stored with the plan; type it again")
		if len(missing) > 0 {
			d := s.planData(pp)
			d.Problems = missing
			s.render(w, r, http.StatusUnprocessableEntity, "plan", d)
			return
		}
	}
	st, first := s.plans.claim(pp.Plan.Hash)
	if first {
		s.startApply(pp, secrets, userOf(r), st)
	}
	runID, err := s.plans.result(st)
	if err != nil {
		d := s.planData(pp)
		var stale *StaleError
		var done *AlreadyAppliedError
		switch {
		case errors.As(err, &stale):
			d.Stale = stale
		case errors.As(err, &done):
			d.Applied = done.RunID
		default:
			d.ApplyError = s.o.Redact(err.Error())
		}
		s.render(w, r, http.StatusConflict, "plan", d)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(runID), http.StatusSeeOther)
}

// startApply runs the apply in the background (it outlives the request)
// and resolves st as soon as the run exists or the apply was refused.
func (s *Server) startApply(pp *pendingPlan, secrets map[string]string, approver string, st *applyState) {
	lr := s.applyLiveRun(pp)
	s.runsWG.Add(1)
	go func() {
		defer s.runsWG.Done()
		s.runApply(pp, secrets, approver, st, lr)
	}()
}

// applyLiveRun is the page's view of pp's apply, its rows in the order the
// work happens: the top-level steps, then the plan's targets.
func (s *Server) applyLiveRun(pp *pendingPlan) *liveRun {
	var wf *schema.Workflow
	if pb, _, err := s.playbook(pp.Playbook); err == nil {
		wf = pb.Workflow
	}
	lr := newLiveRun("", wf, s.o.Redact)
	if wf != nil {
		for _, st := range wf.Steps {
			if st.ForEach == "" {
				lr.expect(st.ID, "")
			}
		}
	}
	for _, m := range pp.Plan.Mutations {
		lr.expect(m.Step, m.Item)
	}
	return lr
}

// runApply applies pp under the plan's apply lock and resolves st.
func (s *Server) runApply(pp *pendingPlan, secrets map[string]string, approver string, st *applyState, lr *liveRun) {
	hash := pp.Plan.Hash
	// Every serve process on the backend takes the same lock: the one
	// holding it finds the plan unapplied and starts the run, the next
	// finds the run recorded and refuses.
	release, applied, err := s.plans.applyLock(s.ctx, hash)
	if err != nil {
		s.plans.refused(hash, st, err)
		return
	}
	if applied != nil {
		release()
		s.plans.refused(hash, st, &AlreadyAppliedError{PlanHash: hash, RunID: applied.RunID})
		return
	}
	var releaseOnce sync.Once
	unlock := func() { releaseOnce.Do(release) }
	defer unlock()
	var startedOnce atomic.Bool // set from the engine's event sink
	status, err := s.o.Backend.Apply(s.ctx, ApplyRequest{
		Plan: pp.Plan, Inputs: secrets, Approver: approver, Events: lr.Event,
		Started: func(id string) {
			startedOnce.Store(true)
			lr.id = id
			s.live.add(lr)
			// Recorded before the lock goes. Should the write fail, the
			// backend's own check (a run journaled with this plan hash)
			// still refuses a second apply.
			if err := s.plans.recordApplied(s.ctx, appliedRecord{PlanHash: hash, RunID: id, Approver: approver, At: time.Now().UTC()}); err != nil {
				s.o.Logger.Warn("recording the plan's run", "plan", hash, "run", id, "error", s.o.Redact(err.Error()))
			}
			unlock()
			s.plans.recorded(hash, st, id)
		},
	})
	s.o.Logger.Info("apply ended", "plan", pp.Plan.Hash, "status", status, "approver", approver)
	if !startedOnce.Load() {
		if err == nil {
			err = errors.New("the apply ended without starting a run")
		}
		s.plans.refused(pp.Plan.Hash, st, err)
		return
	}
	if err != nil {
		lr.fail(err)
	}
	lr.finish(status)
}

// --- runs ---

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	runs, err := s.o.Backend.Runs()
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "reading the run history: "+err.Error())
		return
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Started.After(runs[j].Started) })
	s.render(w, r, http.StatusOK, "runs", runs)
}

type runData struct {
	Detail    *RunDetail
	Live      bool
	Snapshot  snapshot
	CanResume bool
	Problems  []string
	Groups    []changeGroup
	// Gates: the approval steps the run waits at, with Approve and
	// Reject until someone decided.
	Gates []Gate
}

func (d runData) title() string { return "Run " + d.Detail.ID }

func (s *Server) runData(id string) (runData, error) {
	det, err := s.o.Backend.Run(id)
	if err != nil {
		return runData{}, err
	}
	d := runData{Detail: det}
	// This process's own running run is shown from its events; any other
	// (ended, or another process's) from the journal, which is the truth
	// once a run ended: the terminal may have resumed it since.
	if lr := s.live.get(id); lr != nil && lr.state() == "running" {
		d.Snapshot = lr.snapshot()
		d.Live = true
	} else {
		d.Snapshot = s.journalSnapshot(det)
		d.Snapshot.Status = det.Status
		d.Live = det.Status == "running"
		if lr != nil && det.Status != "running" {
			d.Snapshot.Error = lr.snapshot().Error
		}
	}
	switch det.Status {
	case "failed", "interrupted", "crashed":
		d.CanResume = !det.OnlyRejected
	}
	// Gates come from the journal whoever runs the run: one place for the
	// page's runs and the terminal's. A crashed run's gate can be decided
	// too; the resume finds the decision.
	d.Gates = det.Waiting
	if det.Plan != nil {
		d.Groups, _ = planView(det.Plan, s.o.Redact)
	}
	return d, nil
}

// journalSnapshot is a run's rows from its journal: for runs this process
// did not start (the terminal's) or started before a restart.
func (s *Server) journalSnapshot(det *RunDetail) snapshot {
	lr := newLiveRun(det.ID, s.workflowOf(det.File), s.o.Redact)
	for _, st := range det.Steps {
		lr.Event(stepEvent(st))
	}
	if det.Status == "running" {
		for _, g := range det.Waiting {
			if ev, ok := gateEvent(g); ok {
				lr.Event(ev)
			}
		}
	}
	return lr.snapshot()
}

// gateEvent is a waiting gate as the engine's progress event, so its row
// says waiting as in a run this server executes. A gate inside a fan-out
// is named by its item's key, not the label its row has: only the gates
// panel shows it.
func gateEvent(g Gate) (engine.Event, bool) {
	if strings.Contains(g.Step, "[") {
		return engine.Event{}, false
	}
	return engine.Event{Type: "step_progress", Step: g.Step, Message: "waiting for approval: " + g.Message}, true
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.runData(id)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "run", d)
}

// resumeRun continues a failed or interrupted run, as `frameflow resume`.
func (s *Server) resumeRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read; nothing was sent.")
		return
	}
	d, err := s.runData(id)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, err.Error())
		return
	}
	if d.Live || !d.CanResume {
		http.Redirect(w, r, "/runs/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	secrets, missing := secretsFromForm(r, d.Detail.SecretInputs, "secret inputs are not kept in the journal; type it again")
	if len(missing) > 0 {
		d.Problems = missing
		s.render(w, r, http.StatusUnprocessableEntity, "run", d)
		return
	}
	// One resume at a time per run: the journal's lock refuses a second
	// process, and this claim makes a double click wait for the first.
	claimKey := "resume:" + id + ":" + fmt.Sprint(d.Detail.Attempts)
	st, first := s.plans.claim(claimKey)
	if first {
		lr := newLiveRun(id, s.workflowOf(d.Detail.File), s.o.Redact)
		for _, row := range d.Snapshot.Rows {
			lr.seed(row)
		}
		var startedOnce atomic.Bool
		user := userOf(r)
		s.runsWG.Add(1)
		go func() {
			defer s.runsWG.Done()
			status, err := s.o.Backend.Resume(s.ctx, ResumeRequest{RunID: id, Inputs: secrets, Approver: user, Events: lr.Event,
				Started: func(string) {
					startedOnce.Store(true)
					s.live.add(lr)
					s.plans.started(claimKey, st, id)
				}})
			if !startedOnce.Load() {
				if err == nil {
					err = errors.New("the resume ended without starting")
				}
				s.plans.refused(claimKey, st, err)
				return
			}
			if err != nil {
				lr.fail(err)
			}
			lr.finish(status)
		}()
	}
	if _, err := s.plans.result(st); err != nil {
		d.Problems = []string{s.o.Redact(err.Error())}
		s.render(w, r, http.StatusConflict, "run", d)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(id), http.StatusSeeOther)
}

// decideGate records a person's decision on an approval step the run waits
// at, through the same code as `frameflow approve`, with the page's user as
// the approver. The decision is final: a second one (another tab, another
// person, a terminal) is refused with who decided first.
func (s *Server) decideGate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read; nothing was recorded.")
		return
	}
	step := r.PostForm.Get("step")
	var reject bool
	switch r.PostForm.Get("decision") {
	case "approve":
	case "reject":
		reject = true
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Approve or reject? The form said neither; nothing was recorded.")
		return
	}
	d, err := s.runData(id)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, err.Error())
		return
	}
	waiting := false
	for _, g := range d.Gates {
		waiting = waiting || (g.Step == step && g.Decision == nil)
	}
	if !waiting {
		// Only a gate the run waits at is offered: a decision on anything
		// else would be an old page's, or a forged form's.
		d.Problems = []string{fmt.Sprintf("Run %s does not wait at %q now; nothing was recorded.", id, step)}
		s.render(w, r, http.StatusConflict, "run", d)
		return
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	if len(comment) > 2000 {
		d.Problems = []string{"The comment is longer than 2,000 characters; nothing was recorded."}
		s.render(w, r, http.StatusUnprocessableEntity, "run", d)
		return
	}
	if err := s.o.Backend.Decide(r.Context(), DecideRequest{RunID: id, Step: step, Reject: reject, Comment: comment, By: userOf(r)}); err != nil {
		d.Problems = []string{s.o.Redact(err.Error())}
		s.render(w, r, http.StatusConflict, "run", d)
		return
	}
	s.o.Logger.Info("approval decided", "run", id, "step", step, "rejected", reject, "by", userOf(r))
	http.Redirect(w, r, "/runs/"+url.PathEscape(id), http.StatusSeeOther)
}

// runEvents streams a run's changes as server-sent events. A run this
// process executes streams its engine events as they happen; any other
// running run (a terminal's) streams what its journal records, read again
// every second.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	after := lastEventID(r)
	lr, err := s.streamedRun(r.Context(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	// Approval gates come from the journal whoever runs the run: read
	// every second, sent when they change (a gate starts waiting, someone
	// decides, the step takes the decision up). The page says what it
	// shows (?gates=), so a stream starts with no needless update.
	gatesShown := r.URL.Query().Get("gates")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if !lr.mayWait {
		tick.Stop() // no gate in this playbook: nothing to read
	}
	var buf bytes.Buffer
	for {
		changes, wake, ended := lr.since(after)
		s.encodeChanges(&buf, changes)
		if n := len(changes); n > 0 {
			after = changes[n-1].Seq
		}
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			fl.Flush()
		}
		if ended {
			return // the run's end was the last change
		}
		select {
		case <-wake:
			// Changes come in bursts (2,000 stores finishing a task at
			// once): gather a burst into one write.
			time.Sleep(50 * time.Millisecond)
		case <-tick.C:
			if !s.sendGates(w, fl, id, &gatesShown) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// lastEventID is the sequence number the client has seen: the
// Last-Event-ID header of a reconnect, else ?after=, else 0.
func lastEventID(r *http.Request) int {
	after := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		fmt.Sscan(v, &after)
	} else if v := r.URL.Query().Get("after"); v != "" {
		fmt.Sscan(v, &after)
	}
	return after
}

// streamedRun is run id as this process executes it, else (ended here, or
// run elsewhere) as its journal records it.
func (s *Server) streamedRun(ctx context.Context, id string) (*liveRun, error) {
	lr := s.live.get(id)
	if lr != nil && lr.state() != "running" {
		lr = nil // ended here; the journal knows whether it went on elsewhere
	}
	if lr != nil {
		return lr, nil
	}
	return s.followJournal(ctx, id)
}

// encodeChanges writes changes to buf as server-sent events. A burst
// changes a row several times (started, waiting, done): only its last
// state is sent, so a 2,000-store run costs the browser a few thousand
// updates, not tens of thousands.
func (s *Server) encodeChanges(buf *bytes.Buffer, changes []rowChange) {
	buf.Reset()
	latest := make(map[string]int, len(changes))
	for i, c := range changes {
		if c.Row != nil {
			latest[c.Row.Key] = i
		}
	}
	for i, c := range changes {
		if c.Row != nil && latest[c.Row.Key] != i {
			continue
		}
		b, _ := json.Marshal(c)
		kind := "row"
		if c.Run != "" {
			kind = "run"
		}
		fmt.Fprintf(buf, "id: %d\nevent: %s\ndata: %s\n\n", c.Seq, kind, s.o.Redact(string(b)))
	}
}

// sendGates sends a gates event when run id's gates changed from *shown;
// false when the client is gone.
func (s *Server) sendGates(w http.ResponseWriter, fl http.Flusher, id string, shown *string) bool {
	gates, err := s.o.Backend.Gates(id)
	if err != nil {
		return true // the next tick tries again; the rows go on
	}
	sig := gatesSignature(gates)
	if sig == *shown {
		return true
	}
	*shown = sig
	b, _ := json.Marshal(map[string]string{"gates": sig})
	if _, err := fmt.Fprintf(w, "event: gates\ndata: %s\n\n", s.o.Redact(string(b))); err != nil {
		return false
	}
	fl.Flush()
	return true
}

// gatesSignature names which gates wait and which are decided, as the run
// page's data-gates attribute does: what changes when the page should show
// something else.
func gatesSignature(gates []Gate) string {
	var b strings.Builder
	for _, g := range gates {
		state := "waiting"
		if g.Decision != nil {
			state = "decided"
		}
		b.WriteString(g.Step + "=" + state + ";")
	}
	return b.String()
}

// followJournal feeds a liveRun from a run's journal until it ends or ctx
// does: how a run started in the terminal shows up live in the page.
func (s *Server) followJournal(ctx context.Context, id string) (*liveRun, error) {
	det, err := s.o.Backend.Run(id)
	if err != nil {
		return nil, err
	}
	lr := newLiveRun(id, s.workflowOf(det.File), s.o.Redact)
	// A run's details hold each execution's last record: feed what changed.
	seen := map[[2]string]string{}
	feed := func(det *RunDetail) {
		for _, st := range det.Steps {
			k := [2]string{st.Step, st.Item}
			if seen[k] == st.Status {
				continue
			}
			seen[k] = st.Status
			lr.Event(stepEvent(st))
		}
		for _, g := range det.Waiting {
			k := [2]string{g.Step, ""}
			if seen[k] == "" {
				if ev, ok := gateEvent(g); ok {
					seen[k] = "waiting"
					lr.Event(ev)
				}
			}
		}
		if det.Status != "running" {
			lr.finish(det.Status)
		}
	}
	feed(det)
	if det.Status == "running" {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-s.ctx.Done():
					return
				case <-t.C:
				}
				det, err := s.o.Backend.Run(id)
				if err != nil {
					lr.fail(err)
					return
				}
				feed(det)
				if det.Status != "running" {
					return
				}
			}
		}()
	}
	return lr, nil
}

// workflowOf loads a run's playbook for the shape of its rows (which steps
// make a store's chain); nil when it cannot be read.
func (s *Server) workflowOf(file string) *schema.Workflow {
	pb, err := s.o.Backend.Playbook(file)
	if err != nil || pb == nil {
		return nil
	}
	return pb.Workflow
}

// stepEvent replays a journaled step execution as the engine's event.
func stepEvent(st StepRecord) engine.Event {
	return engine.Event{Type: "step_finished", Step: st.Step, Item: st.Item, Status: engine.Status(st.Status), Error: st.Error, Duration: st.Duration, Attempt: st.Attempts}
}

// secretsFromForm reads the secret inputs named in need from the posted form
// (fields "in.NAME"): the page never keeps them, so they are typed again. An
// empty one is a problem whose text ends with why.
func secretsFromForm(r *http.Request, need []string, why string) (secrets map[string]string, missing []string) {
	secrets = map[string]string{}
	for _, name := range need {
		v := r.PostForm.Get("in." + name)
		if v == "" {
			missing = append(missing, fmt.Sprintf("input %s: %s", name, why))
			continue
		}
		secrets[name] = v
	}
	return secrets, missing
}
