// Package journal is frameflow's durable run journal: per run, an
// append-only sequence of JSON lines and a lock, kept by a Storage (one file
// per run under <state>/runs/ guarded by a kernel file lock, or PostgreSQL
// through the state package). It
// records what a run is (workflow, file hash, inputs), each step's end and
// outputs, and for every mutation an intent made durable before the request
// is sent and its result after, so that a crashed, interrupted or failed run
// can be resumed without sending any mutation twice.
//
// A *Run implements the engine's StepJournal (Lookup, Record),
// MutationRecorder (Do) and MutationFailer (MutationFailed). The journal
// knows no API: whether an error means
// "the request may have reached the server" is told by
// Options.IsOutcomeUnknown.
//
// Format and reasons: docs/decisions/journal-format.md; behaviour on resume:
// docs/resume.md.
//
// May import: engine (and what it imports). Never frame or steps.
package journal
