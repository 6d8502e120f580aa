package journal_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// A reconcile that proves a mutation was sent but not that it finished
// journals it as sent: it is never sent again, not even with
// --assume-not-sent, and stays pending for an operator.
func TestSentUnprovenIsNeverSentAgain(t *testing.T) {
	dir := t.TempDir()
	id := crashDuringSend(t, openStore(t, dir, testOptions()))
	unproven := func() (any, bool, error) {
		return nil, false, &engine.SentUnprovenError{Evidence: "audit entry a1 appeared", Missing: "its task is unknown"}
	}
	for attempt, assume := range []bool{false, true} {
		o := testOptions()
		o.AssumeNotSent = assume
		r := resume(t, openStore(t, dir, o), id)
		mu := &mutation{reconcile: unproven}
		_, err := r.Do(context.Background(), key, mu.build())
		var ue *journal.UnresolvedError
		if !errors.As(err, &ue) || !ue.Sent || mu.sends.Load() != 0 {
			t.Fatalf("attempt %d (assume %v): err %v, sends %d", attempt, assume, err, mu.sends.Load())
		}
		if !strings.Contains(err.Error(), "audit entry a1 appeared") || !strings.Contains(err.Error(), "--mark '"+key+"=sent'") {
			t.Errorf("message: %v", err)
		}
		p := r.Pending()
		if len(p) != 1 || !p[0].ProvenSent || !strings.Contains(p[0].Evidence, "audit entry a1") {
			t.Errorf("pending %+v", p)
		}
		// Listed without the run's lock too (frameflow runs).
		if u, err := openStore(t, dir, o).Undecided(id); err != nil || len(u) != 1 || !u[0].ProvenSent || u[0].Key != key {
			t.Errorf("undecided %+v %v", u, err)
		}
		// Even a read that now says "absent" does not make it sendable.
		mu2 := &mutation{reconcile: func() (any, bool, error) { return nil, false, nil }}
		if _, err := r.Do(context.Background(), key, mu2.build()); !errors.As(err, &ue) || mu2.sends.Load() != 0 {
			t.Fatalf("absent after proven sent: err %v sends %d", err, mu2.sends.Load())
		}
		r.Close()
	}
	// A read that finds its task settles it.
	r := resume(t, openStore(t, dir, testOptions()), id)
	mu := &mutation{reconcile: func() (any, bool, error) { return map[string]any{"id": "task-9"}, true, nil }}
	res, err := r.Do(context.Background(), key, mu.build())
	if err != nil || res.(map[string]any)["id"] != "task-9" || mu.sends.Load() != 0 || len(r.Pending()) != 0 {
		t.Fatalf("found later: %v %v", res, err)
	}
}

// An operator's decision is journaled with who made it: sent answers the
// step with the operator's word (no task, nothing sent); not-sent sends.
func TestOperatorDecision(t *testing.T) {
	cannot := func() (any, bool, error) { return nil, false, errors.New("absence proves nothing") }
	t.Run("sent", func(t *testing.T) {
		dir := t.TempDir()
		id := crashDuringSend(t, openStore(t, dir, testOptions()))
		s := openStore(t, dir, testOptions())
		r := resume(t, s, id)
		if err := r.Decide(key, journal.DecisionSent, "ops@host-1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(key, journal.DecisionNotSent, "ops@host-1"); err == nil {
			t.Error("a decided mutation was decided again")
		}
		if err := r.Decide("clone[Store-9]#1", journal.DecisionSent, "ops@host-1"); err == nil {
			t.Error("a mutation the run never had was decided")
		}
		r.Close()
		r = resume(t, s, id)
		mu := &mutation{reconcile: cannot}
		res, err := r.Do(context.Background(), key, mu.build())
		if err != nil || !engine.DecidedByOperator(res) || res.(map[string]any)["decided_by"] != "ops@host-1" || mu.sends.Load() != 0 || mu.reconciles.Load() != 0 {
			t.Fatalf("marked sent: %v %v sends %d", res, err, mu.sends.Load())
		}
		var found bool
		for _, rec := range records(t, s, id) {
			if rec["t"] == "decision" && rec["decision"] == "sent" && rec["decided_by"] == "ops@host-1" && rec["time"] != nil {
				found = true
			}
		}
		if !found {
			t.Error("the decision is not in the journal with who made it")
		}
	})
	t.Run("not sent", func(t *testing.T) {
		dir := t.TempDir()
		id := crashDuringSend(t, openStore(t, dir, testOptions()))
		r := resume(t, openStore(t, dir, testOptions()), id)
		if err := r.Decide(key, journal.DecisionNotSent, "ops@host-1"); err != nil {
			t.Fatal(err)
		}
		mu := &mutation{reconcile: cannot}
		res, err := r.Do(context.Background(), key, mu.build())
		if err != nil || mu.sends.Load() != 1 || res.(map[string]any)["id"] != "task-1" {
			t.Fatalf("marked not sent: %v %v sends %d", res, err, mu.sends.Load())
		}
		if err := r.Decide(key, journal.DecisionNotSent, "ops@host-1"); err == nil {
			t.Error("a mutation with a result was decided")
		}
	})
}

// --assume-not-sent is an operator's decision too: journaled with who.
func TestAssumedNotSentNamesTheOperator(t *testing.T) {
	dir := t.TempDir()
	id := crashDuringSend(t, openStore(t, dir, testOptions()))
	o := testOptions()
	o.AssumeNotSent, o.Operator = true, "ops@host-2"
	s := openStore(t, dir, o)
	r := resume(t, s, id)
	mu := &mutation{}
	if _, err := r.Do(context.Background(), key, mu.build()); err != nil || mu.sends.Load() != 1 {
		t.Fatalf("assumed: %v sends %d", err, mu.sends.Load())
	}
	for _, rec := range records(t, s, id) {
		if rec["t"] == "not_sent" && rec["via"] == "assumed" && rec["decided_by"] == "ops@host-2" {
			return
		}
	}
	t.Error("the assumed not_sent does not say who decided")
}
