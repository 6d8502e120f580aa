package steps

import "sort"

// resumeNotes say how each hand-written mutating step is reconciled on
// resume (see docs/resume.md); shown by `frameflow steps TYPE` and
// generated into docs/steps.md.
var resumeNotes = map[string]string{
	"sandbox.clone":                   "Before sending, the step reads the target account's audit-trail entries of the last hour (`GET /accounts/:id/audit-trails`): of exactly the kinds `frameflow doctor` confirmed for clones on this estate, else those whose kind contains `clone`; it keeps their ids as the mutation's witness (journaled with the intent). The read is best-effort: a 403, 404 or error never stops the clone, and the witness then says none was taken. Reconcile reads them again: a new entry proves the clone was sent but not that it finished (the entry names no task), so the item ends `outcome_unknown` for the operator (`frameflow resume RUN --mark KEY=sent|not-sent`) and nothing that depends on it runs. No new entry proves it was not sent only with a confirmed kind, once 20 s have passed since sending; otherwise an operator decides. Without the journaled witness it refuses to guess.",
	"sandbox.publish":                 "Before sending, the step lists the account's publish tasks (`GET /accounts/:id/publish/tasks`) and keeps their ids as the mutation's witness (journaled with the intent). Reconcile lists them again: an id not in the witness proves the publish was made (its publish id is kept as `publish_id` and waited on through `GET /accounts/:id/publish/:task_id`); none proves it was not, once 20 s have passed since sending (a task may be listed late). Without the journaled witness it refuses to guess.",
	"elasticity.set":                  "Idempotent: Reconcile reads the pool's settings; equal to the desired values proves the change took effect. Different values prove nothing for 20 s after sending (an update task may still be running: it was sent), and then that it was not sent. A re-run step that finds them equal sends nothing and is reported unchanged.",
	"persistent_desktop.capacity.set": "Idempotent: Reconcile reads the current capacity and compares it with the desired one, as elasticity.set (20 s for a running update to show).",
	"sandbox.start":                   "Reconcile reads the Sandbox status: running servers prove the start; none proves it was not (starting is idempotent).",
	"sandbox.stop":                    "Reconcile reads the Sandbox status: no running servers prove the stop.",
	"approval":                        "Decisions are documents of the state backend (local files or PostgreSQL), written once. A gate approved before a crash is journaled as succeeded and not asked again; one still waiting waits again on resume, and finds a decision made meanwhile (`frameflow approve RUN STEP`, or `resume --approve STEP`). A rejected or timed-out gate fails; a resume runs it again (a rejection stands).",
	"http.request":                    "A GET or HEAD is a read and runs again. Any other method is journaled with an intent before it is sent; an arbitrary service offers nothing to read back, so a resume that finds the intent without a result does not send it again: the item ends `outcome_unknown` for an operator (`frameflow resume RUN --mark KEY=sent|not-sent`). Only a request declared idempotent (`idempotent: true`, or an `Idempotency-Key` header) is sent again. A 5xx other than 503, or a connection lost after the request was written, is `outcome_unknown` too (never retried by `retry:`).",
	"api.call":                        "No generic Reconcile: a call whose answer was lost stops the resume.",
}

// ResumeNote says how a hand-written mutating step type is reconciled on
// resume; "" for the others.
func ResumeNote(stepType string) string { return resumeNotes[stepType] }

// ResumeNoteTypes lists the step types with a resume note, sorted.
func ResumeNoteTypes() []string {
	out := make([]string, 0, len(resumeNotes))
	for k := range resumeNotes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
