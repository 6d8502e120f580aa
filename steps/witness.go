package steps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/frameflow/frameflow/engine"
)

// sendTracker is shared by the steps that reconcile through a witness (what
// they read just before sending, journaled with the intent). On resume the
// engine restores the journaled witness into the mutation; if the witness
// is still this process's own and this process never sent, it was read
// after the crash and proves nothing.
type sendTracker struct {
	nonce    string
	sent     atomic.Bool
	lastSent atomic.Int64 // unix nanoseconds of this process's latest send
}

// trackSends wraps m.Send (set it first) to note that this process sent.
func trackSends(m *engine.Mutation) *sendTracker {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	t := &sendTracker{nonce: hex.EncodeToString(b)}
	send := m.Send
	m.Send = func(ctx context.Context) (any, error) {
		t.sent.Store(true)
		t.lastSent.Store(time.Now().UnixNano())
		return send(ctx)
	}
	return t
}

// ownUnsent reports whether a witness carrying nonce is this process's own
// and this process never sent: such a witness cannot prove anything.
func (t *sendTracker) ownUnsent(nonce string) bool { return nonce == t.nonce && !t.sent.Load() }

// graceFrom is when a witness's grace starts: its read, or this process's
// latest send when the witness is its own. A re-send after a proven
// absence (the journal sends once more) gets its own grace instead of
// being judged by one read made before its task could finish.
func (t *sendTracker) graceFrom(w time.Time, nonce string) time.Time {
	if nonce == t.nonce && t.sent.Load() {
		if last := time.Unix(0, t.lastSent.Load()); last.After(w) {
			return last
		}
	}
	return w
}

// idSet is the set of ids a witness recorded.
func idSet(ids []string) map[string]bool {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	return seen
}

// SettingsGrace is how long after a settings change was sent (pool
// elasticity, persistent desktop capacity) a read that still shows other
// values is not yet taken as proof that it was not sent. The docs say Frame
// "immediately sets new values", but a server may apply them only when the
// update task finishes; while that task runs the change was sent, and
// sending it again only meets the running task. So reconcile keeps reading
// until the values show or the grace has passed since sending.
var SettingsGrace = 20 * time.Second

// settingsWitness is what a settings step journals with its intent: when
// it read the current values, just before sending.
type settingsWitness struct {
	Read  time.Time `json:"read"`
	Nonce string    `json:"nonce"`
}

// settleReconcile sets m.Reconcile for an idempotent settings change:
// applied reports whether the server shows the desired values. It is
// proven sent when they show (within the grace since sending), and proven
// not sent otherwise. done is the result returned when found.
func settleReconcile(m *engine.Mutation, applied func(ctx context.Context) (bool, error), done map[string]any) {
	tr := trackSends(m)
	m.Witness, _ = json.Marshal(settingsWitness{Read: time.Now().UTC(), Nonce: tr.nonce})
	m.Reconcile = func(ctx context.Context) (any, bool, error) {
		var w settingsWitness
		_ = json.Unmarshal(m.Witness, &w) // a journal without one: no grace
		deadline := tr.graceFrom(w.Read, w.Nonce).Add(SettingsGrace)
		if tr.ownUnsent(w.Nonce) {
			deadline = time.Time{} // read after the crash: nothing of ours is on its way
		}
		for {
			ok, err := applied(ctx)
			if err != nil {
				return nil, false, err
			}
			if ok {
				return done, true, nil
			}
			wait := time.Until(deadline)
			if w.Read.IsZero() || wait <= 0 {
				return nil, false, nil
			}
			t := time.NewTimer(min(wait, time.Second))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, false, ctx.Err()
			case <-t.C:
			}
		}
	}
}
