package sim

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The estate lives in memory behind Server.mu. Tasks do not run on
// goroutines: each carries its finish time, and every request first
// finishes (in time order) all tasks that are due. A heap keeps that cheap
// for thousands of pending tasks.

type org struct {
	id, name, slug string
}

type account struct {
	id, name, orgID, provider, slug string
	active                          bool
	lastPublish                     string // "" -> null
	insertedAt                      string
	sandboxImage, prodImage         string
	sandboxRunning                  bool
	underMaintenance                bool
	maintenanceMessage              string
	sandbox                         *pool
	prod                            []*pool
	servers                         []*server
	publishes                       []*publishEntry
	persistent                      persistentSettings
	audit                           []auditEntry // oldest first
	// lock is the running task that holds the account (clone, publish,
	// sandbox power, creation); pdLock the persistent-desktop settings task.
	lock, pdLock *task
}

type pool struct {
	id, externalID, kind, name, instanceType string
	acct                                     *account
	el                                       ElasticitySpec
	lock                                     *task // running elasticity task
}

type server struct {
	id         int
	externalID string
	name       string
	pool       *pool
	running    bool
	machine    string
}

type persistentSettings struct {
	KeepRunning bool `json:"keep_instances_running_for_new_users"`
	MaxUsers    int  `json:"max_users"`
	Backups     int  `json:"number_of_backups_to_save"`
}

// publishEntry is one publish as the publish task list documents it: its
// own string id ("gateway-prod.57186"), an integer request_id (what the
// status call is addressed by) and the task the POST answered with.
type publishEntry struct {
	id        string
	task      *task
	requestID int
	instances int
}

// auditEntry is one line of an account's audit trail: who changed what,
// when. Every accepted mutation writes one before it answers, so a client
// that lost the answer can find out whether its request took effect.
type auditEntry struct {
	id, kind string
	at       time.Time
}

type task struct {
	id, kind, display string
	acct              *account
	pool              *pool // nil -> pool_id null
	inserted          time.Time
	startsAt          time.Time // not_started until then
	finishesAt        time.Time
	fails             bool
	resultInfo        json.RawMessage // set when it ends in "failed"
	finished          bool
	stage             string // final stage once finished
	updated           time.Time
	effect            func(at time.Time) // applied once, when it ends in "done"
	release           func()             // frees the locks it holds
	heapIndex         int
}

func (t *task) stageAt(now time.Time) string {
	switch {
	case t.finished:
		return t.stage
	case !now.Before(t.startsAt):
		return StageInProgress
	default:
		return StageNotStarted
	}
}

// Stages as documented (kept here so the simulator does not depend on the
// client package beyond the catalog).
const (
	StageNotStarted = "not_started"
	StageInProgress = "in_progress"
	StageDone       = "done"
	StageFailed     = "failed"
)

func running(t *task) bool { return t != nil && !t.finished }

type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].finishesAt.Equal(h[j].finishesAt) {
		return h[i].inserted.Before(h[j].inserted) // creation order breaks ties
	}
	return h[i].finishesAt.Before(h[j].finishesAt)
}
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.heapIndex = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.heapIndex = -1
	return t
}

// clockLocked makes the state's time monotonic: a request reads the clock
// before it waits for s.mu, and another request may meanwhile have advanced
// the state past that instant; acting at the older time would start a task
// that overlaps one already finished. Callers hold s.mu.
func (s *Server) clockLocked(t time.Time) time.Time {
	if t.Before(s.lastNow) {
		return s.lastNow
	}
	s.lastNow = t
	return t
}

// advance ends every task due by now. Callers hold s.mu.
func (s *Server) advance(now time.Time) {
	for len(s.pending) > 0 && !s.pending[0].finishesAt.After(now) {
		t := heap.Pop(&s.pending).(*task)
		s.finish(t, t.finishesAt)
	}
}

func (s *Server) finish(t *task, at time.Time) {
	t.finished = true
	t.updated = at
	if t.fails {
		t.stage = StageFailed
	} else {
		t.stage = StageDone
		if t.effect != nil {
			t.effect(at)
		}
	}
	if t.release != nil {
		t.release()
	}
}

// cancel ends a running task as failed without its effect.
func (s *Server) cancel(t *task, at time.Time, why string) {
	if t.heapIndex >= 0 && t.heapIndex < len(s.pending) && s.pending[t.heapIndex] == t {
		heap.Remove(&s.pending, t.heapIndex)
	}
	t.fails = true
	t.resultInfo = mustJSON(map[string]string{"message": why})
	s.finish(t, at)
}

func (s *Server) duration(kind string) time.Duration {
	if s.opts.TaskDuration > 0 {
		return s.opts.TaskDuration
	}
	if d, ok := s.durations[kind]; ok {
		return d
	}
	if d, ok := s.durations["default"]; ok {
		return d
	}
	return time.Second
}

// newTask registers a task starting now. Callers hold s.mu.
func (s *Server) newTask(now time.Time, kind, display string, a *account, p *pool, effect func(time.Time)) *task {
	s.taskSeq++
	d := s.duration(kind)
	t := &task{
		id:         deriveID("task", strconv.FormatInt(s.opts.Seed, 10), strconv.Itoa(s.taskSeq)),
		kind:       kind,
		display:    display,
		acct:       a,
		pool:       p,
		inserted:   now,
		startsAt:   now.Add(d / 10),
		finishesAt: now.Add(d),
		updated:    now,
		effect:     effect,
		heapIndex:  -1,
	}
	if s.opts.TaskFailRate > 0 && s.chance(s.opts.TaskFailRate) {
		t.fails = true
		t.resultInfo = mustJSON(map[string]string{"message": fmt.Sprintf("simulated failure of %s (task-fail-rate)", kind)})
	}
	s.tasks = append(s.tasks, t)
	s.taskByID[t.id] = t
	heap.Push(&s.pending, t)
	return t
}

// newAccount builds an account from a normalised spec. Callers hold s.mu.
func (s *Server) newAccount(spec AccountSpec, now time.Time) *account {
	a := &account{
		id:           spec.ID,
		name:         spec.Name,
		orgID:        spec.Organization,
		provider:     spec.CloudProvider,
		slug:         slugify(spec.Name),
		active:       *spec.Active,
		lastPublish:  spec.LastPublish,
		insertedAt:   formatTime(now.Add(-24 * time.Hour)),
		sandboxImage: spec.Sandbox.ImageVersion,
		prodImage:    spec.Production.ImageVersion,
		persistent:   persistentSettings{MaxUsers: 0, Backups: 1},
	}
	a.sandboxRunning = spec.Sandbox.Running
	a.sandbox = &pool{
		id: deriveID("pool", a.id, "sandbox"), kind: "sandbox", name: "Sandbox",
		instanceType: defaultInstanceType(a.provider), acct: a, el: ElasticitySpec{0, 0, 1},
	}
	s.addPool(a.sandbox)
	for _, ps := range spec.Production.Pools {
		p := &pool{id: ps.ID, kind: "production", name: ps.Name, instanceType: ps.InstanceType, acct: a, el: ps.Elasticity}
		s.addPool(p)
		a.prod = append(a.prod, p)
	}
	for _, p := range append([]*pool{a.sandbox}, a.prod...) {
		s.serverSeq++
		srv := &server{
			id: 6810000 + s.serverSeq, pool: p,
			name:    fmt.Sprintf("%s - %d", a.name, 6810000+s.serverSeq),
			machine: fmt.Sprintf("IF-%012X", 0x3B1F59DD0000+s.serverSeq),
		}
		srv.externalID = "gateway-prod." + strconv.Itoa(srv.id)
		srv.running = p.kind == "sandbox" && a.sandboxRunning
		a.servers = append(a.servers, srv)
		s.servers[strconv.Itoa(srv.id)] = srv
		s.servers[srv.externalID] = srv
	}
	s.accounts = append(s.accounts, a)
	s.acctByID[a.id] = a
	return a
}

func (s *Server) addPool(p *pool) {
	s.poolSeq++
	p.externalID = "gateway-prod." + strconv.Itoa(520000+s.poolSeq)
	s.pools[p.id] = p
	if _, taken := s.ids[p.id]; !taken {
		s.ids[p.id] = "pool " + p.name
	}
}

func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ---- snapshot -------------------------------------------------------------

// State is what the simulator holds, for tests and GET /_sim/state.
type State struct {
	Organizations []OrganizationState `json:"organizations"`
	Accounts      []AccountState      `json:"accounts"`
	Pools         []PoolState         `json:"pools"`
	Tasks         []TaskState         `json:"tasks"`
}

// OrganizationState is one organization.
type OrganizationState struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AccountState is one account.
type AccountState struct {
	ID                     string  `json:"id"`
	Name                   string  `json:"name"`
	OrganizationID         string  `json:"organization_id"`
	Active                 bool    `json:"active"`
	CloudProvider          string  `json:"cloud_provider"`
	LastPublish            *string `json:"last_publish"`
	SandboxImageVersion    string  `json:"sandbox_image_version"`
	ProductionImageVersion string  `json:"production_image_version"`
	SandboxRunning         bool    `json:"sandbox_running"`
	UnderMaintenance       bool    `json:"under_maintenance"`
}

// PoolState is one pool.
type PoolState struct {
	ID         string         `json:"id"`
	AccountID  string         `json:"account_id"`
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	Elasticity ElasticitySpec `json:"elasticity"`
}

// TaskState is one task, as of the snapshot.
type TaskState struct {
	ID         string          `json:"id"`
	AccountID  string          `json:"account_id"`
	PoolID     string          `json:"pool_id,omitempty"`
	Kind       string          `json:"kind"`
	Stage      string          `json:"stage"`
	InsertedAt string          `json:"inserted_at"`
	FinishedAt string          `json:"finished_at,omitempty"`
	ResultInfo json.RawMessage `json:"result_info,omitempty"`
}

// Snapshot returns the current state, tasks advanced to now.
func (s *Server) Snapshot() State {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.clockLocked(now)
	s.advance(now)
	st := State{
		Organizations: make([]OrganizationState, 0, len(s.orgs)),
		Accounts:      make([]AccountState, 0, len(s.accounts)),
		Pools:         make([]PoolState, 0, 2*len(s.accounts)),
		Tasks:         make([]TaskState, 0, len(s.tasks)),
	}
	for _, o := range s.orgs {
		st.Organizations = append(st.Organizations, OrganizationState{ID: o.id, Name: o.name})
	}
	for _, a := range s.accounts {
		as := AccountState{
			ID: a.id, Name: a.name, OrganizationID: a.orgID, Active: a.active, CloudProvider: a.provider,
			SandboxImageVersion: a.sandboxImage, ProductionImageVersion: a.prodImage,
			SandboxRunning: a.sandboxRunning, UnderMaintenance: a.underMaintenance,
		}
		if a.lastPublish != "" {
			lp := a.lastPublish
			as.LastPublish = &lp
		}
		st.Accounts = append(st.Accounts, as)
		for _, p := range append([]*pool{a.sandbox}, a.prod...) {
			st.Pools = append(st.Pools, PoolState{ID: p.id, AccountID: a.id, Kind: p.kind, Name: p.name, Elasticity: p.el})
		}
	}
	for _, t := range s.tasks {
		ts := TaskState{ID: t.id, AccountID: t.acct.id, Kind: t.kind, Stage: t.stageAt(now), InsertedAt: formatTime(t.inserted), ResultInfo: t.resultInfo}
		if t.pool != nil {
			ts.PoolID = t.pool.id
		}
		if t.finished {
			ts.FinishedAt = formatTime(t.updated)
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st
}

// AddAccount adds an account as if it had just been opened elsewhere (for
// example to make a saved plan stale in a test). It returns the account id.
func (s *Server) AddAccount(spec AccountSpec) (string, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.clockLocked(now)
	s.advance(now)
	o := s.findOrg(spec.Organization)
	if o == nil {
		return "", fmt.Errorf("sim: add account: unknown organization %q", spec.Organization)
	}
	spec.Organization = o.id
	spec.Production.Pools = append([]PoolSpec(nil), spec.Production.Pools...)
	if err := normalizeAccount(&spec, "account", s.ids, s.names); err != nil {
		return "", fmt.Errorf("sim: add account: %w", err)
	}
	a := s.newAccount(spec, now)
	return a.id, nil
}

func (s *Server) findOrg(ref string) *org {
	if ref == "" {
		if len(s.orgs) > 0 {
			return s.orgs[0]
		}
		return nil
	}
	for _, o := range s.orgs {
		if o.id == ref || strings.EqualFold(o.name, ref) {
			return o
		}
	}
	return nil
}

// SetPoolElasticity changes a pool at once, without a task (for tests that
// need the estate to drift behind a saved plan's back).
func (s *Server) SetPoolElasticity(poolID string, min, buffer, max int) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.clockLocked(now)
	s.advance(now)
	p, ok := s.pools[poolID]
	if !ok {
		return fmt.Errorf("sim: pool %q not found", poolID)
	}
	e := ElasticitySpec{min, buffer, max}
	if err := checkElasticity(e); err != nil {
		return fmt.Errorf("sim: pool %q: %v", poolID, err)
	}
	p.el = e
	return nil
}
