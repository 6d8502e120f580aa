package steps

import "sort"

// resumeNotes say how each hand-written mutating step is reconciled on
// resume (see docs/resume.md); shown by `frameflow steps TYPE` and
// generated into docs/steps.md.
var resumeNotes = map[string]string{
	"sandbox.clone":                   "Before sending, the step reads the target account's clone audit-trail entries of the last hour (`GET /accounts/:id/audit-trails?kind=clone`) and keeps their ids as the mutation's witness (journaled with the intent). Reconcile reads them again: an entry not in the witness proves the clone was made; none proves it was not. The audit trail does not name the task, so a clone found this way is not waited on (its output `task` has `audit_trail_id` and no `id`); a publish that follows is refused with 409 while the clone runs and retried by the `conflict` retry policy. Without the journaled witness it refuses to guess.",
	"sandbox.publish":                 "Before sending, the step lists the account's publish tasks (`GET /accounts/:id/publish/tasks`) and keeps their ids as the mutation's witness (journaled with the intent). Reconcile lists them again: an id not in the witness proves the publish was made (its publish id is kept as `publish_id` and waited on through `GET /accounts/:id/publish/:task_id`); none proves it was not. Without the journaled witness it refuses to guess.",
	"elasticity.set":                  "Idempotent: Reconcile reads the pool's settings; equal to the desired values proves the change took effect, different proves it did not. A re-run step that finds them equal sends nothing and is reported unchanged.",
	"persistent_desktop.capacity.set": "Idempotent: Reconcile reads the current capacity and compares it with the desired one.",
	"sandbox.start":                   "Reconcile reads the Sandbox status: running servers prove the start; none proves it was not (starting is idempotent).",
	"sandbox.stop":                    "Reconcile reads the Sandbox status: no running servers prove the stop.",
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
