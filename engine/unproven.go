package engine

import "fmt"

// SentUnprovenError is what a Mutation's Reconcile returns when a read
// proves that the mutation was sent (so it must never be sent again) but
// nothing documented proves that its effect finished: a clone whose audit
// entry appeared while its task id was lost. The recorder journals it as
// sent, sends nothing, and leaves the decision to an operator
// (`frameflow resume RUN --mark KEY=sent|not-sent`).
type SentUnprovenError struct {
	Evidence string // what proves it was sent
	Missing  string // what could not be proven, and why
}

func (e *SentUnprovenError) Error() string {
	return fmt.Sprintf("it was sent (%s), but %s", e.Evidence, e.Missing)
}

// OperatorDecision is the key a recorder puts in the result of a mutation
// an operator marked as sent: there is no task, only the operator's word
// (with decided_by and decided_at beside it). Steps treat such a result as
// done and wait on nothing.
const OperatorDecision = "operator_decision"

// DecidedByOperator reports whether res is a result an operator marked.
func DecidedByOperator(res any) bool {
	m, ok := res.(map[string]any)
	return ok && m[OperatorDecision] == "sent"
}
