package steps_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/steps"
)

func shortGrace(t *testing.T) {
	old := steps.CloneAuditGrace
	steps.CloneAuditGrace = 400 * time.Millisecond
	t.Cleanup(func() { steps.CloneAuditGrace = old })
}

// A clone whose answer was lost and whose audit entry appeared is proven
// sent, never re-sent, and not taken as done: its task is unknown, so the
// reconcile says so (engine.SentUnprovenError) for the operator.
func TestSandboxCloneReconcileFindsEntryButNotTheTask(t *testing.T) {
	shortGrace(t)
	e := newEnv(t, sim.Options{})
	qa, store := e.accountID("QA"), e.accountID("Store-001")
	in := map[string]any{"target_account_id": store, "source_account_id": qa, "wait": true}
	clonePath := "POST /accounts/" + store + "/pools/" + e.pool("QA", "sandbox") + "/clone"

	// A clone made by someone else earlier is in the witness, so it does
	// not count as this one.
	e.ok("sandbox.clone", in, runOpts{})

	crash := &crashRecorder{send: true}
	if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: crash}); !errors.Is(err, errCrash) {
		t.Fatalf("err = %v", err)
	}
	resume := &crashRecorder{restore: crash.witness}
	_, _, err := e.run("sandbox.clone", in, runOpts{recorder: resume})
	var su *engine.SentUnprovenError
	if !errors.As(err, &su) || !strings.Contains(su.Evidence, "cloneSandbox") || resume.found {
		t.Fatalf("err = %v, want SentUnprovenError naming the entry", err)
	}
	if n := e.count(clonePath); n != 2 {
		t.Errorf("resume re-sent the clone: %d POSTs", n)
	}

	// Without the journaled witness: an error, not a guess.
	noRestore := &crashRecorder{}
	if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: noRestore}); !errors.Is(err, steps.ErrNoCloneWitness) {
		t.Errorf("unrestored witness: err = %v", err)
	}
}

// The absence of an audit entry proves "not sent" only where doctor's
// findings confirm the kind, matched exactly; without findings it proves
// nothing, and an entry of an unconfirmed kind is not seen at all.
func TestSandboxCloneAbsenceNeedsConfirmedKind(t *testing.T) {
	shortGrace(t)
	copied := &sim.AuditTrailSpec{Kinds: map[string]string{"clone": "sandboxCopied"}}
	crashBeforeSend := func(e *env, in map[string]any) (witness []byte) {
		notSent := &crashRecorder{}
		_, _, _ = e.run("sandbox.clone", in, runOpts{recorder: notSent})
		return notSent.witness
	}
	t.Run("no findings", func(t *testing.T) {
		e := newEnv(t, sim.Options{AuditTrails: copied})
		in := map[string]any{"target_account_id": e.accountID("Store-001"), "source_account_id": e.accountID("QA"), "wait": true}
		w := crashBeforeSend(e, in)
		_, _, err := e.run("sandbox.clone", in, runOpts{recorder: &crashRecorder{restore: w}})
		if err == nil || !strings.Contains(err.Error(), "proves nothing") {
			t.Fatalf("absence without findings: err = %v", err)
		}
		// Sent, with an entry of a kind nobody confirmed: still unknown,
		// never "not sent".
		crash := &crashRecorder{send: true}
		_, _, _ = e.run("sandbox.clone", in, runOpts{recorder: crash})
		if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: &crashRecorder{restore: crash.witness}}); err == nil {
			t.Fatal("a clone sent with kind sandboxCopied was proven absent")
		}
	})
	t.Run("findings confirm sandboxCopied", func(t *testing.T) {
		f := &frame.Findings{AuditTrailsReadable: true, AuditKinds: map[string][]string{"clone": {"sandboxCopied"}}}
		e := newEnvWith(t, sim.Options{AuditTrails: copied}, f)
		in := map[string]any{"target_account_id": e.accountID("Store-001"), "source_account_id": e.accountID("QA"), "wait": true}
		start := time.Now()
		w := crashBeforeSend(e, in)
		again := &crashRecorder{restore: w}
		if _, _, err := e.run("sandbox.clone", in, runOpts{recorder: again}); err != nil || again.found {
			t.Fatalf("not sent: err %v found %v", err, again.found)
		}
		if d := time.Since(start); d < steps.CloneAuditGrace {
			t.Errorf("absence concluded after %s, before the %s grace period", d, steps.CloneAuditGrace)
		}
		crash := &crashRecorder{send: true}
		_, _, _ = e.run("sandbox.clone", in, runOpts{recorder: crash})
		_, _, err := e.run("sandbox.clone", in, runOpts{recorder: &crashRecorder{restore: crash.witness}})
		var su *engine.SentUnprovenError
		if !errors.As(err, &su) || !strings.Contains(su.Evidence, "sandboxCopied") {
			t.Fatalf("sent: err = %v", err)
		}
	})
}

// A credential that may not read audit trails still clones: the witness
// read is best-effort and the journaled witness says none was taken, so a
// lost answer goes to the operator instead of being guessed.
func TestSandboxCloneWithoutAuditTrailRights(t *testing.T) {
	e := newEnv(t, sim.Options{AuditTrails: &sim.AuditTrailSpec{Forbidden: true}})
	in := map[string]any{"target_account_id": e.accountID("Store-001"), "source_account_id": e.accountID("QA"), "wait": true}
	var progress []string
	out := e.ok("sandbox.clone", in, runOpts{events: func(ev engine.Event) { progress = append(progress, ev.Message) }})
	if task := out["task"].(map[string]any); task["stage"] != frame.StageDone {
		t.Fatalf("clone with a 403 on audit trails: %v", out)
	}
	if len(progress) == 0 || !strings.Contains(progress[0], "no witness taken") || !strings.Contains(progress[0], "403") {
		t.Errorf("the missing witness is not shown: %q", progress)
	}
	crash := &crashRecorder{send: true}
	_, _, _ = e.run("sandbox.clone", in, runOpts{recorder: crash})
	if !strings.Contains(string(crash.witness), `"not_taken"`) || !strings.Contains(string(crash.witness), "403") {
		t.Errorf("witness does not say none was taken: %s", crash.witness)
	}
	_, _, err := e.run("sandbox.clone", in, runOpts{recorder: &crashRecorder{restore: crash.witness}})
	if !errors.Is(err, steps.ErrNoCloneWitness) {
		t.Errorf("reconcile without a witness: err = %v", err)
	}
}
