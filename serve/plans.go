package serve

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/frameflow/frameflow/plan"
)

// pendingPlan is a plan made from the page, waiting for approval. It lives
// in memory only: its secret inputs are needed to apply it and are never
// written to disk or sent back to a browser.
type pendingPlan struct {
	ID       string
	Playbook string // file name in the playbooks directory
	Plan     *plan.Plan
	By       string
	Created  time.Time
	secrets  map[string]string
}

// applyState is one plan's apply: whoever claims a plan hash first starts
// the run; every later click (double click, second tab, second person)
// waits for it and is shown the same run.
type applyState struct {
	done  chan struct{} // closed once runID or err is set
	runID string
	err   error // the apply ended before a run started (stale, ...): nothing was sent
}

type planStore struct {
	ttl time.Duration

	mu      sync.Mutex
	plans   map[string]*pendingPlan
	applies map[string]*applyState // by plan hash
}

func newPlanStore(ttl time.Duration) *planStore {
	return &planStore{ttl: ttl, plans: map[string]*pendingPlan{}, applies: map[string]*applyState{}}
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ps *planStore) add(p *pendingPlan) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := time.Now()
	for id, old := range ps.plans {
		if now.Sub(old.Created) > ps.ttl {
			delete(ps.plans, id)
		}
	}
	p.ID = randomID()
	p.Created = now
	ps.plans[p.ID] = p
}

func (ps *planStore) get(id string) *pendingPlan {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.plans[id]
	if p == nil || time.Since(p.Created) > ps.ttl {
		return nil
	}
	return p
}

// claim returns the apply of hash, and whether this caller must start it.
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

// started records the run an apply started; it stays claimed for good.
func (ps *planStore) started(hash string, st *applyState, runID string) {
	ps.mu.Lock()
	st.runID = runID
	ps.mu.Unlock()
	close(st.done)
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
