package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// UnresolvedError says a mutation may have been sent (its intent is in the
// journal, its result is not), or was proven sent without proof that its
// effect finished, and it was not sent again: its outcome is unknown until
// an operator decides.
type UnresolvedError struct {
	RunID  string
	Key    string // the engine's mutation key: step[item]#n
	Type   string
	Method string
	Path   string
	Reason string // why it could not be proven
	// Sent: a read proved it was sent (it will never be sent again), not
	// that it finished.
	Sent bool
	Err  error // the send's error when it happened in this attempt
}

func (e *UnresolvedError) Error() string {
	what := "may already have been sent, and " + e.Reason + "; it was not sent again"
	if e.Sent {
		// Reason reads "it was sent (evidence), but ...".
		what = strings.TrimPrefix(e.Reason, "it ") + "; it will not be sent again"
	}
	check := "Check in Frame whether it took effect and finished (the account's tasks, its sandbox, the pool's settings)"
	if e.Type == "http.request" {
		// Not a Frame call: the service that received it is where to look.
		check = "Check at the service that received it whether it took effect (the message posted, the ticket opened)"
	}
	return fmt.Sprintf("outcome_unknown: mutation %s (%s %s) %s. %s, then decide: %s",
		e.Key, e.Method, e.Path, what, check, MarkCommand(e.RunID, e.Key))
}

func (e *UnresolvedError) Unwrap() error { return e.Err }

// AnswersLostError says a mutation was sent twice in one attempt, each
// answer was lost, and after each a read proved it had not taken effect
// (for a settings change: the values never showed within the grace, as
// when its task failed). The journal holds it as not sent, so the step's
// retry policy (class network) or a resume may send it again; this attempt
// sends nothing more.
type AnswersLostError struct {
	Key    string
	Method string
	Path   string
	Err    error // the second send's error
}

func (e *AnswersLostError) Error() string {
	return fmt.Sprintf("answers_lost: mutation %s (%s %s) was sent twice and both answers were lost; reads proved neither took effect "+
		"(its task may have failed, or the request never arrived), so a retry or a resume may send it again: %v", e.Key, e.Method, e.Path, e.Err)
}

func (e *AnswersLostError) Unwrap() error { return e.Err }

// MarkCommand is the command an operator runs to settle an unknown outcome.
func MarkCommand(runID, key string) string {
	if runID == "" {
		runID = "RUN"
	}
	return fmt.Sprintf("`frameflow resume %s --mark '%s=sent'` if it took effect and finished, `--mark '%s=not-sent'` if it did not", runID, key, key)
}

// Do performs m at most once per key for the whole run, across crashes and
// resumes. It implements engine.MutationRecorder:
//
//   - a recorded result is returned as it is, and nothing is sent;
//   - an intent without a result (the process died mid-request, or the
//     outcome was unknown) is reconciled first: found returns its result,
//     proven absent is sent again; when nothing proves it, Do returns an
//     *UnresolvedError, unless Options.AssumeNotSent; a Reconcile that
//     proves it sent but not finished (*engine.SentUnprovenError) is
//     journaled as sent: never sent again, an *UnresolvedError until a
//     task is found or an operator decides (Decide);
//   - otherwise the intent is written and synced before Send, and the
//     result after it. A refused send (not outcome-unknown) is journaled as
//     failed, and the same key may be sent again by a retry or a resume.
//
// Reconcile's contract: (result, true, nil) proves the mutation took effect;
// (_, false, nil) proves it did not; an error means it cannot tell. A
// Reconcile that might miss an effect still in progress must return an error.
//
// The value returned is always the journal's copy (JSON round trip,
// redacted), so a fresh run and a resumed one see the same.
func (r *Run) Do(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	key, st, state, result, err := r.claim(key, m)
	if err != nil {
		return nil, err
	}
	defer func() {
		r.mu.Lock()
		st.busy = false
		r.mu.Unlock()
	}()

	if state == "" {
		// New to this run: another run sharing the storage, running at the
		// same time, may have sent it (the caller holds its resource lock).
		if state, result, err = r.adopt(ctx, key, m); err != nil {
			return nil, err
		}
	}
	switch state {
	case recResult:
		return decode(result)
	case recIntent, recUnknown:
		res, send, err := r.resolve(ctx, key, m, r.opts.AssumeNotSent, nil)
		if !send {
			return res, err
		}
	case recSent:
		// Proven sent earlier: read again (the effect may be provable now),
		// but never send, whatever the read says.
		return r.resolveSent(ctx, key, m)
	}
	return r.send(ctx, key, m, true)
}

// claim checks a mutation Do is asked for and marks its key busy: the key
// as journaled (redacted), its state and what the journal holds of it.
// Nothing is claimed when it returns an error.
func (r *Run) claim(key string, m *engine.Mutation) (string, *mutState, string, json.RawMessage, error) {
	if key == "" {
		return "", nil, "", nil, errors.New("journal: mutation without a key")
	}
	// The journal knows keys as written, i.e. redacted (an item label could
	// hold a secret); redactors are expected to be idempotent.
	key = r.redact(key)
	if m == nil || m.Send == nil || m.Method == "" || m.Path == "" {
		return "", nil, "", nil, fmt.Errorf("journal: mutation %s is incomplete (method, path and Send are required); nothing sent", key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", nil, "", nil, fmt.Errorf("journal: run is closed; mutation %s not sent", key)
	}
	if r.broken != nil {
		return "", nil, "", nil, fmt.Errorf("%w; mutation %s not sent", r.broken, key)
	}
	st := r.muts[key]
	if st == nil {
		st = &mutState{}
		r.muts[key] = st
	}
	if st.busy {
		return "", nil, "", nil, fmt.Errorf("journal: mutation %s is already under way; not sent twice", key)
	}
	// Compared as journaled, i.e. redacted.
	recorded := st.state == recIntent || st.state == recUnknown || st.state == recResult || st.state == recSent
	if recorded && (st.method != r.redact(m.Method) || st.path != r.redact(m.Path)) {
		return "", nil, "", nil, fmt.Errorf("journal: mutation %s was recorded as %s %s but is now %s %s; "+
			"the workflow or its inputs changed since, so the journal cannot vouch for it; nothing sent",
			key, st.method, st.path, r.redact(m.Method), r.redact(m.Path))
	}
	// The query and body too: after `resume --force` over a changed
	// workflow, a step asking for other values under the same key would
	// otherwise get the recorded result of the old request and succeed
	// with an effect nobody asked for (max_servers 5 set, 7 reported done).
	if recorded && st.identity != "" {
		if id, err := r.requestIdentity(m); err != nil || id != st.identity {
			return "", nil, "", nil, fmt.Errorf("journal: mutation %s was recorded as %s %s with another query or body than it has now; "+
				"the workflow or its inputs changed since, so the journal cannot vouch for it; nothing sent", key, st.method, st.path)
		}
	}
	st.busy = true
	return key, st, st.state, st.result, nil
}

// send journals the intent, sends, and journals what came of it. again says
// whether one more send is allowed after an unknown outcome that a
// reconcile then proved absent.
func (r *Run) send(ctx context.Context, key string, m *engine.Mutation, again bool) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // nothing written, nothing sent
	}
	if err := r.write(&record{T: recIntent, Key: key, Type: m.Type, Method: m.Method, Path: m.Path,
		Query: m.Query, Headers: m.Headers, Body: m.Body, Resources: m.Resources, Witness: m.Witness}); err != nil {
		return nil, fmt.Errorf("%w; mutation %s not sent", err, key)
	}
	res, err := m.Send(ctx)
	if err == nil {
		return r.recordResult(key, res, "send")
	}
	if !r.outcomeUnknown(err) {
		// Refused or never sent: a retry may send it again.
		if werr := r.write(&record{T: recFailed, Key: key, Error: err.Error()}); werr != nil {
			return nil, errors.Join(err, werr)
		}
		return nil, err
	}
	if werr := r.write(&record{T: recUnknown, Key: key, Error: err.Error()}); werr != nil {
		return nil, errors.Join(err, werr)
	}
	out, sendAgain, rerr := r.resolve(ctx, key, m, false, err)
	switch {
	case !sendAgain:
		return out, rerr
	case again:
		return r.send(ctx, key, m, false)
	default:
		// Proven absent twice in a row: leave the next try to the engine's
		// retry policy or a resume (the journal now allows it).
		return nil, &AnswersLostError{Key: key, Method: m.Method, Path: r.redact(m.Path), Err: err}
	}
}

// resolve finds out whether an intent without a result took effect. It
// returns send=true when it is proven (or, with assume, taken) not to have,
// having journaled that; otherwise the recorded result or an error.
func (r *Run) resolve(ctx context.Context, key string, m *engine.Mutation, assume bool, cause error) (res any, send bool, err error) {
	reason := "no read can prove whether it took effect"
	if m.Reconcile != nil {
		// Reconcile against what the step saw before the journaled send, not
		// what a re-run step read after it (engine.Mutation.Witness).
		r.mu.Lock()
		w := r.muts[key].witness
		r.mu.Unlock()
		fresh := m.Witness
		if w != nil {
			m.Witness = w
		}
		got, found, rerr := m.Reconcile(ctx)
		m.Witness = fresh // a re-send journals the step's current witness
		var su *engine.SentUnprovenError
		switch {
		case errors.As(rerr, &su):
			// Sent for sure: journal it so that nothing (not even
			// --assume-not-sent) sends it again; only an operator's mark
			// settles it.
			if err := r.write(&record{T: recSent, Key: key, Via: "reconcile", Error: r.redact(su.Error())}); err != nil {
				return nil, false, err
			}
			return nil, false, r.unresolved(key, m, su.Error(), true, cause)
		case rerr == nil && found:
			res, err := r.recordResult(key, got, "reconcile")
			return res, false, err
		case rerr == nil:
			if err := r.write(&record{T: recNotSent, Key: key, Via: "reconcile"}); err != nil {
				return nil, false, err
			}
			return nil, true, nil
		default:
			reason = "the read that should prove it failed: " + rerr.Error()
		}
	}
	if assume {
		if err := r.write(&record{T: recNotSent, Key: key, Via: "assumed", By: r.opts.Operator}); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	return nil, false, r.unresolved(key, m, reason, false, cause)
}

func (r *Run) unresolved(key string, m *engine.Mutation, reason string, sent bool, cause error) *UnresolvedError {
	return &UnresolvedError{RunID: r.meta.RunID, Key: key, Type: m.Type, Method: m.Method, Path: m.Path, Reason: r.redact(reason), Sent: sent, Err: cause}
}

// resolveSent reconciles a mutation proven sent whose effect was not proven
// finished. A read that now proves it (a task found) records the result;
// anything else, absence included, leaves it for the operator.
func (r *Run) resolveSent(ctx context.Context, key string, m *engine.Mutation) (any, error) {
	r.mu.Lock()
	st := r.muts[key]
	w, evidence := st.witness, st.evidence
	r.mu.Unlock()
	if m.Reconcile != nil {
		fresh := m.Witness
		if w != nil {
			m.Witness = w
		}
		got, found, rerr := m.Reconcile(ctx)
		m.Witness = fresh
		if rerr == nil && found {
			return r.recordResult(key, got, "reconcile")
		}
		var su *engine.SentUnprovenError
		if errors.As(rerr, &su) {
			evidence = su.Error()
		}
	}
	return nil, r.unresolved(key, m, evidence, true, nil)
}

// Decision values for Decide, as `resume --mark` takes them.
const (
	DecisionSent    = "sent"
	DecisionNotSent = "not_sent"
)

// Decide records an operator's decision on a mutation whose outcome is
// unknown (Pending lists them): DecisionSent means it took effect and
// finished, so the step carries on without sending or waiting;
// DecisionNotSent means it did not, so the next Do sends it. by says who
// decided (user@host); the journal keeps it with the time.
func (r *Run) Decide(key, decision, by string) error {
	key = r.redact(key)
	if decision != DecisionSent && decision != DecisionNotSent {
		return fmt.Errorf("journal: decision %q for %s: want sent or not-sent", decision, key)
	}
	return r.appendIf(&record{T: recDecided, Key: key, Decision: decision, By: by, Via: "operator"}, func() error {
		st := r.muts[key]
		if st == nil {
			return fmt.Errorf("journal: run %s has no mutation %s", r.meta.RunID, key)
		}
		if st.state != recIntent && st.state != recUnknown && st.state != recSent {
			return fmt.Errorf("journal: mutation %s of run %s is not waiting for a decision (it is %s)", key, r.meta.RunID, describeState(st.state))
		}
		return nil
	})
}

func describeState(s string) string {
	switch s {
	case recResult:
		return "answered: its result is recorded"
	case recFailed:
		return "failed: it will be sent again"
	case recNotSent:
		return "not sent: it will be sent"
	case recDecided:
		return "already decided"
	}
	return s
}

// applyDecision folds an operator's decision into st: sent becomes a
// result that names the operator (there is no task), not_sent makes the key
// sendable.
func applyDecision(st *mutState, rec *record) {
	if rec.Decision != DecisionSent {
		st.state = recNotSent
		return
	}
	st.state = recResult
	b, _ := json.Marshal(map[string]any{
		engine.OperatorDecision: DecisionSent, "decided_by": rec.By, "decided_at": rec.Time.UTC().Format(time.RFC3339),
	})
	st.result = b
}

func (r *Run) recordResult(key string, res any, via string) (any, error) {
	b, err := json.Marshal(res)
	if err != nil {
		// It was sent: without a result record the intent stays pending and
		// a resume reconciles it.
		return nil, fmt.Errorf("journal: mutation %s was sent but its result cannot be recorded: %w", key, err)
	}
	if err := r.append(&record{T: recResult, Key: key, Result: b, Via: via, ownJSON: true}); err != nil {
		return nil, fmt.Errorf("%w (mutation %s was sent; a resume will reconcile it)", err, key)
	}
	r.mu.Lock()
	raw := r.muts[key].result
	r.mu.Unlock()
	if o, ok := res.(jsonObjecter); ok && bytes.Equal(raw, b) {
		// Recorded as marshalled (nothing redacted): the journal's copy is
		// the value's JSON round trip, which it can give directly.
		if m, ok := o.JSONObject(); ok {
			return m, nil
		}
	}
	return decode(raw)
}

// jsonObjecter is a result that gives its JSON round trip
// (json.Unmarshal(json.Marshal(v)) into an any) without encoding/json, or
// ok=false (frame.Task: every mutation of a rollout answers one).
type jsonObjecter interface {
	JSONObject() (m map[string]any, ok bool)
}

func (r *Run) write(rec *record) error { return r.append(rec) }

func (r *Run) outcomeUnknown(err error) bool {
	if r.opts.IsOutcomeUnknown == nil {
		return true // nothing tells us it was refused: assume it may have gone out
	}
	return r.opts.IsOutcomeUnknown(err)
}

func (r *Run) redact(s string) string {
	if r.opts.Redact == nil {
		return s
	}
	return r.opts.Redact(s)
}

func decode(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("journal: recorded result: %w", err)
	}
	return v, nil
}

// errNothingToFail makes MutationFailed write nothing.
var errNothingToFail = errors.New("no result to fail")

// MutationFailed records that mutation key, answered before, failed after
// all: the task its result names ended in stage "failed", which proves it
// changed nothing. It implements engine.MutationFailer. The key becomes
// sendable again, as after a refused send: the next Do (a step retry, a
// resume) sends it once more instead of answering with the failed task.
// Only a key whose last record is a result is changed; for any other (not
// sent, pending reconcile, already failed) MutationFailed writes nothing.
func (r *Run) MutationFailed(key, reason string) error {
	key = r.redact(key)
	err := r.appendIf(&record{T: recFailed, Key: key, Via: viaTaskFailed, Error: reason}, func() error {
		if st := r.muts[key]; st == nil || st.state != recResult || st.busy {
			return errNothingToFail
		}
		return nil
	})
	if errors.Is(err, errNothingToFail) {
		return nil
	}
	return err
}
