package cli

import (
	"io"
	"sync"
)

// eventWriter passes the rendered events of a run to the output in order,
// without making the step that emitted one wait for the write of another.
// A Write only appends to a buffer; the writer that finds no write under
// way writes everything queued (its own line and whatever others queued
// meanwhile) in one system call per round, until the buffer is empty. So
// nothing waits in the buffer while no write is under way (output stays
// prompt), and a busy run makes few, larger writes instead of queueing
// hundreds of steps, each holding its engine slot, behind one write(2)
// per event (BENCHMARKS.md, issue 16).
//
// Writes must be whole lines (every renderer writes one event per Write);
// Close waits for the last round and must be called before anything else
// writes to the same output.
type eventWriter struct {
	mu      sync.Mutex
	idle    sync.Cond // signalled when a round of writes ends
	w       io.Writer
	queued  []byte
	spare   []byte
	writing bool
	err     error // the first failed write; later events are dropped
}

func newEventWriter(w io.Writer) *eventWriter {
	e := &eventWriter{w: w}
	e.idle.L = &e.mu
	return e
}

func (e *eventWriter) Write(p []byte) (int, error) {
	e.mu.Lock()
	e.queued = append(e.queued, p...)
	return e.flushLocked(len(p))
}

// WriteString is Write without converting s to a byte slice first (the
// redacting writer above this one hands over strings).
func (e *eventWriter) WriteString(s string) (int, error) {
	e.mu.Lock()
	e.queued = append(e.queued, s...)
	return e.flushLocked(len(s))
}

// flushLocked is called with e.mu held and n bytes just queued: it returns
// at once when a write is under way (that one takes them), else writes
// everything queued, round after round, and unlocks.
func (e *eventWriter) flushLocked(n int) (int, error) {
	if e.err != nil {
		err := e.err
		e.queued = e.queued[:len(e.queued)-n]
		e.mu.Unlock()
		return 0, err
	}
	if e.writing {
		e.mu.Unlock()
		return n, nil // the write under way takes it
	}
	e.writing = true
	for len(e.queued) > 0 && e.err == nil {
		batch := e.queued
		e.queued = e.spare[:0]
		e.mu.Unlock()
		_, err := e.w.Write(batch)
		e.mu.Lock()
		e.spare = batch
		if err != nil {
			e.err = err
		}
	}
	e.writing = false
	e.idle.Broadcast()
	e.mu.Unlock()
	return n, nil
}

// Close waits until everything queued is written and returns the first
// write error.
func (e *eventWriter) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.writing {
		e.idle.Wait()
	}
	return e.err
}
