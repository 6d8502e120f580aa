package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

const cloneKind = "clone_pool"

type cloneParams struct {
	TargetAccountID any   `param:"target_account_id,id,required" doc:"The account whose Sandbox is overwritten."`
	SourcePoolID    any   `param:"source_pool_id,id" doc:"The source account's Sandbox pool ID (or give source_account_id)."`
	SourceAccountID any   `param:"source_account_id,id" doc:"The source account; its Sandbox pool is looked up (GET /accounts/:id/sandbox/status, else its pools of kind sandbox)."`
	JoinDomain      *bool `param:"join_domain" doc:"Whether Frame should attempt to join the domain after the Sandbox has been cloned (form field, as the docs' curl example sends it; omitted when not given)."`
	Wait            bool  `param:"wait,wait=clone"`
}

func (s *stepsImpl) sandboxClone() *engine.StepType {
	const name = "sandbox.clone"
	return &engine.StepType{
		Name:        name,
		Description: "Overwrites the target account's Sandbox with a clone of the source account's Sandbox image (everything on the target's Sandbox is lost).",
		Inputs:      inputsOf[cloneParams](""),
		AnyOf:       [][]string{{"target_account_id", "source_pool_id"}, {"target_account_id", "source_account_id"}},
		Outputs: map[string]*engine.Shape{
			"task":           taskShape(),
			"source_pool_id": doc(engine.StringShape(), "the source Sandbox pool cloned from"),
		},
		Mutates:     true,
		Destructive: true,
		Resources:   accountResources("target_account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			p, err := cloneParamsOf(in)
			if err != nil {
				return nil, invalid(name, err)
			}
			source, err := s.cloneSource(ctx, sc, name, p)
			if err != nil {
				return nil, err
			}
			if sc.Mode() == engine.ModeRun && (engine.IsUnknown(p.TargetAccountID) || engine.IsUnknown(source)) {
				return nil, invalidf(name, "the target account or the source pool is not known")
			}
			task, err := s.clone(ctx, sc, name, p, source)
			if err != nil {
				return nil, err
			}
			return map[string]any{"task": task, "source_pool_id": source}, nil
		},
	}
}

func cloneParamsOf(in map[string]any) (p cloneParams, err error) {
	if err := decodeParams(in, "", &p); err != nil {
		return p, err
	}
	byPool, byAccount := p.SourcePoolID != nil, p.SourceAccountID != nil
	switch {
	case byPool && byAccount:
		return p, errors.New("give source_pool_id or source_account_id, not both")
	case !byPool && !byAccount:
		return p, errors.New("source_pool_id or source_account_id is required")
	case byAccount && p.SourceAccountID == p.TargetAccountID && !engine.IsUnknown(p.SourceAccountID):
		return p, fmt.Errorf("the source account %s is the target account: a Sandbox cannot be cloned onto itself", p.SourceAccountID)
	}
	return p, nil
}

// cloneSource returns the source pool: the one given (checked not to be
// the target's own Sandbox pool), or the source account's Sandbox pool;
// Unknown where it cannot be read.
func (s *stepsImpl) cloneSource(ctx context.Context, sc *engine.StepContext, name string, p cloneParams) (any, error) {
	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	if p.SourceAccountID != nil {
		src, known := p.SourceAccountID.(string)
		if c == nil || !known {
			return engine.Unknown, nil
		}
		pool, err := s.sandboxPoolOf(ctx, c, src)
		if err != nil {
			return nil, fmt.Errorf("%s: finding the Sandbox pool of source account %s: %w", name, src, err)
		}
		return pool, nil
	}
	t, ok := p.TargetAccountID.(string)
	if !ok || c == nil {
		return p.SourcePoolID, nil
	}
	// The pool given may be the target's own Sandbox pool.
	st, err := c.SandboxStatus(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%s: checking the target's own Sandbox pool (GET /accounts/%s/sandbox/status): %w", name, t, err)
	}
	if st.PoolID != "" && st.PoolID == p.SourcePoolID {
		return nil, invalidf(name, "source pool %s is the Sandbox pool of the target account %s: a Sandbox cannot be cloned onto itself", st.PoolID, t)
	}
	return p.SourcePoolID, nil
}

// clone builds the clone request once, prepares its reconcile (run mode),
// sends it through the run's recorder and waits when asked. It returns the
// task (the operator's mark, when one decided).
func (s *stepsImpl) clone(ctx context.Context, sc *engine.StepContext, name string, p cloneParams, source any) (any, error) {
	target := p.TargetAccountID
	params := map[string]any{"target_account_id": target, "source_pool_id": source}
	if p.JoinDomain != nil {
		// A form field (-F in the docs' curl example), not the query.
		params["join_domain"] = *p.JoinDomain
	}
	req, err := plannedRequest("", "sandbox.clone", params, frame.Overrides{})
	if err != nil {
		return nil, invalid(name, err)
	}
	m := mutationOf(name, req)
	m.Resources = accountResources("target_account_id")(map[string]any{"target_account_id": target})
	m.Placeholder = taskPlaceholder(target, cloneKind, "Cloning system")
	m.Send = s.sendTask("sandbox.clone", req)
	m.Action = engine.ActionUpdate
	// What a reviewer needs besides the path: where it comes from (named).
	from := map[string]any{"source_account_id": p.SourceAccountID}
	m.Details = cloneDetails(from, source)
	c, err := s.reader(sc)
	if err != nil {
		return nil, err
	}
	m.Names = s.sourcePoolName(ctx, sc, c, from, source)
	if sc.Mode() == engine.ModeRun {
		if s.client == nil {
			return nil, errors.New("no Frame API client configured")
		}
		if err := s.prepareCloneReconcile(ctx, m, target.(string)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if w := notTaken(m.Witness); w != "" {
			// Visible where the operator looks, not only in the journal.
			sc.Progress("no witness taken before cloning (" + w + "); if the answer is lost, the clone waits for your decision")
		}
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil || engine.DecidedByOperator(res) {
		// An operator's mark (resume --mark) says the clone took effect and
		// finished: there is no task to wait on.
		return res, err
	}
	return s.maybeWait(ctx, sc, p.Wait, res, waitSpec{})
}

// cloneWitness is what sandbox.clone reads before sending: the target
// account's clone audit-trail entries since From. The docs never say that a
// clone writes an audit entry, nor with which kind, so an entry that was
// not in it proves the clone was sent (never that it finished: the entry
// does not name the task), and the absence of one proves nothing unless
// `frameflow doctor` confirmed the kind on this estate (Kinds).
type cloneWitness struct {
	From     string   `json:"from_date,omitempty"`
	AuditIDs []string `json:"audit_trail_ids"`
	// Kinds are the exact audit kinds doctor confirmed for clones when the
	// witness was read; empty: unconfirmed, entries whose kind contains
	// "clone" are read as evidence of a send, their absence as nothing.
	Kinds []string `json:"confirmed_kinds,omitempty"`
	// NotTaken says why no witness was taken (the audit-trail read failed:
	// a credential without the right, a 404). The clone is sent anyway; an
	// unknown outcome then goes to the operator.
	NotTaken string `json:"not_taken,omitempty"`
	// Nonce tells this process's witness from one restored from the journal.
	Nonce string `json:"nonce"`
	// Read is when the witness was read, just before sending.
	Read time.Time `json:"read"`
}

// CloneAuditGrace is how long after sending the absence of a clone's audit
// entry is not yet taken as proof that the clone was not sent, where doctor
// confirmed the kind: Frame may write the entry a little after it accepts
// the request, and a clone sent twice overwrites a sandbox twice. A resume
// soon after a crash waits out the rest of it, reading the audit trail again.
var CloneAuditGrace = 20 * time.Second

// cloneAuditKind is the audit-trail kind filter for clones when doctor
// confirmed none (a wildcard match: cloneSandbox, clonePool, ...). It only
// ever finds evidence of a send; its silence proves nothing.
const cloneAuditKind = "clone"

// cloneAuditWindow bounds the audit-trail read to recent entries; an hour
// leaves room for clock skew between this machine and Frame.
const cloneAuditWindow = time.Hour

// ErrNoCloneWitness says a clone cannot be reconciled because no audit
// trail read before sending is available: it was not restored from the
// journal, or it was never taken.
var ErrNoCloneWitness = errors.New("cannot prove whether the clone was sent: no audit trail read before sending is available")

// errCloneTaskUnknown is why a clone proven sent is not proven finished.
const errCloneTaskUnknown = "its task id was lost with the answer, and the docs offer no read that shows a clone's task or the image a sandbox holds, so nothing proves it finished (or failed)"

// prepareCloneReconcile reads the target's clone audit trail (the witness)
// and sets Reconcile. The read is best-effort: whatever it answers (403 for
// a credential that may not read audit trails, 404, a network error), the
// clone is still sent; the journaled witness then says none was taken.
func (s *stepsImpl) prepareCloneReconcile(ctx context.Context, m *engine.Mutation, target string) error {
	c := s.client
	kinds := s.findings.ConfirmedAuditKinds("clone")
	from := time.Now().UTC().Add(-cloneAuditWindow).Format("2006-01-02T15:04:05.000Z")
	tr := trackSends(m)
	w := cloneWitness{From: from, AuditIDs: []string{}, Kinds: kinds, Nonce: tr.nonce, Read: time.Now().UTC()}
	if before, err := cloneAuditEntries(ctx, c, target, from, kinds); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w = cloneWitness{NotTaken: fmt.Sprintf("reading the audit trail before cloning (GET /accounts/%s/audit-trails): %v", target, err),
			AuditIDs: []string{}, Nonce: tr.nonce, Read: w.Read}
	} else {
		for _, e := range before {
			w.AuditIDs = append(w.AuditIDs, e.id)
		}
	}
	var err error
	if m.Witness, err = json.Marshal(w); err != nil {
		return err
	}
	m.Reconcile = func(ctx context.Context) (any, bool, error) {
		// As for publish: the witness is read at call time, because on
		// resume the engine restores the journaled one into m. This
		// process's own witness, when it never sent, was read after the
		// crash and already holds the entry being looked for.
		var got cloneWitness
		if err := json.Unmarshal(m.Witness, &got); err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrNoCloneWitness, err)
		}
		if tr.ownUnsent(got.Nonce) {
			return nil, false, ErrNoCloneWitness
		}
		if got.NotTaken != "" {
			return nil, false, fmt.Errorf("%w (none was taken: %s)", ErrNoCloneWitness, got.NotTaken)
		}
		if got.From == "" {
			return nil, false, ErrNoCloneWitness
		}
		got.Read = tr.graceFrom(got.Read, got.Nonce)
		return cloneAuditProof(ctx, c, target, got)
	}
	return nil
}

// cloneAuditProof reads the target's clone audit trail since the witness:
// an entry not in it proves the clone was sent (not that it finished); no
// entry of a kind doctor confirmed, once the grace since sending has passed,
// proves it was not.
func cloneAuditProof(ctx context.Context, c *frame.Client, target string, got cloneWitness) (any, bool, error) {
	seen := idSet(got.AuditIDs)
	for {
		now, err := cloneAuditEntries(ctx, c, target, got.From, got.Kinds)
		if err != nil {
			return nil, false, err
		}
		for _, e := range now { // newest first
			if !seen[e.id] {
				return nil, false, &engine.SentUnprovenError{
					Evidence: fmt.Sprintf("audit-trail entry %s of kind %s at %s appeared on account %s", e.id, e.kind, e.insertedAt, target),
					Missing:  errCloneTaskUnknown,
				}
			}
		}
		if len(got.Kinds) == 0 {
			return nil, false, fmt.Errorf("no clone audit-trail entry appeared on account %s, but the docs do not say that a clone writes one "+
				"(nor with which kind), and `frameflow doctor` has not confirmed a kind on this estate, so its absence proves nothing", target)
		}
		// No entry of a confirmed kind: proof of absence only once the
		// grace period since sending has passed (a witness without a
		// read time is old).
		wait := CloneAuditGrace - time.Since(got.Read)
		if got.Read.IsZero() || wait <= 0 {
			return nil, false, nil
		}
		t := time.NewTimer(min(wait, 2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}

// notTaken returns why a clone witness was not taken, or "".
func notTaken(witness []byte) string {
	var w cloneWitness
	_ = json.Unmarshal(witness, &w)
	return w.NotTaken
}

type auditEntry struct{ id, kind, insertedAt string }

// cloneAuditEntries lists the account's clone audit-trail entries since
// from, newest first: those of exactly the given kinds, or with none given,
// those whose kind contains "clone".
func cloneAuditEntries(ctx context.Context, c *frame.Client, accountID, from string, kinds []string) ([]auditEntry, error) {
	if len(kinds) == 0 {
		return auditEntries(ctx, c, accountID, from, cloneAuditKind, func(k string) bool {
			return strings.Contains(strings.ToLower(k), cloneAuditKind)
		})
	}
	var out []auditEntry
	for _, kind := range kinds {
		// The kind filter is a wildcard: keep only the exact kind.
		got, err := auditEntries(ctx, c, accountID, from, kind, func(k string) bool { return k == kind })
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func auditEntries(ctx context.Context, c *frame.Client, accountID, from, kind string, keep func(string) bool) ([]auditEntry, error) {
	v, err := c.Call(ctx, "accounts.audit_trails.list", map[string]any{
		"account_id": accountID, "kind": kind, "from_date": from,
		"order_by": "inserted_at", "order": "desc",
	})
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("audit trails of account %s: want a list, got %s", accountID, describe(v))
	}
	out := make([]auditEntry, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("audit trails of account %s: want objects, got %s", accountID, describe(x))
		}
		id := fmt.Sprint(m["id"])
		kind, _ := m["kind"].(string)
		if m["id"] == nil || id == "" {
			return nil, fmt.Errorf("audit trails of account %s: an entry without an id", accountID)
		}
		if !keep(kind) {
			continue
		}
		at, _ := m["inserted_at"].(string)
		out = append(out, auditEntry{id: id, kind: kind, insertedAt: at})
	}
	return out, nil
}

// sandboxPoolOf finds the Sandbox pool of an account, once per run per
// account (concurrent callers share the lookup).
func (s *stepsImpl) sandboxPoolOf(ctx context.Context, c *frame.Client, accountID string) (string, error) {
	s.mu.Lock()
	e := s.sourcePools[accountID]
	if e != nil {
		s.mu.Unlock()
		select {
		case <-e.done:
			if e.err == nil {
				return e.pool, nil
			}
			return "", e.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	e = &sourcePoolEntry{done: make(chan struct{})}
	s.sourcePools[accountID] = e
	s.mu.Unlock()

	e.pool, e.err = lookupSandboxPool(ctx, c, accountID)
	if e.err != nil {
		s.mu.Lock()
		delete(s.sourcePools, accountID) // a later step may try again
		s.mu.Unlock()
	}
	close(e.done)
	return e.pool, e.err
}

func lookupSandboxPool(ctx context.Context, c *frame.Client, accountID string) (string, error) {
	st, statusErr := c.SandboxStatus(ctx, accountID)
	if statusErr == nil && st.PoolID != "" {
		return st.PoolID, nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	pools, err := c.ListPools(ctx, accountID)
	if err != nil {
		if statusErr != nil {
			return "", fmt.Errorf("%v; and listing its pools: %w", statusErr, err)
		}
		return "", err
	}
	var found []string
	for _, p := range pools {
		if p.Kind == "sandbox" {
			found = append(found, p.ID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("account %s has no Sandbox pool", accountID)
	}
	return "", fmt.Errorf("account %s has %d Sandbox pools (%s): give source_pool_id", accountID, len(found), strings.Join(found, ", "))
}

// cloneDetails tells a reviewer where the clone comes from and what it
// overwrites; the path alone shows only ids.
func cloneDetails(in map[string]any, sourcePool any) []engine.Detail {
	var d []engine.Detail
	if src, ok := in["source_account_id"].(string); ok {
		d = append(d, engine.Detail{Label: "source account", Value: src})
	}
	if p, ok := sourcePool.(string); ok {
		d = append(d, engine.Detail{Label: "source pool", Value: p})
	}
	return append(d, engine.Detail{Label: "cloned", Value: "Sandbox image, overwriting the target's Sandbox"})
}

// sourcePoolName names a clone's source pool for a plan's reader: the
// source account's pools are listed once per plan (shared by every target
// of a fan-out). Runs do not read it (a run's plan was shown already), and a
// failed read only leaves the id unnamed.
func (s *stepsImpl) sourcePoolName(ctx context.Context, sc *engine.StepContext, c *frame.Client, in map[string]any, pool any) map[string]string {
	account, _ := in["source_account_id"].(string)
	id, _ := pool.(string)
	if sc.Mode() != engine.ModePlan || c == nil || account == "" || id == "" {
		return nil
	}
	s.mu.Lock()
	e := s.poolNames[account]
	if e == nil {
		e = &poolNamesEntry{done: make(chan struct{})}
		s.poolNames[account] = e
		s.mu.Unlock()
		e.names = map[string]string{}
		if pools, err := c.ListPools(ctx, account); err == nil {
			for _, p := range pools {
				e.names[p.ID] = p.Name
			}
		}
		close(e.done)
	} else {
		s.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil
		}
	}
	if name := e.names[id]; name != "" {
		return map[string]string{id: name}
	}
	return nil
}
