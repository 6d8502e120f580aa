package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
	"github.com/frameflow/frameflow/steps"
	"github.com/spf13/cobra"
)

// `frameflow doctor` checks, read-only, what the docs leave open about one
// Frame estate and one credential, and what the given playbooks need from
// them (docs/doctor.md). It never sends a mutation: its client is
// read-only, so anything but a GET is refused before it leaves the process.
//
// The logic is Doctor, which takes a client, the playbooks and the state
// directory; the cobra command only wires flags and prints.

// DoctorInput is what Doctor examines.
type DoctorInput struct {
	Client    *frame.Client // must be read-only (frame.Config.ReadOnly)
	Playbooks []DoctorPlaybook
	// Journals are the runs (the state backend's) whose clone and publish
	// tasks are correlated with the audit trails; nil: none.
	Journals *journal.Store
	// Findings is where the findings are stored (the state backend's
	// documents), keyed by API URL and credential; nil: not stored.
	Findings frame.Documents
	// Account is the account to probe; "": the target of the latest
	// journaled clone or publish, else the first active account listed.
	Account string
	// Since bounds how old a journaled clone or publish may be to be
	// examined (default 30 days).
	Since time.Duration
	Now   func() time.Time // default time.Now
}

// DoctorPlaybook is one loaded playbook.
type DoctorPlaybook struct {
	File     string
	Workflow *schema.Workflow
}

// Doctor check statuses.
const (
	checkOK   = "ok"
	checkWarn = "warn"
	checkFail = "fail"
	checkSkip = "skip"
)

// DoctorCheck is one row of doctor's table.
type DoctorCheck struct {
	Name     string   `json:"name"`
	Status   string   `json:"status"` // ok, warn, fail, skip
	Detail   string   `json:"detail"`
	NeededBy []string `json:"needed_by,omitempty"` // playbook files
}

// PlaybookVerdict says whether a playbook's needs are met.
type PlaybookVerdict struct {
	File string `json:"file"`
	Met  bool   `json:"met"`
	// Unmet lists endpoints the playbook cannot work without that did not
	// answer; Degraded those whose absence costs only automatic
	// reconciliation (a lost answer then needs an operator).
	Unmet    []string `json:"unmet,omitempty"`
	Degraded []string `json:"degraded,omitempty"`
}

// DoctorReport is everything doctor found (`--format json`).
type DoctorReport struct {
	APIURL    string    `json:"api_url"`
	CheckedAt time.Time `json:"checked_at"`
	Account   string    `json:"account,omitempty"` // the account probed
	// ClockSkewSec is the server's Date minus this machine's clock, in
	// seconds (Date has one-second resolution).
	ClockSkewSec *float64          `json:"clock_skew_sec,omitempty"`
	Checks       []DoctorCheck     `json:"checks"`
	Playbooks    []PlaybookVerdict `json:"playbooks,omitempty"`
	Findings     *frame.Findings   `json:"findings"`
	OK           bool              `json:"ok"`
}

// probeResult is what one endpoint answered.
type probeResult struct {
	status string // checkOK, checkWarn, checkFail, checkSkip
	detail string
	body   []byte
}

type doctor struct {
	in      DoctorInput
	c       *frame.Client
	report  *DoctorReport
	account string
	probes  map[string]*probeResult
	needBy  map[string][]string // endpoint -> playbook files
	known   []journaledTask     // clones and publishes from the journals, newest first
	poolID  string              // a production pool of the probed account
	publish [][2]string         // a publish task's ids {field, value}: request_id, id ...
	pubAcct string              // ... and its account
}

// Doctor runs every check and stores the findings in in.Findings. The
// error is for what stops doctor itself (no client); what it finds wrong is
// in the report (OK false).
func Doctor(ctx context.Context, in DoctorInput) (*DoctorReport, error) {
	if in.Client == nil {
		return nil, errors.New("doctor: no API client")
	}
	if !in.Client.ReadOnly() {
		return nil, errors.New("doctor: the API client must be read-only")
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Since <= 0 {
		in.Since = 30 * 24 * time.Hour
	}
	d := &doctor{
		in: in, c: in.Client, probes: map[string]*probeResult{}, needBy: map[string][]string{},
		report: &DoctorReport{APIURL: in.Client.BaseURL(), CheckedAt: in.Now().UTC()},
	}
	d.report.Findings = &frame.Findings{APIURL: d.report.APIURL, CredentialID: in.Client.CredentialID(), CheckedAt: d.report.CheckedAt}

	if !d.credentials(ctx) {
		// Nothing was examined: storing these empty findings would
		// overwrite what an earlier doctor confirmed for this credential.
		d.finish()
		return d.report, nil
	}
	d.needs()
	for _, name := range d.endpointsToCheck() {
		d.checkEndpoint(ctx, name)
	}
	d.auditKinds(ctx)
	d.finish()
	return d.report, d.save(ctx)
}

func (d *doctor) add(c DoctorCheck) { d.report.Checks = append(d.report.Checks, c) }

func (d *doctor) note(format string, a ...any) {
	d.report.Findings.Notes = append(d.report.Findings.Notes, fmt.Sprintf(format, a...))
}

// credentials makes the first signed GET (GET /accounts) and reads the
// server's clock from its Date header.
func (d *doctor) credentials(ctx context.Context) bool {
	t0 := d.in.Now()
	resp, err := d.c.CallRaw(ctx, "accounts.list", nil)
	t1 := d.in.Now()
	if err != nil {
		var ae *frame.APIError
		hint := ""
		if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
			hint = " (check FRAME_CLIENT_ID and FRAME_CLIENT_SECRET, and this machine's clock: signatures carry a timestamp)"
		}
		d.add(DoctorCheck{Name: "credentials", Status: checkFail, Detail: "a signed GET /accounts failed: " + err.Error() + hint})
		d.clock(nil, t0, t1)
		return false
	}
	d.probes["accounts.list"] = &probeResult{status: checkOK, detail: "answered " + statusText(resp.Status), body: resp.Body}
	d.add(DoctorCheck{Name: "credentials", Status: checkOK, Detail: "a signed GET /accounts answered " + statusText(resp.Status)})
	d.clock(resp.Header, t0, t1)
	return true
}

// clock compares the server's Date with the middle of the request.
func (d *doctor) clock(h http.Header, t0, t1 time.Time) {
	if h == nil {
		d.add(DoctorCheck{Name: "clock skew", Status: checkSkip, Detail: "no answer to read the server's Date from"})
		return
	}
	if h.Get("Date") == "" {
		d.add(DoctorCheck{Name: "clock skew", Status: checkSkip, Detail: "the server sent no Date header"})
		return
	}
	server, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		d.add(DoctorCheck{Name: "clock skew", Status: checkWarn, Detail: fmt.Sprintf("unreadable Date header %q", shortText(h.Get("Date"), 40))})
		return
	}
	// Date has whole seconds (truncated): the server's clock was in
	// [Date, Date+1s) while it answered, some time between t0 and t1.
	mid := t0.Add(t1.Sub(t0) / 2)
	skew := server.Add(500 * time.Millisecond).Sub(mid)
	noise := 500*time.Millisecond + t1.Sub(t0)/2
	sec := skew.Seconds()
	d.report.ClockSkewSec = &sec
	st, detail := checkOK, fmt.Sprintf("server Date %+.1f s from this machine (+/-%.1f s)", sec, noise.Seconds())
	if abs(skew) > 30*time.Second+noise {
		st = checkWarn
		detail += "; signatures carry a timestamp and the docs do not say how much skew Frame accepts: sync this clock (NTP)"
	}
	d.add(DoctorCheck{Name: "clock skew", Status: st, Detail: detail})
}

// needs records, for each playbook, the endpoints its steps call.
func (d *doctor) needs() {
	for _, pb := range d.in.Playbooks {
		seen := map[string]bool{}
		eachEndpointUse(pb, func(u steps.EndpointUse) {
			if !seen[u.Endpoint] {
				seen[u.Endpoint] = true
				d.needBy[u.Endpoint] = append(d.needBy[u.Endpoint], pb.File)
			}
		})
	}
}

// eachEndpointUse calls visit for each endpoint each step of pb calls,
// inside groups and called playbooks too.
func eachEndpointUse(pb DoctorPlaybook, visit func(steps.EndpointUse)) {
	var walk func([]*schema.Step)
	walk = func(ss []*schema.Step) {
		for _, s := range ss {
			if s.IsGroup() {
				walk(s.Steps)
				continue
			}
			if s.Callee != nil { // uses: ./lib/x.yaml: what the library calls
				walk(s.Callee.Steps)
				continue
			}
			endpoint := ""
			if v := s.With["endpoint"]; v != nil {
				endpoint, _ = v.Scalar.(string)
			}
			for _, u := range steps.EndpointsOf(s.Uses, endpoint) {
				visit(u)
			}
		}
	}
	walk(pb.Workflow.Steps)
}

// coreEndpoints are checked whatever the playbooks: the card operations
// and what reconciliation reads.
var coreEndpoints = []string{
	"accounts.list", "accounts.get", "pools.list", "sandbox.status", "pools.elasticity.get",
	"tasks.get", "publish.tasks", "publish.status", "accounts.audit_trails.list",
}

func (d *doctor) endpointsToCheck() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range coreEndpoints {
		seen[n] = true
		out = append(out, n)
	}
	var extra []string
	for n := range d.needBy {
		if !seen[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// checkEndpoint probes one endpoint (reads only) and checks that its
// answer decodes as frameflow expects.
func (d *doctor) checkEndpoint(ctx context.Context, name string) {
	ep, ok := frame.LookupEndpoint(name)
	if !ok {
		d.add(DoctorCheck{Name: name, Status: checkFail, Detail: "not in the catalog", NeededBy: d.needBy[name]})
		return
	}
	pr := d.probe(ctx, ep)
	if pr.status == checkOK && pr.body != nil {
		if msg, ok := decodeCheck(name, pr.body); !ok {
			pr.status, pr.detail = checkFail, "answered but "+msg
		} else if msg != "" {
			pr.detail += "; " + msg
		}
	}
	d.add(DoctorCheck{Name: name, Status: pr.status, Detail: pr.detail, NeededBy: d.needBy[name]})
	if name == "accounts.audit_trails.list" {
		d.report.Findings.AuditTrailsReadable = pr.status == checkOK
	}
}

// probe sends one GET to ep with parameters doctor can fill, or says why
// it did not.
func (d *doctor) probe(ctx context.Context, ep *frame.Endpoint) *probeResult {
	if pr := d.probes[ep.Name]; pr != nil {
		return pr
	}
	pr := d.probeOnce(ctx, ep)
	d.probes[ep.Name] = pr
	return pr
}

func (d *doctor) probeOnce(ctx context.Context, ep *frame.Endpoint) *probeResult {
	if ep.Mutates || ep.Method != http.MethodGet {
		return &probeResult{status: checkSkip, detail: ep.Method + ": a mutation, not sent (doctor only reads)"}
	}
	if d.account == "" {
		d.pickAccount(ctx)
	}
	params := map[string]any{}
	unknownID := false
	for _, p := range ep.Params {
		if !p.Required {
			continue
		}
		switch {
		case p.Name == "account_id" && d.account != "":
			params[p.Name] = d.account
		case p.Name == "pool_id" && d.poolID != "":
			params[p.Name] = d.poolID
		case ep.Name == "publish.status" && p.Name == "task_id" && len(d.publish) > 0:
			return d.probePublishStatus(ctx)
		case ep.Name == "tasks.get" && p.Name == "task_id":
			if t := d.knownTaskOn(d.account); t != nil {
				params["account_id"], params[p.Name] = t.AccountID, t.ID
			} else {
				params[p.Name] = "frameflow-doctor-probe"
				unknownID = true
			}
		default:
			return &probeResult{status: checkSkip, detail: "not probed: needs " + p.Name}
		}
	}
	if ep.Name == "accounts.audit_trails.list" {
		params["limit"], params["offset"] = 1, 0
	}
	resp, err := d.c.CallRaw(ctx, ep.Name, params)
	if err != nil {
		return errorProbe(err, unknownID)
	}
	return &probeResult{status: checkOK, detail: "answered " + statusText(resp.Status), body: resp.Body}
}

// errorProbe judges a read that failed. unknownID: the read asked for an
// id that cannot exist, so a 404 shows only that access was not refused.
func errorProbe(err error, unknownID bool) *probeResult {
	var ae *frame.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusNotFound && unknownID:
			return &probeResult{status: checkOK, detail: "answers (404 for an unknown task id: access not refused; no journaled task to decode)"}
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			return &probeResult{status: checkFail, detail: "refused for this credential: " + err.Error()}
		case ae.Status >= 500 || ae.Status == http.StatusTooManyRequests:
			return &probeResult{status: checkFail, detail: "did not answer: " + err.Error()}
		}
		return &probeResult{status: checkWarn, detail: "answered an error: " + err.Error()}
	}
	return &probeResult{status: checkFail, detail: "did not answer: " + err.Error()}
}

// probePublishStatus reads a publish task's status by each of its ids in
// turn (request_id, then id) and says which one the server answered.
func (d *doctor) probePublishStatus(ctx context.Context) *probeResult {
	var last error
	for _, id := range d.publish {
		resp, err := d.c.CallRaw(ctx, "publish.status", map[string]any{"account_id": d.pubAcct, "task_id": id[1]})
		if err == nil {
			return &probeResult{status: checkOK, detail: "answered " + statusText(resp.Status) + " addressed by the listed " + id[0], body: resp.Body}
		}
		last = err
		var ae *frame.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			break
		}
	}
	return errorProbe(last, false)
}

// pickAccount chooses the account to probe: the one given, else the first
// active account GET /accounts listed.
func (d *doctor) pickAccount(ctx context.Context) {
	if d.known == nil {
		d.known = readJournals(d.in.Journals, d.in.Now().Add(-d.in.Since), 20)
	}
	if d.in.Account != "" {
		d.account = d.in.Account
	} else if acc := d.latestTarget(); acc != "" {
		d.account = acc
	} else if pr := d.probes["accounts.list"]; pr != nil && pr.body != nil {
		var accs []frame.Account
		if json.Unmarshal(pr.body, &accs) == nil {
			for _, a := range accs {
				if a.Active && a.ID != "" {
					d.account = a.ID
					break
				}
			}
		}
	}
	d.report.Account = d.account
	if d.account == "" {
		return
	}
	// Ids other probes need: a pool, a publish request.
	if pools, err := d.c.ListPools(ctx, d.account); err == nil {
		for _, p := range pools {
			if d.poolID == "" || p.Kind == "production" {
				d.poolID = p.ID
			}
		}
	}
	// A publish request to read the status of: the probed account's, else
	// one of an account a journaled publish went to.
	accounts := []string{d.account}
	for _, t := range d.known {
		if t.Op == "publish" && t.AccountID != d.account {
			accounts = append(accounts, t.AccountID)
			break
		}
	}
	for _, acc := range accounts {
		pts, err := d.c.PublishTasks(ctx, acc)
		if err != nil || len(pts) == 0 {
			continue
		}
		// The docs call the status call's parameter a task id and list
		// both an id and a request_id: doctor tries request_id, then id.
		for _, f := range []struct {
			name string
			raw  json.RawMessage
		}{{"request_id", pts[0].RequestID}, {"id", pts[0].ID}} {
			id := strings.Trim(string(f.raw), `"`)
			if id != "" && id != "null" && (len(d.publish) == 0 || d.publish[0][1] != id) {
				d.publish = append(d.publish, [2]string{f.name, id})
			}
		}
		d.pubAcct = acc
		break
	}
}

// decodeCheck decodes an answer into the types frameflow uses and checks
// the fields it relies on. msg is a problem (ok false) or a remark.
func decodeCheck(name string, body []byte) (msg string, ok bool) {
	switch name {
	case "accounts.list":
		return decodeList(body, "accounts", func(a frame.Account) bool { return a.ID != "" && a.Name != "" }, "an account without id or name")
	case "accounts.get":
		var a frame.Account
		if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
			return "does not decode as an account with an id", false
		}
	case "pools.list":
		return decodeList(body, "pools", func(p frame.Pool) bool { return p.ID != "" && p.Kind != "" }, "a pool without id or kind")
	case "sandbox.status":
		var s frame.SandboxStatus
		if err := json.Unmarshal(body, &s); err != nil || s.PoolID == "" {
			return "does not decode as a sandbox status with a pool_id", false
		}
	case "pools.elasticity.get":
		var e frame.Elasticity
		if err := json.Unmarshal(body, &e); err != nil {
			return "does not decode as elasticity settings: " + shortErr(err), false
		}
	case "tasks.get":
		t, err := frame.ExtractTask(body)
		if err != nil {
			return "does not decode as a task: " + shortErr(err), false
		}
		if !steps.StageIsDone(t.Stage) && !steps.StageIsFailed(t.Stage) && !steps.StageIsPending(t.Stage) {
			return fmt.Sprintf("task stage %q is not a documented stage", steps.SanitizeStage(t.Stage)), true
		}
		return "a journaled task decodes (stage " + steps.SanitizeStage(t.Stage) + ")", true
	case "publish.tasks":
		return decodeList(body, "publish tasks", func(p frame.PublishStatus) bool { return p.Status != "" && len(p.ID) > 0 }, "a publish task without id or status")
	case "publish.status":
		if _, err := frame.ExtractPublishStatus(body); err != nil {
			return "does not decode as a publish status: " + shortErr(err), false
		}
	case "accounts.audit_trails.list":
		var v []auditEntry
		if err := json.Unmarshal(body, &v); err != nil {
			return "does not decode as audit-trail entries: " + shortErr(err), false
		}
	}
	return "", true
}

// decodeList decodes a list answer of T (what names its elements) and checks
// that each has the fields frameflow relies on (complete), else names the
// problem (missing).
func decodeList[T any](body []byte, what string, complete func(T) bool, missing string) (msg string, ok bool) {
	var v []T
	if err := json.Unmarshal(body, &v); err != nil {
		return "does not decode as a list of " + what + ": " + shortErr(err), false
	}
	for _, e := range v {
		if !complete(e) {
			return missing, false
		}
	}
	return fmt.Sprintf("%d %s decode", len(v), what), true
}

// auditEntry is one documented audit-trail entry.
type auditEntry struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	AccountID  string `json:"account_id"`
	UserEmail  string `json:"user_email"`
	InsertedAt string `json:"inserted_at"`
}

// journaledTask is a task a run journaled as a mutation's result.
type journaledTask struct {
	// Op is clone or publish (the operations frame.Findings confirms), else
	// the mutation's type: other tasks' entries must not be mistaken for
	// a clone's (a publish follows each clone, an elasticity update each
	// publish, within seconds, on the same account).
	Op        string
	AccountID string
	ID        string
	At        time.Time // when the result was journaled
}

// opOfMutation maps the mutation types whose audit kinds reconciliation
// needs to the names frame.Findings uses.
var opOfMutation = map[string]string{"sandbox.clone": "clone", "sandbox.publish": "publish"}

// readJournals collects the tasks recorded in the run journals of runs
// (newest first, at most per of each op), younger than since. Journals
// are JSON Lines whichever backend keeps them: an intent names the
// mutation's type under its key, a result carries the task the API
// answered.
func readJournals(runs *journal.Store, since time.Time, per int) []journaledTask {
	var out []journaledTask
	var list []journal.RunSummary
	if runs != nil {
		list, _ = runs.List() // no readable history: nothing to correlate
	}
	for _, run := range list {
		if !run.Finished.IsZero() && run.Finished.Before(since) {
			continue // every result of it is older
		}
		data, err := runs.Lines(run.ID)
		if err != nil {
			continue
		}
		types := map[string]string{}
		for line := range bytes.Lines(data) {
			var rec struct {
				T      string          `json:"t"`
				Time   time.Time       `json:"time"`
				Key    string          `json:"key"`
				Type   string          `json:"type"`
				Result json.RawMessage `json:"result"`
			}
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			switch rec.T {
			case "intent":
				types[rec.Key] = rec.Type
			case "result":
				typ := types[rec.Key]
				op := opOfMutation[typ]
				if op == "" {
					op = typ
				}
				if op == "" || rec.Time.Before(since) {
					continue
				}
				var task struct {
					ID        string `json:"id"`
					AccountID string `json:"account_id"`
				}
				if json.Unmarshal(rec.Result, &task) != nil || task.ID == "" || task.AccountID == "" {
					continue // found by reconciliation without a task: nothing to correlate
				}
				out = append(out, journaledTask{Op: op, AccountID: task.AccountID, ID: task.ID, At: rec.Time})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	count := map[string]int{}
	kept := make([]journaledTask, 0, len(out)) // not nil: read once
	for _, t := range out {
		if count[t.Op] < per {
			count[t.Op]++
			kept = append(kept, t)
		}
	}
	return kept
}

// latestTarget is the account of the latest journaled clone or publish: it
// shows more than an untouched account (publish tasks, audit entries).
func (d *doctor) latestTarget() string {
	for _, t := range d.known {
		if t.Op == "clone" || t.Op == "publish" {
			return t.AccountID
		}
	}
	return ""
}

func (d *doctor) knownTaskOn(account string) *journaledTask {
	if d.known == nil {
		d.known = readJournals(d.in.Journals, d.in.Now().Add(-d.in.Since), 20)
	}
	for i := range d.known {
		if d.known[i].AccountID == account || account == "" {
			return &d.known[i]
		}
	}
	if len(d.known) > 0 {
		return &d.known[0]
	}
	return nil
}

// Audit correlation window: an entry belongs to the task created nearest
// to it on the same account, from a little before (clocks of one server,
// but the entry may be written before the task row) to a minute after.
const (
	auditBefore = 5 * time.Second
	auditAfter  = time.Minute
)

// auditKinds reads the audit trail around each journaled clone and
// publish and records the kinds positively seen: a kind is confirmed for
// an operation when an entry of that kind, by the identity that started
// the task, was found near every examined task of the operation and near
// no task of another operation.
func (d *doctor) auditKinds(ctx context.Context) {
	if d.known == nil {
		d.known = readJournals(d.in.Journals, d.in.Now().Add(-d.in.Since), 20)
	}
	if !d.report.Findings.AuditTrailsReadable {
		d.add(DoctorCheck{Name: "audit kinds", Status: checkWarn, Detail: "audit trails are not readable: no kind confirmed; a lost clone or publish answer stops for an operator"})
		d.note("audit trails not readable with this credential: no audit kind confirmed")
		return
	}
	d.recentKinds(ctx)
	tasks := d.seenTasks(ctx)
	if len(tasks) == 0 {
		d.add(DoctorCheck{Name: "audit kinds", Status: checkWarn, Detail: "no clone or publish task in this state directory's journals (last " + days(d.in.Since) + "): no kind confirmed; run doctor again after a rollout"})
		d.note("no journaled clone or publish task to correlate: no audit kind confirmed")
		return
	}
	byAccount := map[string][]*seenTask{}
	for _, t := range tasks {
		byAccount[t.AccountID] = append(byAccount[t.AccountID], t)
	}
	for acc, ts := range byAccount {
		d.matchAuditEntries(ctx, acc, ts)
	}
	for _, op := range []string{"clone", "publish"} {
		d.confirmKinds(op, tasks)
	}
}

// seenTask is a journaled task as the API describes it, with the audit
// kinds seen near its creation.
type seenTask struct {
	journaledTask
	created time.Time
	email   string
	kinds   map[string]time.Duration // kind -> delay after creation
}

// seenTasks reads each journaled task; one gone or unreadable is no
// evidence either way and is left out.
func (d *doctor) seenTasks(ctx context.Context) []*seenTask {
	var tasks []*seenTask
	for _, jt := range d.known {
		resp, err := d.c.CallRaw(ctx, "tasks.get", map[string]any{"account_id": jt.AccountID, "task_id": jt.ID})
		if err != nil {
			continue
		}
		var t struct {
			Kind       string `json:"kind"`
			InsertedAt string `json:"inserted_at"`
			StartedBy  struct {
				Email string `json:"email"`
			} `json:"started_by"`
		}
		if json.Unmarshal(resp.Body, &t) != nil {
			continue
		}
		created, err := time.Parse(time.RFC3339Nano, t.InsertedAt)
		if err != nil {
			continue
		}
		tasks = append(tasks, &seenTask{journaledTask: jt, created: created, email: t.StartedBy.Email, kinds: map[string]time.Duration{}})
	}
	return tasks
}

// matchAuditEntries reads account acc's audit trail around its tasks ts
// and records each entry's kind on the task created nearest to it (by the
// same identity, within the window).
func (d *doctor) matchAuditEntries(ctx context.Context, acc string, ts []*seenTask) {
	from, to := ts[0].created, ts[0].created
	for _, t := range ts {
		from, to = minTime(from, t.created), maxTime(to, t.created)
	}
	entries, err := d.auditBetween(ctx, acc, from.Add(-auditBefore), to.Add(auditAfter))
	if err != nil {
		d.add(DoctorCheck{Name: "audit kinds", Status: checkWarn, Detail: "reading the audit trail of " + acc + ": " + err.Error()})
		return
	}
	for _, e := range entries {
		at, err := time.Parse(time.RFC3339Nano, e.InsertedAt)
		if err != nil || e.Kind == "" {
			continue
		}
		var best *seenTask
		for _, t := range ts {
			delay := at.Sub(t.created)
			if delay < -auditBefore || delay > auditAfter || (t.email != "" && e.UserEmail != "" && e.UserEmail != t.email) {
				continue
			}
			if best == nil || abs(delay) < abs(at.Sub(best.created)) {
				best = t
			}
		}
		if best != nil {
			if old, ok := best.kinds[e.Kind]; !ok || at.Sub(best.created) < old {
				best.kinds[e.Kind] = at.Sub(best.created)
			}
		}
	}
}

// confirmKinds confirms for op the kinds seen in every examined task of
// op and in no task of another, and reports them.
func (d *doctor) confirmKinds(op string, tasks []*seenTask) {
	var mine, others []*seenTask
	for _, t := range tasks {
		if t.Op == op {
			mine = append(mine, t)
		} else {
			others = append(others, t)
		}
	}
	name := "audit kind: " + op
	if len(mine) == 0 {
		d.add(DoctorCheck{Name: name, Status: checkWarn, Detail: "no journaled " + op + " task to correlate: unconfirmed"})
		return
	}
	confirmed, worst := kindsInAll(mine, others)
	if len(confirmed) == 0 {
		d.add(DoctorCheck{Name: name, Status: checkWarn, Detail: fmt.Sprintf("no audit kind seen near all %d %s task(s): unconfirmed", len(mine), op)})
		d.note("%s: no audit kind seen near all %d examined tasks", op, len(mine))
		return
	}
	if d.report.Findings.AuditKinds == nil {
		d.report.Findings.AuditKinds = map[string][]string{}
	}
	d.report.Findings.AuditKinds[op] = confirmed
	msg := fmt.Sprintf("%s seen near %d of %d %s task(s), at most %.1f s after creation", strings.Join(confirmed, ", "), len(mine), len(mine), op, worst.Seconds())
	d.add(DoctorCheck{Name: name, Status: checkOK, Detail: msg})
	d.note("%s: %s", op, msg)
}

// kindsInAll is the kinds seen near every task of mine and near none of
// others, sorted, and the longest delay after creation among them.
func kindsInAll(mine, others []*seenTask) (confirmed []string, worst time.Duration) {
	for k := range mine[0].kinds {
		in := true
		for _, t := range mine {
			if _, ok := t.kinds[k]; !ok {
				in = false
				break
			}
		}
		for _, t := range others {
			if _, ok := t.kinds[k]; ok {
				in = false
			}
		}
		if in {
			confirmed = append(confirmed, k)
			for _, t := range mine {
				worst = max(worst, t.kinds[k])
			}
		}
	}
	sort.Strings(confirmed)
	return confirmed, worst
}

// recentKinds shows, for the operator, which kinds the probed account's
// latest audit entries have. Nothing is confirmed from it: an entry says
// nothing about which request wrote it.
func (d *doctor) recentKinds(ctx context.Context) {
	if d.account == "" {
		return
	}
	resp, err := d.c.CallRaw(ctx, "accounts.audit_trails.list", map[string]any{
		"account_id": d.account, "order_by": "inserted_at", "order": "desc", "limit": 100, "offset": 0,
	})
	if err != nil {
		return // the endpoint's own row already says what went wrong
	}
	var entries []auditEntry
	if json.Unmarshal(resp.Body, &entries) != nil {
		return
	}
	counts := map[string]int{}
	for _, e := range entries {
		counts[e.Kind]++
	}
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s x%d", shortText(cleanLine(k), 40), counts[k]))
	}
	detail := "none on the probed account"
	if len(parts) > 0 {
		detail = strings.Join(parts, ", ") + " in the probed account's latest " + fmt.Sprint(len(entries)) + " entries (shown, not confirmed)"
	}
	d.add(DoctorCheck{Name: "recent audit kinds", Status: checkOK, Detail: detail})
}

// auditBetween reads an account's audit trail between from and to
// (documented from_date/to_date, ISO 8601 UTC with Z), a page at a time.
func (d *doctor) auditBetween(ctx context.Context, account string, from, to time.Time) ([]auditEntry, error) {
	const page = 100
	var out []auditEntry
	for offset := 0; offset < 10*page; offset += page {
		resp, err := d.c.CallRaw(ctx, "accounts.audit_trails.list", map[string]any{
			"account_id": account,
			"from_date":  from.UTC().Format("2006-01-02T15:04:05.000Z"),
			"to_date":    to.UTC().Format("2006-01-02T15:04:05.000Z"),
			"order_by":   "inserted_at", "order": "asc",
			"limit": page, "offset": offset,
		})
		if err != nil {
			return nil, err
		}
		var v []auditEntry
		if err := json.Unmarshal(resp.Body, &v); err != nil {
			return nil, fmt.Errorf("does not decode: %s", shortErr(err))
		}
		out = append(out, v...)
		if len(v) < page {
			break
		}
	}
	return out, nil
}

// finish decides each playbook's verdict and the report's.
func (d *doctor) finish() {
	ok := true
	for _, c := range d.report.Checks {
		if c.Name == "credentials" && c.Status == checkFail {
			ok = false
		}
	}
	for _, pb := range d.in.Playbooks {
		v := PlaybookVerdict{File: pb.File, Met: ok}
		for _, name := range slices.Sorted(maps.Keys(d.needBy)) {
			if !slices.Contains(d.needBy[name], pb.File) {
				continue
			}
			pr := d.probes[name]
			if pr == nil || pr.status != checkFail {
				continue
			}
			if isWitnessOnly(pb, name) {
				v.Degraded = append(v.Degraded, name)
			} else {
				v.Unmet = append(v.Unmet, name)
			}
		}
		if !ok {
			v.Unmet = append(v.Unmet, "credentials")
		}
		v.Met = len(v.Unmet) == 0
		ok = ok && v.Met
		d.report.Playbooks = append(d.report.Playbooks, v)
	}
	d.report.OK = ok
}

// isWitnessOnly reports whether every step of pb that calls endpoint uses
// it as a best-effort witness.
func isWitnessOnly(pb DoctorPlaybook, endpoint string) bool {
	only := true
	eachEndpointUse(pb, func(u steps.EndpointUse) {
		if u.Endpoint == endpoint && u.Role != steps.RoleWitness {
			only = false
		}
	})
	return only
}

func (d *doctor) save(ctx context.Context) error {
	if d.in.Findings == nil {
		return nil
	}
	_, err := frame.SaveFindings(ctx, d.in.Findings, d.report.Findings)
	return err
}

// ---- the command ----

// doctorFlags are doctor's options.
type doctorFlags struct {
	format  string
	account string
	since   time.Duration
}

func (a *app) doctorCmd() *cobra.Command {
	var o doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor [PLAYBOOK...]",
		Short: "Check, read-only, the credential, the clock and what the playbooks need from the Frame API",
		Long: `doctor sends only GET requests. It checks the credential (a signed GET), the
clock against the server's Date header, which endpoints the given playbooks
call and whether each answers (an audit trail refused with 403, ...), whether
the answers decode as frameflow expects (accounts, pools, sandbox, tasks,
publish tasks), and which audit-trail kinds the clones and publishes in this
state backend's journals produced. It stores its findings in the state
backend (--state: the state directory, or PostgreSQL), keyed by API URL and
credential, where every run sharing that backend reads which audit kinds are
confirmed.

Exits 1 when the credential fails or a playbook's needs are unmet.

` + exitCodesHelp,
		ValidArgsFunction: yamlFiles,
		RunE: func(cmd *cobra.Command, files []string) error {
			return a.runDoctor(cmd, files, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.format, "format", "text", "text or json")
	fl.StringVar(&o.account, "account", "", "account to probe (default: the latest journaled clone's or publish's, else the first active account listed)")
	fl.DurationVar(&o.since, "since", 30*24*time.Hour, "how far back journaled clones and publishes are examined")
	return cmd
}

// runDoctor loads the playbooks (nothing is sent when one is invalid),
// runs Doctor read-only and prints its report.
func (a *app) runDoctor(cmd *cobra.Command, files []string, o doctorFlags) error {
	if o.format != "text" && o.format != "json" {
		return usageErr("--format must be text or json, not %q", o.format)
	}
	pbs, err := a.doctorPlaybooks(cmd, files)
	if err != nil {
		return err
	}
	c, err := a.newClient(clientOptions{readOnly: true})
	if err != nil {
		return err
	}
	// Findings and the journals they are drawn from are the state
	// backend's, so that every runner sharing it (PostgreSQL: CI
	// and colleagues) reads what this doctor confirmed.
	be, err := a.openState(cmd.Context())
	if err != nil {
		return err
	}
	rep, err := Doctor(cmd.Context(), DoctorInput{Client: c, Playbooks: pbs, Journals: be.Journals(journal.Options{}), Findings: be, Account: o.account, Since: o.since})
	if rep != nil {
		if werr := a.writeDoctorReport(cmd.OutOrStdout(), rep, o.format, be.Describe(), err == nil); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return silentExit(ExitFailed)
	}
	return nil
}

// doctorPlaybooks loads files; every diagnostic is printed and none sent.
func (a *app) doctorPlaybooks(cmd *cobra.Command, files []string) ([]DoctorPlaybook, error) {
	reg, err := newRegistry()
	if err != nil {
		return nil, err
	}
	var pbs []DoctorPlaybook
	var all schema.Diagnostics
	for _, f := range files {
		prog, ds := loadProgram(f, reg)
		all = append(all, ds...)
		if prog != nil {
			pbs = append(pbs, DoctorPlaybook{File: f, Workflow: prog.Workflow()})
		}
	}
	if len(all) > 0 {
		a.printDiagnostics(cmd.ErrOrStderr(), all)
		return nil, invalidWorkflow(len(all))
	}
	return pbs, nil
}

// writeDoctorReport prints rep as JSON or as the table; saved says the
// findings were stored.
func (a *app) writeDoctorReport(out io.Writer, rep *DoctorReport, format, where string, saved bool) error {
	if format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeDoctorTable(out, rep, where)
	// The old per-URL file is read only where the backend
	// holds nothing: say it is superseded here.
	old := filepath.Join(a.stateDirectory(), frame.FindingsFile)
	if _, serr := os.Stat(old); serr == nil && saved {
		fmt.Fprintf(out, "\nthe old findings file, no longer read for this API URL and credential:\n  %s\n"+
			"delete it once every credential you use has run doctor\n", old)
	}
	return nil
}

// Table widths: the whole line fits 100 columns.
const (
	doctorNameWidth   = 28
	doctorStatusWidth = 4
	doctorDetailWidth = 100 - doctorNameWidth - doctorStatusWidth - 4
)

// writeDoctorTable prints the checks as a table of at most 100 columns,
// long details wrapped, then each playbook's verdict.
func writeDoctorTable(w io.Writer, rep *DoctorReport, where string) {
	fmt.Fprintf(w, "frameflow doctor: %s", rep.APIURL)
	if rep.Account != "" {
		fmt.Fprintf(w, " (probing account %s)", rep.Account)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", doctorNameWidth, "CHECK", doctorStatusWidth, "", "DETAIL")
	for _, c := range rep.Checks {
		detail := c.Detail
		if len(c.NeededBy) > 0 {
			detail += " [needed by " + strings.Join(baseNames(c.NeededBy), ", ") + "]"
		}
		lines := wrap(cleanLine(detail), doctorDetailWidth)
		for i, l := range lines {
			name, st := "", ""
			if i == 0 {
				name, st = shortText(c.Name, doctorNameWidth), c.Status
			}
			fmt.Fprintf(w, "%-*s  %-*s  %s\n", doctorNameWidth, name, doctorStatusWidth, st, l)
		}
	}
	for _, v := range rep.Playbooks {
		switch {
		case !v.Met:
			fmt.Fprintf(w, "\n%s: needs unmet: %s\n", v.File, strings.Join(v.Unmet, ", "))
		case len(v.Degraded) > 0:
			fmt.Fprintf(w, "\n%s: needs met; without %s a lost answer stops for an operator\n", v.File, strings.Join(v.Degraded, ", "))
		default:
			fmt.Fprintf(w, "\n%s: needs met\n", v.File)
		}
	}
	if !rep.reached() {
		fmt.Fprintf(w, "\nthe API could not be reached with this credential (see credentials above): nothing else was checked and no findings were stored\n")
		return
	}
	if where != "" && rep.Findings != nil {
		// One item a line: a path or DSN may be long, the table is not.
		fmt.Fprintf(w, "\nfindings stored for this API URL and credential %s in the state backend\n  %s\n  as %s\n",
			rep.Findings.CredentialID, where, frame.FindingsDocument(rep.Findings.APIURL, rep.Findings.CredentialID))
	}
}

// reached reports whether the credentials check, the first request,
// succeeded: when it failed doctor checked nothing else.
func (rep *DoctorReport) reached() bool {
	for _, c := range rep.Checks {
		if c.Name == "credentials" {
			return c.Status != checkFail
		}
	}
	return false
}

// wrap splits s into lines of at most width bytes, at spaces where it can.
func wrap(s string, width int) []string {
	var out []string
	for len(s) > width {
		cut := strings.LastIndexByte(s[:width+1], ' ')
		if cut <= 0 {
			cut = width
		}
		out = append(out, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(out, s)
}

// cleanLine keeps printable ASCII: details quote server messages.
func cleanLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

func baseNames(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	return out
}

func statusText(code int) string { return fmt.Sprintf("%d", code) }

func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func shortErr(err error) string { return shortText(err.Error(), 120) }

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func days(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	}
	return d.String()
}
