package journal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/internal/jsonvalue"
)

// EffectLedger is what a Log may offer when its storage is shared by every
// run on an estate: the mutations other runs sent while this run was
// running. Two runs of the same rollout started together then send each
// request once: the second, holding the resource lock the first held while
// sending, finds the first's record and adopts it instead of sending again.
// See docs/state.md, "Two runs at once".
type EffectLedger interface {
	// Effect returns, for the request identity, the most telling record
	// of another run one of whose attempts overlaps one of this run's
	// attempts (mine, by this machine's clock; the current one is open): its
	// intent line and the last line written for that mutation (a result,
	// or the intent itself or an unknown when no result is known yet, or
	// failed / not_sent). A storage with a clock of its own (a database)
	// uses its own times instead of mine. found is false when no such run
	// sent it.
	Effect(ctx context.Context, identity string, mine []Interval) (fromRun string, intent, last []byte, found bool, err error)
}

// Interval is when one attempt of a run was running: from its first record
// to its last. End is zero for the attempt running now.
type Interval struct{ Start, End time.Time }

// Overlaps tells whether [start, end] meets one of the intervals, each end
// taken HeartbeatEvery*2 later: a live attempt writes a record at least that
// often, so its last record may be that much before it died.
func Overlaps(mine []Interval, start, end time.Time) bool {
	slack := 2 * HeartbeatEvery
	for _, m := range mine {
		if !start.After(orNow(m.End).Add(slack)) && !end.Add(slack).Before(m.Start) {
			return true
		}
	}
	return false
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().Add(time.Hour) // open: running now
	}
	return t
}

// attemptIntervals is when each attempt of this run was running, the
// current one open. Called with r.mu held.
func (r *Run) attemptIntervals() []Interval {
	out := make([]Interval, 0, len(r.spans))
	for n, sp := range r.spans {
		if n == r.attempt {
			sp.End = time.Time{}
		}
		out = append(out, sp)
	}
	return out
}

// identity digests what makes two runs' mutations the same request: the
// estate (Options.Estate), method, path, query and body, as journaled
// (redacted). Mutation keys and step names play no part: two workflows
// cloning the same pool onto the same account send the same request.
func (r *Run) identity(rec *record) (string, error) {
	b, err := identityJSON(r.opts.Estate, rec)
	if err != nil {
		return "", fmt.Errorf("journal: identity of %s: %w", rec.Key, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// requestIdentity is identity of m's request as its intent would be
// written (redacted).
func (r *Run) requestIdentity(m *engine.Mutation) (string, error) {
	probe := &record{T: recIntent, Method: m.Method, Path: m.Path, Query: m.Query, Body: m.Body}
	if r.opts.Redact != nil {
		var err error
		if _, probe, err = encode(probe, r.opts.Redact); err != nil {
			return "", err
		}
	}
	return r.identity(probe)
}

// identityJSON is what identity digests. Other runs, of this version or
// another, compare digests: the text must never change.
func identityJSON(estate string, rec *record) ([]byte, error) {
	// A generic body is written by jsonvalue, byte for byte as Marshal
	// would (once per mutation, twice with a shared ledger).
	b := append(jsonvalue.AppendString(append(make([]byte, 0, 512), `{"estate":`...), estate), `,"method":`...)
	b = append(jsonvalue.AppendString(b, rec.Method), `,"path":`...)
	b = jsonvalue.AppendString(b, rec.Path)
	ok := true
	if len(rec.Query) > 0 {
		b, ok = jsonvalue.Append(append(b, `,"query":`...), rec.Query)
	}
	if ok && rec.Body != nil {
		b, ok = jsonvalue.Append(append(b, `,"body":`...), rec.Body)
	}
	if ok {
		return append(b, '}'), nil
	}
	return json.Marshal(identityFields{estate, rec.Method, rec.Path, rec.Query, rec.Body})
}

type identityFields struct {
	Estate string            `json:"estate"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query,omitempty"`
	Body   any               `json:"body,omitempty"`
}

// adopt is called by Do, under the key's busy flag, for a key this run
// has no record of. When another run running at the same time as one of
// this run's attempts sent the same request, its records are copied under this run's key (an intent marked
// adopted from that run, then its result, unknown, failed or not_sent),
// so that Do goes on exactly as if this run had sent it: a result is
// returned without sending, an intent without a result is reconciled
// against that run's witness before anything is sent, a failed one is sent
// again. It returns the key's state and result after the copy.
func (r *Run) adopt(ctx context.Context, key string, m *engine.Mutation) (state string, result json.RawMessage, err error) {
	if r.ledger == nil {
		return "", nil, nil
	}
	id, err := r.requestIdentity(m)
	if err != nil {
		return "", nil, fmt.Errorf("journal: mutation %s: %w; not sent", key, err)
	}
	r.mu.Lock()
	mine := r.attemptIntervals()
	r.mu.Unlock()
	from, intentLine, lastLine, found, err := r.ledger.Effect(ctx, id, mine)
	if err != nil {
		// Without the answer this run could send what another run sent.
		return "", nil, fmt.Errorf("journal: mutation %s: could not read what other runs sent: %w; not sent", key, err)
	}
	if !found {
		return "", nil, nil
	}
	var intent, last record
	if err := json.Unmarshal(intentLine, &intent); err != nil {
		return "", nil, fmt.Errorf("journal: mutation %s: run %s's intent: %w; not sent", key, from, err)
	}
	if err := json.Unmarshal(lastLine, &last); err != nil {
		return "", nil, fmt.Errorf("journal: mutation %s: run %s's record: %w; not sent", key, from, err)
	}
	copyIntent := &record{T: recIntent, Key: key, Type: m.Type, Method: intent.Method, Path: intent.Path, Query: intent.Query,
		Body: intent.Body, Resources: intent.Resources, Witness: intent.Witness, Via: "adopted", From: from}
	if err := r.append(copyIntent); err != nil {
		return "", nil, fmt.Errorf("%w; mutation %s not sent", err, key)
	}
	if (last.T == recIntent || last.T == recUnknown) && len(m.Resources) == 0 {
		// Without a resource lock nothing says the other run is not
		// sending it right now: neither adopting its outcome nor sending
		// again is safe.
		return "", nil, fmt.Errorf("journal: mutation %s: run %s sent the same request (%s %s) and its outcome is not known yet; "+
			"it was not sent again. Let that run finish (or resume it), then run this one again", key, from, m.Method, m.Path)
	}
	switch last.T {
	case recResult, recUnknown, recFailed, recNotSent, recSent, recDecided:
		// sent (proven sent, effect not proven) stops for an operator here
		// too; a decision is the other run's operator's, and holds here.
		cp := &record{T: last.T, Key: key, Result: last.Result, Error: last.Error, Decision: last.Decision, By: last.By, Via: "adopted", From: from}
		if err := r.append(cp); err != nil {
			return "", nil, fmt.Errorf("%w; mutation %s not sent", err, key)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.muts[key]
	return st.state, bytes.Clone(st.result), nil
}
