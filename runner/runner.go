package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
	"github.com/frameflow/frameflow/state"
	"github.com/frameflow/frameflow/steps"
)

// Secrets is where secret values are registered so that nothing shown to a
// person or written to a log carries them (the CLI's redactor).
type Secrets interface {
	// Add registers secret values.
	Add(values ...string)
	// String returns s with every registered secret replaced.
	String(s string) string
}

// Config is what every operation of a Service shares.
type Config struct {
	// StateDir holds run journals, the plans apply runs execute and doctor
	// findings when OpenState is nil (the local backend); with any backend
	// it is where the old doctor.json findings file is still read from.
	StateDir string
	// OpenState returns the state backend (docs/state.md): journals,
	// resource locks shared with other runs, applied plans. Called when an
	// operation needs it; the caller owns (caches and closes) what it
	// returns. Nil: the local backend in StateDir.
	OpenState func() (state.Backend, error)
	// LockTimeout bounds a step's wait for a resource another run holds;
	// 0: state.DefaultLockTimeout.
	LockTimeout time.Duration
	// APIURL and Credentials override the environment's FRAME_API_URL and
	// the client id and secret (see frame.ConfigFromEnv).
	APIURL      string
	Credentials string
	UserAgent   string
	// Getenv reads the environment (FRAME_*, and a workflow's env:). Nil:
	// an empty environment.
	Getenv func(string) string
	Logger *slog.Logger
	// Secrets receives every secret as soon as it is known. Nil: secrets
	// are still kept out of journals and plans, but nothing redacts output.
	Secrets Secrets
}

// Service performs workflow operations. It holds no per-run state: one
// Service serves any number of concurrent operations.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Secrets == nil {
		cfg.Secrets = noSecrets{}
	}
	return &Service{cfg: cfg}
}

// StateDir is where journals are kept.
func (s *Service) StateDir() string { return s.cfg.StateDir }

// Client builds the signed API client. The client secret is registered
// with Config.Secrets before anything can print it. onRequest may be nil.
func (s *Service) Client(readOnly bool, onRequest func(frame.RequestInfo)) (*frame.Client, error) {
	cfg, err := frame.ConfigFromEnv(s.cfg.Getenv, s.cfg.APIURL, s.cfg.Credentials)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	s.cfg.Secrets.Add(cfg.ClientSecret)
	cfg.ReadOnly = readOnly
	cfg.Logger = s.cfg.Logger
	cfg.OnRequest = onRequest
	cfg.UserAgent = s.cfg.UserAgent
	c, err := frame.NewClient(cfg)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	// v1alpha requests (api.call with api: v1alpha) go to a base derived
	// from the v1 URL unless FRAME_API_V1ALPHA_URL says otherwise.
	if c, err = c.WithV1AlphaEnv(s.cfg.Getenv); err != nil {
		return nil, &ConfigError{Err: err}
	}
	return c, nil
}

// NewRegistry builds the step registry. client may be nil (validation,
// schemas, offline plans): step types then never touch the API. findings
// (may be nil) are what doctor confirmed about the estate: only with them
// does the absence of an audit entry prove a clone was not sent.
func NewRegistry(client *frame.Client, findings *frame.Findings) (*engine.Registry, error) {
	reg := engine.NewRegistry()
	if err := steps.Register(reg, steps.Deps{Client: client, Poller: steps.NewPoller(steps.PollConfig{}), Findings: findings}); err != nil {
		return nil, err
	}
	return reg, nil
}

// Load reads, checks and compiles one workflow file. Every problem is
// returned at once, sorted by position, duplicates removed.
func Load(file string, reg *engine.Registry) (*engine.Program, schema.Diagnostics) {
	data, err := schema.ReadSource(file)
	if err != nil {
		return nil, readDiagnostics(file, err)
	}
	return Compile(file, data, reg)
}

// Compile checks and compiles a workflow's source: the one path from text
// to program (load, compile, dedupe), used by every command.
func Compile(file string, data []byte, reg *engine.Registry) (*engine.Program, schema.Diagnostics) {
	wf, diags := schema.Load(file, data, schema.LoadOptions{StepTypes: reg.SchemaInfos()})
	if wf == nil {
		return nil, dedupe(diags)
	}
	prog, cdiags := engine.Compile(wf, reg)
	diags = dedupe(append(diags, cdiags...))
	if len(diags) > 0 {
		return nil, diags
	}
	return prog, nil
}

// readDiagnostics reports a workflow file that cannot be read as a problem
// at its first position, like any other problem with the file.
func readDiagnostics(file string, err error) schema.Diagnostics {
	msg := "cannot read: " + err.Error()
	if os.IsNotExist(err) {
		msg = "no such file"
	}
	return schema.Diagnostics{{Pos: schema.Pos{File: file, Line: 1, Col: 1}, Message: msg}}
}

// dedupe drops repeated problems (the loader and the compiler may both
// see one) and sorts the rest by position, as the loader does.
func dedupe(ds schema.Diagnostics) schema.Diagnostics {
	seen := make(map[string]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		k := d.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	schema.SortDiagnostics(out)
	return out
}

// Inputs are a workflow's inputs as a caller has them: typed values (a
// YAML or JSON file, a saved plan, a journal, a web form's JSON) and text
// to be converted by each input's declared type (the CLI's --input k=v).
// Text wins over a typed value of the same name.
type Inputs struct {
	Values map[string]any
	Text   map[string]string
	// Positions are where Values stand in their file (--inputs FILE), by
	// name, so that a bad value's error says FILE:LINE:COL; optional.
	Positions map[string]schema.Pos
}

// filePos is where the value of input name given in a file stands, when
// that value is the one bound (Text wins over it).
func (in Inputs) filePos(name string) (schema.Pos, bool) {
	if _, text := in.Text[name]; text {
		return schema.Pos{}, false
	}
	p, ok := in.Positions[name]
	return p, ok
}

// located puts FILE:LINE:COL before each of err's problems whose value
// came from a file (see Inputs.Positions); other errors are returned as
// they are.
func (in Inputs) located(err error) error {
	var be *engine.BindError
	if !errors.As(err, &be) || len(in.Positions) == 0 {
		return err
	}
	out := &engine.BindError{}
	for _, p := range be.Problems {
		if pos, ok := in.filePos(p.Input); ok {
			p.Message = pos.String() + ": " + p.Message
		}
		out.Problems = append(out.Problems, p)
	}
	return out
}

// Request names a workflow and its inputs.
type Request struct {
	File string
	// Source is the workflow's text; nil: read File.
	Source []byte
	Inputs Inputs
	// Parallelism overrides the workflow's concurrency when > 0.
	Parallelism int
	// Offline prepares without an API client: only offline plans and
	// preflight are possible, and no credentials are needed.
	Offline bool
}

// Workflow is a prepared workflow: loaded, validated, compiled once, its
// inputs bound, and (unless offline) one API client built. Plan, preflight,
// run and apply all use this one preparation. Operations on one Workflow
// run one at a time; prepare again for concurrent work.
type Workflow struct {
	svc         *Service
	file        string
	source      []byte
	prog        *engine.Program
	reg         *engine.Registry
	inputs      map[string]any
	client      *frame.Client
	findings    *frame.Findings // what doctor confirmed about this estate, or nil
	findingsErr error           // why findings could not be read (then nil)
	parallelism int

	mu          sync.Mutex       // one operation at a time
	preflighted bool             // Preflight passed: Run need not repeat it
	planChecked string           // the saved plan hash CheckPlan found current
	events      engine.EventSink // the running operation's sink, for request events
	evMu        sync.RWMutex
}

// Prepare loads, validates and compiles a workflow and binds its inputs.
// Nothing is sent. Errors: *WorkflowError (every problem of the file),
// *InputError, *ConfigError (credentials).
func (s *Service) Prepare(req Request) (*Workflow, error) {
	src := req.Source
	if src == nil {
		b, err := schema.ReadSource(req.File)
		if err != nil {
			return nil, &WorkflowError{Diagnostics: readDiagnostics(req.File, err)}
		}
		src = b
	}
	w := &Workflow{svc: s, file: req.File, source: src, parallelism: req.Parallelism}
	if !req.Offline {
		c, err := s.Client(false, w.onRequest)
		if err != nil {
			return nil, err
		}
		w.client = c
	}
	if w.client != nil {
		w.findings, w.findingsErr = s.loadFindings(w.client)
	}
	reg, err := NewRegistry(w.client, w.findings)
	if err != nil {
		return nil, err
	}
	w.reg = reg
	prog, diags := Compile(req.File, src, reg)
	if len(diags) > 0 {
		return nil, &WorkflowError{Diagnostics: diags}
	}
	w.prog = prog
	in, err := prog.BindInputs(req.Inputs.Text, req.Inputs.Values)
	if err != nil {
		return nil, &InputError{Err: req.Inputs.located(err)}
	}
	s.cfg.Secrets.Add(prog.SecretValues(in)...)
	w.inputs = in
	return w, nil
}

// Notes are what a person should know before anything is sent, e.g. that
// a lost clone answer will stop for their decision because no doctor
// findings confirm the audit kind clones write on this estate.
func (w *Workflow) Notes() []string {
	if w.client == nil || !usesStep(w.prog.Workflow().Steps, "sandbox.clone") {
		return nil
	}
	if w.findings.ConfirmedAuditKinds("clone") != nil {
		if w.findings.LegacyFile == "" {
			return nil
		}
		return []string{fmt.Sprintf("the doctor findings used come from the old file %s, which names no credential and is not shared through the state backend: "+
			"run `frameflow doctor` to record them in the state backend for this credential", w.findings.LegacyFile)}
	}
	const consequence = "a clone whose answer is lost stops for your decision (frameflow resume RUN --mark KEY=sent|not-sent) instead of being proven unsent"
	if w.findingsErr != nil {
		// Said apart from the usual note: the person must see that the
		// state backend itself failed, not that doctor was never run.
		return []string{fmt.Sprintf("the `frameflow doctor` findings could not be read from the state backend, so %s; the error: %v", consequence, w.findingsErr)}
	}
	// The docs never say which audit kind a clone writes.
	return []string{fmt.Sprintf("no `frameflow doctor` findings confirm the audit kind of clones on %s for this credential: %s", w.client.BaseURL(), consequence)}
}

// loadFindings reads what doctor confirmed about client's estate and
// credential from the state backend (or the old local file). A backend
// that cannot be read leaves the run without findings, which is the
// cautious side: a lost clone answer then waits for an operator. The
// error is kept for the plan's note.
func (s *Service) loadFindings(client *frame.Client) (*frame.Findings, error) {
	if s.cfg.OpenState == nil {
		if _, err := os.Stat(s.cfg.StateDir); err != nil {
			return nil, nil // no state directory: no findings, and none made for a mere plan
		}
	}
	b, err := s.backend()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return frame.LoadFindings(ctx, b, s.cfg.StateDir, client.BaseURL(), client.CredentialID())
}

// usesStep reports whether any step (in groups, and in the playbooks it
// calls with uses: ./lib/x.yaml) uses step type name.
func usesStep(ss []*schema.Step, name string) bool {
	for _, st := range ss {
		if st.IsGroup() && usesStep(st.Steps, name) || st.Uses == name {
			return true
		}
		if st.Callee != nil && usesStep(st.Callee.Steps, name) {
			return true
		}
	}
	return false
}

// File is the workflow's path as given.
func (w *Workflow) File() string { return w.file }

// Program is the compiled workflow.
func (w *Workflow) Program() *engine.Program { return w.prog }

// Registry is the step registry the workflow was compiled with.
func (w *Workflow) Registry() *engine.Registry { return w.reg }

// Inputs are the bound inputs, secret values included: never show them;
// RedactedInputs is what may be stored or shown.
func (w *Workflow) Inputs() map[string]any { return w.inputs }

// RedactedInputs are the bound inputs with secret values replaced by
// "(sensitive)", as journals and plans store them.
func (w *Workflow) RedactedInputs() map[string]any {
	secret := map[string]bool{}
	for _, i := range w.prog.Workflow().Inputs {
		if i.Secret {
			secret[i.Name] = true
		}
	}
	out := make(map[string]any, len(w.inputs))
	for k, v := range w.inputs {
		if secret[k] {
			out[k] = Sensitive
			continue
		}
		out[k] = v
	}
	return out
}

// Sensitive stands for a secret input's value in journals and plans.
const Sensitive = "(sensitive)"

// secretNames lists the inputs marked secret.
func (w *Workflow) secretNames() []string {
	var out []string
	for _, in := range w.prog.Workflow().Inputs {
		if in.Secret {
			out = append(out, in.Name)
		}
	}
	return out
}

// setEvents routes request events (from the client) to the sink of the
// operation now running; the engine's own events get the sink directly.
func (w *Workflow) setEvents(sink engine.EventSink) {
	w.evMu.Lock()
	w.events = sink
	w.evMu.Unlock()
}

func (w *Workflow) onRequest(ri frame.RequestInfo) {
	w.evMu.RLock()
	sink := w.events
	w.evMu.RUnlock()
	if sink != nil {
		sink(RequestEvent(ri))
	}
}

// RequestEvent is the engine event for one API request attempt.
func RequestEvent(ri frame.RequestInfo) engine.Event {
	return engine.Event{Type: "request", Time: time.Now(), Method: ri.Method, Path: ri.Path, HTTPStatus: ri.Status, Duration: ri.Duration, Attempt: ri.Attempt, Error: ri.Err}
}

// Classify maps an error to the engine's retry class and the server's
// Retry-After.
func Classify(err error) (string, time.Duration) {
	// An unresolved mutation is outcome_unknown whatever the send's error
	// was (none, on resume): never retried, only an operator settles it.
	var ue *journal.UnresolvedError
	if errors.As(err, &ue) {
		return engine.ClassOutcomeUnknown, 0
	}
	// Sent twice, both answers lost, both proven not to have taken effect:
	// the journal allows sending it again, like a lost connection.
	var le *journal.AnswersLostError
	if errors.As(err, &le) {
		return engine.ClassNetwork, 0
	}
	// A called playbook refusing the inputs its caller gives is invalid
	// input, like a step type's invalid request.
	var ce *engine.CallInputError
	if errors.As(err, &ce) {
		return string(frame.ClassInvalid), 0
	}
	c, d := frame.Classify(err)
	return string(c), d
}

// backend is the state backend: Config.OpenState's, else the local one.
func (s *Service) backend() (state.Backend, error) {
	if s.cfg.OpenState != nil {
		return s.cfg.OpenState()
	}
	return state.OpenLocal(s.cfg.StateDir, false)
}

// estate names the API runs mutate, for the journal: runs sharing a state
// backend adopt each other's requests only on the same estate.
func (s *Service) estate() string {
	u := s.cfg.APIURL
	if u == "" {
		u = s.cfg.Getenv(frame.EnvAPIURL)
	}
	if u == "" {
		u = frame.DefaultBaseURL
	}
	return strings.TrimRight(u, "/")
}

// openJournals opens the run journals of the state backend: the one place
// that says where they are kept. Outcome-unknown errors are the client's,
// and everything written is redacted.
func (s *Service) openJournals(assumeNotSent bool) (*journal.Store, error) {
	operator := ""
	if assumeNotSent {
		operator = OperatorName() // --assume-not-sent is a decision too
	}
	b, err := s.backend()
	if err != nil {
		return nil, err
	}
	return b.Journals(journal.Options{
		AssumeNotSent:    assumeNotSent,
		Operator:         operator,
		IsOutcomeUnknown: func(err error) bool { var ou *frame.OutcomeUnknownError; return errors.As(err, &ou) },
		Redact:           s.cfg.Secrets.String,
		Estate:           s.estate(),
	}), nil
}

// sharedLocks is the resource locks run runID shares with other runs.
func (s *Service) sharedLocks(runID string) (engine.ResourceLocker, error) {
	b, err := s.backend()
	if err != nil {
		return nil, err
	}
	timeout := s.cfg.LockTimeout
	if timeout <= 0 {
		timeout = state.DefaultLockTimeout
	}
	return b.Locks(runID, timeout), nil
}

type noSecrets struct{}

func (noSecrets) Add(...string)          {}
func (noSecrets) String(s string) string { return s }
