package steps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"

	"github.com/frameflow/frameflow/engine"
)

// sendTracker is shared by the steps that reconcile through a witness (what
// they read just before sending, journaled with the intent). On resume the
// engine restores the journaled witness into the mutation; if the witness
// is still this process's own and this process never sent, it was read
// after the crash and proves nothing.
type sendTracker struct {
	nonce string
	sent  atomic.Bool
}

// trackSends wraps m.Send (set it first) to note that this process sent.
func trackSends(m *engine.Mutation) *sendTracker {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	t := &sendTracker{nonce: hex.EncodeToString(b)}
	send := m.Send
	m.Send = func(ctx context.Context) (any, error) {
		t.sent.Store(true)
		return send(ctx)
	}
	return t
}

// ownUnsent reports whether a witness carrying nonce is this process's own
// and this process never sent: such a witness cannot prove anything.
func (t *sendTracker) ownUnsent(nonce string) bool { return nonce == t.nonce && !t.sent.Load() }

// idSet is the set of ids a witness recorded.
func idSet(ids []string) map[string]bool {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	return seen
}
