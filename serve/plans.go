package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/plan"
)

// Store is the state backend as the server uses it (the CLI wires the
// one of --state: the state directory or PostgreSQL). Every serve process
// using the same backend sees the same plans and takes the same locks, so
// a plan made on one is applied once whichever the click reaches.
type Store interface {
	// Get reads a named document; (nil, nil) when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// Put writes a named document, replacing it.
	Put(ctx context.Context, name string, body []byte) error
	// DeleteOlder deletes the documents under folder (a name prefix
	// ending in "/") last written more than age ago, by the backend's
	// clock, and says how many.
	DeleteOlder(ctx context.Context, folder string, age time.Duration) (int, error)
	// Lock takes a lock shared with every process using the backend,
	// waiting while another holds it, and returns its release. It is
	// released too when the process dies.
	Lock(ctx context.Context, name string) (release func(), err error)
}

// pendingPlan is a plan made from the page, waiting for approval. The plan
// itself is stored in the backend (durable, seen by every serve process);
// its secret inputs are needed to apply it and are never written anywhere:
// only the process the plan was made on holds them, in memory, and any
// other (or this one after a restart) asks for them again.
type pendingPlan struct {
	ID       string     `json:"id"`
	Playbook string     `json:"playbook"` // file name in the playbooks directory
	Plan     *plan.Plan `json:"plan"`
	By       string     `json:"by"`
	Created  time.Time  `json:"created"`
	// SecretInputs names the secret inputs given when the plan was made
	// (their values are not stored).
	SecretInputs []string `json:"secret_inputs,omitempty"`

	secrets map[string]string // nil: not held by this process
}

// needSecrets lists the secret inputs to ask for before applying.
func (p *pendingPlan) needSecrets() []string {
	if p.secrets != nil {
		return nil
	}
	return p.SecretInputs
}

// appliedRecord says which run applied a plan hash: written (under the
// plan's apply lock) as soon as the run's journal exists.
type appliedRecord struct {
	PlanHash string    `json:"plan_hash"`
	RunID    string    `json:"run_id"`
	Approver string    `json:"approver"`
	At       time.Time `json:"at"`
}

// applyState is one plan's apply in this process: whoever claims a plan
// hash first starts the run; every click on this process while it starts
// (double click, second tab, second person) waits for it and is shown the
// same run.
type applyState struct {
	done  chan struct{} // closed once runID or err is set
	runID string
	err   error // the apply ended before a run started (stale, applied elsewhere, ...): nothing was sent
}

type planStore struct {
	ttl   time.Duration
	store Store

	mu      sync.Mutex
	secrets map[string]map[string]string // by plan id: this process's plans' secret inputs
	made    map[string]time.Time         // when each of them was made, to forget them
	applies map[string]*applyState       // by plan hash
}

func newPlanStore(ttl time.Duration, store Store) *planStore {
	return &planStore{ttl: ttl, store: store, secrets: map[string]map[string]string{}, made: map[string]time.Time{}, applies: map[string]*applyState{}}
}

// randomID is a plan id: 128 random bits in hex, which is also a valid
// document name (base64url could begin with "-").
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var planID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// plansFolder holds the plans made in the page, one document each.
const plansFolder = "serve/plans/"

func planDoc(id string) string { return plansFolder + id + ".json" }

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// appliedDoc names the record of the run that applied hash: its hex
// digest when it is "sha256:HEX" (plans' hashes are), else a digest of it,
// so that any hash makes a valid document name.
func appliedDoc(hash string) string {
	d := strings.TrimPrefix(hash, "sha256:")
	if !hexDigest.MatchString(d) {
		sum := sha256.Sum256([]byte(hash))
		d = hex.EncodeToString(sum[:])
	}
	return "serve/applies/" + d + ".json"
}

// add stores a new plan. Its secret inputs stay in this process only.
func (ps *planStore) add(ctx context.Context, p *pendingPlan, secrets map[string]string) error {
	p.ID = randomID()
	p.Created = time.Now().UTC()
	p.SecretInputs = sortedKeys(secrets)
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := ps.store.Put(ctx, planDoc(p.ID), body); err != nil {
		return fmt.Errorf("storing the plan: %w", err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := time.Now()
	for id, t := range ps.made {
		if now.Sub(t) > ps.ttl {
			delete(ps.made, id)
			delete(ps.secrets, id)
		}
	}
	ps.made[p.ID] = now
	ps.secrets[p.ID] = secrets
	p.secrets = secrets
	return nil
}

// deleteExpired deletes the plans made in the page (by any process on the
// backend) that can no longer be applied: written more than the plan
// lifetime ago. A plan's document is written once, when it is made.
func (ps *planStore) deleteExpired(ctx context.Context) (int, error) {
	return ps.store.DeleteOlder(ctx, plansFolder, ps.ttl)
}

// get reads a plan from the backend; nil when unknown or expired.
func (ps *planStore) get(ctx context.Context, id string) (*pendingPlan, error) {
	if !planID.MatchString(id) {
		return nil, nil
	}
	body, err := ps.store.Get(ctx, planDoc(id))
	if err != nil || body == nil {
		return nil, err
	}
	var p pendingPlan
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("reading plan %s: %w", id, err)
	}
	if p.Plan == nil || p.ID != id {
		return nil, fmt.Errorf("reading plan %s: not a plan", id)
	}
	if time.Since(p.Created) > ps.ttl {
		return nil, nil
	}
	ps.mu.Lock()
	if s, ok := ps.secrets[id]; ok {
		p.secrets = s
	}
	ps.mu.Unlock()
	return &p, nil
}

// claim returns this process's apply of hash, and whether this caller
// must start it.
func (ps *planStore) claim(hash string) (*applyState, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if st, ok := ps.applies[hash]; ok {
		return st, false
	}
	st := &applyState{done: make(chan struct{})}
	ps.applies[hash] = st
	return st, true
}

// applyLock takes hash's apply lock, shared by every serve process on the
// backend, and says which run applied the plan if one did. The lock is
// held until the new run is recorded (recordApplied) or the apply is
// refused, so two processes never both find the plan unapplied.
func (ps *planStore) applyLock(ctx context.Context, hash string) (release func(), applied *appliedRecord, err error) {
	release, err = ps.store.Lock(ctx, "serve-apply:"+hash)
	if err != nil {
		return nil, nil, fmt.Errorf("taking the plan's apply lock: %w; nothing was sent", err)
	}
	body, err := ps.store.Get(ctx, appliedDoc(hash))
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("reading whether the plan was applied: %w; nothing was sent", err)
	}
	if body == nil {
		return release, nil, nil
	}
	var rec appliedRecord
	if err := json.Unmarshal(body, &rec); err != nil || rec.RunID == "" {
		release()
		return nil, nil, errors.New("the record of this plan's apply cannot be read; nothing was sent")
	}
	return release, &rec, nil
}

// applied says which run applied hash, if one did (no lock: for showing).
func (ps *planStore) applied(ctx context.Context, hash string) (*appliedRecord, error) {
	body, err := ps.store.Get(ctx, appliedDoc(hash))
	if err != nil || body == nil {
		return nil, err
	}
	var rec appliedRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// recordApplied records that run applied hash; called with the apply lock
// held, as soon as the run's journal exists.
func (ps *planStore) recordApplied(ctx context.Context, rec appliedRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return ps.store.Put(ctx, appliedDoc(rec.PlanHash), body)
}

// started records the run an apply started; it stays claimed for good.
func (ps *planStore) started(hash string, st *applyState, runID string) {
	ps.mu.Lock()
	st.runID = runID
	ps.mu.Unlock()
	close(st.done)
}

// recorded is started for a plan whose run is recorded in the backend:
// the clicks waiting now are shown the run, and the claim goes, so that a
// later click, like one on another server, is refused naming the run.
func (ps *planStore) recorded(hash string, st *applyState, runID string) {
	ps.mu.Lock()
	if ps.applies[hash] == st {
		delete(ps.applies, hash)
	}
	ps.mu.Unlock()
	ps.started(hash, st, runID)
}

// refused records an apply that ended before sending anything; the claim
// is released so that the plan may be tried again (a stale plan stays
// stale, but an estate can change back).
func (ps *planStore) refused(hash string, st *applyState, err error) {
	ps.mu.Lock()
	st.err = err
	if ps.applies[hash] == st {
		delete(ps.applies, hash)
	}
	ps.mu.Unlock()
	close(st.done)
}

func (ps *planStore) result(st *applyState) (string, error) {
	<-st.done
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return st.runID, st.err
}

// memoryStore is the Store of a server given none (the package's own
// tests): documents and locks of this process only.
type memoryStore struct {
	mu      sync.Mutex
	docs    map[string][]byte
	written map[string]time.Time
	locks   map[string]chan struct{}
}

func newMemoryStore() *memoryStore {
	return &memoryStore{docs: map[string][]byte{}, written: map[string]time.Time{}, locks: map[string]chan struct{}{}}
}

func (m *memoryStore) Get(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.docs[name], nil
}

func (m *memoryStore) Put(_ context.Context, name string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs[name] = append([]byte(nil), body...)
	m.written[name] = time.Now()
	return nil
}

func (m *memoryStore) DeleteOlder(_ context.Context, folder string, age time.Duration) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name, at := range m.written {
		if strings.HasPrefix(name, folder) && time.Since(at) > age {
			delete(m.docs, name)
			delete(m.written, name)
			n++
		}
	}
	return n, nil
}

func (m *memoryStore) Lock(ctx context.Context, name string) (func(), error) {
	for {
		m.mu.Lock()
		held, ok := m.locks[name]
		if !ok {
			ch := make(chan struct{})
			m.locks[name] = ch
			m.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					m.mu.Lock()
					delete(m.locks, name)
					m.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		m.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
