package runner

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/frame"
)

// Recap is what a person needs at the end of a run that did not succeed:
// the failed items grouped by reason (61 × "simulated failure"), the
// interrupted ones, those whose outcome is unknown, and the command that
// continues the run. It is data, for the terminal and for a web page.
type Recap struct {
	RunID       string        `json:"run_id"`
	Status      engine.Status `json:"status"`
	Failed      int           `json:"failed"`
	Reasons     []ReasonGroup `json:"reasons"`
	Interrupted []string      `json:"interrupted,omitempty"` // labels
	Unknown     []string      `json:"outcome_unknown,omitempty"`
	Resume      string        `json:"resume,omitempty"` // the command that continues the run
	// Rejected are the approval gates people rejected ("gate, by ann"):
	// the decisions stand, so a resume stops at them again. When they are
	// all that failed, Resume is empty.
	Rejected []string `json:"rejected,omitempty"`
}

// ReasonGroup is the failed executions that share a reason.
type ReasonGroup struct {
	Reason string   `json:"reason"`
	Steps  []string `json:"steps"` // the steps they failed in, in order of first failure
	Items  []string `json:"items"` // their labels: the item, else the step
}

// StatusOutcomeUnknown is the status of an execution whose mutation may or
// may not have taken effect (set by the journal's reconciliation).
const StatusOutcomeUnknown engine.Status = "outcome_unknown"

// RecapOf groups res's failures. Fan-out and group summary rows ("5 of 8
// items failed") are left out: their items are counted instead.
func RecapOf(res *engine.Result) Recap {
	rc := Recap{RunID: res.RunID, Status: res.Status}
	byReason := map[string]int{}
	for _, st := range res.Steps {
		if isFanOutSummary(st) {
			continue
		}
		label := st.Item
		if label == "" {
			label = st.Step
		}
		switch st.Status {
		case engine.StatusFailed:
			rc.Failed++
			var rej *engine.ApprovalRejectedError
			if st.Err != nil && errors.As(st.Err, &rej) {
				rc.Rejected = append(rc.Rejected, rej.Key+", by "+rej.By)
			}
			reason := failureReason(st)
			at, ok := byReason[reason]
			if !ok {
				at = len(rc.Reasons)
				byReason[reason] = at
				rc.Reasons = append(rc.Reasons, ReasonGroup{Reason: reason})
			}
			g := &rc.Reasons[at]
			if !contains(g.Steps, st.Step) {
				g.Steps = append(g.Steps, st.Step)
			}
			g.Items = append(g.Items, label)
		case engine.StatusInterrupted:
			rc.Interrupted = append(rc.Interrupted, label)
		case StatusOutcomeUnknown:
			rc.Unknown = append(rc.Unknown, label)
		}
	}
	// Most frequent reason first; ties keep the order of first failure.
	sortStable(rc.Reasons)
	onlyRejected := len(rc.Rejected) > 0 && len(rc.Rejected) == rc.Failed && len(rc.Interrupted) == 0 && len(rc.Unknown) == 0
	if res.RunID != "" && res.Status != engine.RunSucceeded && !onlyRejected {
		rc.Resume = "frameflow resume " + res.RunID
	}
	return rc
}

func isFanOutSummary(st engine.StepResult) bool {
	if st.Outputs == nil {
		return false
	}
	_, items := st.Outputs["items"]
	_, count := st.Outputs["count"]
	return items && count
}

var (
	uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	taskSuffix  = regexp.MustCompile(` \(task( "[^"]*")?( \S+)? failed\)$`)
)

// failureReason is what failed, without the ids that differ per item: a
// failed task's result_info message, else the error with its trailing task
// reference dropped and UUIDs elided, so that equal causes group together.
func failureReason(st engine.StepResult) string {
	var tf *frame.TaskFailedError
	if st.Err != nil && errors.As(st.Err, &tf) {
		return tf.Reason()
	}
	s := strings.TrimSpace(st.Error)
	s = taskSuffix.ReplaceAllString(s, "")
	s = uuidPattern.ReplaceAllString(s, "…")
	if s == "" {
		return "no error message"
	}
	return s
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// sortStable orders groups by size, largest first, keeping the order of
// first failure among equals (insertion sort: a handful of reasons).
func sortStable(g []ReasonGroup) {
	for i := 1; i < len(g); i++ {
		for j := i; j > 0 && len(g[j].Items) > len(g[j-1].Items); j-- {
			g[j], g[j-1] = g[j-1], g[j]
		}
	}
}

// RecapOfDetail is RecapOf for a run read back from its journal (runs
// show): the last record of each execution, fan-out summary rows left out.
func RecapOfDetail(d *journal.RunDetail) Recap {
	res := &engine.Result{RunID: d.ID, Status: engine.Status(d.Status)}
	for _, sd := range d.Steps {
		if IsFanOutRow(d, sd) {
			continue
		}
		res.Steps = append(res.Steps, engine.StepResult{Step: sd.Step, Item: sd.Item, ItemKey: sd.ItemKey, Status: engine.Status(sd.Status), Error: sd.Error})
	}
	rc := RecapOf(res)
	if d.Status == journal.StatusCrashed || d.Status == journal.StatusFailed || d.Status == journal.StatusInterrupted {
		rc.Resume = "frameflow resume " + d.ID
	} else {
		rc.Resume = ""
	}
	return rc
}

// RunRecap is RecapOfDetail with the approval gates people rejected,
// read from their decision documents (a journal keeps only the error
// text): a run that stopped only at rejected gates has no resume command,
// since a resume stops there again.
func (s *Service) RunRecap(d *journal.RunDetail) Recap {
	rc := RecapOfDetail(d)
	gates := s.approvalSteps(d.File)
	for _, sd := range d.Steps {
		if sd.Status != string(engine.StatusFailed) || !gates[sd.Step] {
			continue
		}
		key := engine.ApprovalKey(sd.Step, sd.ItemKey)
		if dec, err := s.approvalOf(context.Background(), d.ID, key); err == nil && dec != nil && !dec.Approved {
			rc.Rejected = append(rc.Rejected, key+", by "+dec.By)
		}
	}
	if len(rc.Rejected) > 0 && len(rc.Rejected) == rc.Failed && len(rc.Interrupted) == 0 && len(rc.Unknown) == 0 {
		rc.Resume = ""
	}
	return rc
}

// approvalSteps are the full ids of the approval steps of the workflow
// file; none when it cannot be read (changed or gone).
func (s *Service) approvalSteps(file string) map[string]bool {
	gates := map[string]bool{}
	reg, err := NewRegistry(nil, nil)
	if err != nil {
		return gates
	}
	if prog, diags := Load(file, reg); prog != nil && len(diags) == 0 {
		for _, id := range prog.StepsUsing("approval") {
			gates[id] = true
		}
	}
	return gates
}

// IsFanOutRow reports whether sd is a fan-out's or group's own row (its
// items are rows of their own): another row has the same step with an
// item, or a step inside it ("rollout.clone" for "rollout").
func IsFanOutRow(d *journal.RunDetail, sd journal.StepDetail) bool {
	if sd.ItemKey != "" && sd.Item != "" {
		// An item of an outer fan-out can itself be a group's row; only
		// rows with deeper steps for the same item say so.
		for _, o := range d.Steps {
			if o.ItemKey == sd.ItemKey && strings.HasPrefix(o.Step, sd.Step+".") {
				return true
			}
		}
		return false
	}
	for _, o := range d.Steps {
		if o.Step == sd.Step && o.ItemKey != "" {
			return true
		}
		if strings.HasPrefix(o.Step, sd.Step+".") {
			return true
		}
	}
	return false
}
