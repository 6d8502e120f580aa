package steps

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// A settings change sent again after a proven absence (the journal's one
// re-send) gets its own grace: a read made just after the re-send, while
// its task still runs, is not taken as proof that it did not take effect.
// Judged by the first send's read time, the grace had already passed and
// one read decided (what CI's chaos suite once hit: sent twice, reported
// failed although the second had not had time to show).
func TestSettingsGraceCountsFromTheLatestSend(t *testing.T) {
	defer func(g time.Duration) { SettingsGrace = g }(SettingsGrace)
	SettingsGrace = 200 * time.Millisecond

	m := &engine.Mutation{Send: func(context.Context) (any, error) { return nil, nil }}
	var reads atomic.Int32
	settleReconcile(m, func(context.Context) (bool, error) {
		return reads.Add(1) >= 2, nil // shows on the second read
	}, map[string]any{"stage": "done"})

	time.Sleep(SettingsGrace + 50*time.Millisecond) // the first read's grace is over
	if _, err := m.Send(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, found, err := m.Reconcile(context.Background())
	if err != nil || !found || got == nil {
		t.Fatalf("reconcile after a re-send = %v, %v, %v after %d reads; want found on the second read", got, found, err, reads.Load())
	}
}

// Without a send from this process since the witness was read (a resume
// after a crash), the grace still counts from the journaled read.
func TestSettingsGraceWithoutOwnSendCountsFromTheRead(t *testing.T) {
	defer func(g time.Duration) { SettingsGrace = g }(SettingsGrace)
	SettingsGrace = 50 * time.Millisecond

	m := &engine.Mutation{Send: func(context.Context) (any, error) { return nil, nil }}
	var reads atomic.Int32
	settleReconcile(m, func(context.Context) (bool, error) { reads.Add(1); return false, nil }, nil)
	witness := m.Witness
	time.Sleep(2 * SettingsGrace)
	// The journal restores a witness of another process (another nonce).
	other := &engine.Mutation{Send: m.Send}
	settleReconcile(other, func(context.Context) (bool, error) { reads.Add(1); return false, nil }, nil)
	other.Witness = witness
	if _, found, err := other.Reconcile(context.Background()); err != nil || found || reads.Load() != 1 {
		t.Fatalf("found %v, err %v after %d reads; want proven absent after one read", found, err, reads.Load())
	}
}
