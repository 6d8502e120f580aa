package runner

import (
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// Decision is an operator's verdict on a mutation whose outcome is unknown:
// after checking in Frame, they say it took effect and finished
// (journal.DecisionSent) or did not (journal.DecisionNotSent).
type Decision struct {
	Key      string // the journal's mutation key, as the failed run names it
	Decision string // journal.DecisionSent or journal.DecisionNotSent
}

// ParseMark reads one KEY=sent|not-sent.
func ParseMark(m string) (Decision, error) {
	i := strings.LastIndexByte(m, '=')
	if i <= 0 {
		return Decision{}, fmt.Errorf("--mark %q: want KEY=sent or KEY=not-sent", m)
	}
	key, v := m[:i], m[i+1:]
	switch v {
	case "sent":
		return Decision{key, journal.DecisionSent}, nil
	case "not-sent", "not_sent":
		return Decision{key, journal.DecisionNotSent}, nil
	}
	return Decision{}, fmt.Errorf("--mark %q: %q is neither sent nor not-sent", m, v)
}

// OperatorName is who decides, as the journal records it: user@host.
func OperatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}

// Mark journals the operator's decisions, by whom. Call it only once the
// resumption was approved: a refused resume journals none of them.
func (r *Resumption) Mark(ds []Decision, by string) error {
	for _, d := range ds {
		if err := r.jr.Decide(d.Key, d.Decision, by); err != nil {
			return &InputError{Err: err}
		}
	}
	return nil
}

// Undecided lists the run's mutations whose outcome is unknown (maybe sent,
// or proven sent and not proven finished): they were not sent again, and
// what depends on them did not run.
func (o *Outcome) Undecided() []journal.PendingMutation { return o.pending }

// UndecidedReport says which mutations wait for an operator, each with its
// item and the two commands that settle it; "" when none do.
func (o *Outcome) UndecidedReport() string {
	if len(o.pending) == 0 {
		return ""
	}
	labels := map[string]string{} // step[item-key] -> item label
	if o.Result != nil {
		for _, st := range o.Result.Steps {
			if st.Item != "" && st.ItemKey != "" {
				labels[st.Step+"["+st.ItemKey+"]"] = st.Item
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d mutation(s) with an unknown outcome were not sent again and stop what depends on them (%s). "+
		"Check each in Frame, then decide:", len(o.pending), engine.ClassOutcomeUnknown)
	for _, p := range o.pending {
		item := ""
		if i := strings.LastIndexByte(p.Key, '#'); i > 0 {
			if l := labels[p.Key[:i]]; l != "" {
				item = " (" + l + ")"
			}
		}
		state := "may have been sent"
		if p.ProvenSent {
			state = strings.TrimPrefix(p.Evidence, "it ") // "was sent (evidence), but ..."
		}
		fmt.Fprintf(&b, "\n  %s%s %s %s: %s\n    frameflow resume %s --mark '%s=sent'      # it took effect and finished\n    frameflow resume %s --mark '%s=not-sent'  # it did not take effect",
			p.Key, item, p.Method, p.Path, state, o.RunID, p.Key, o.RunID, p.Key)
	}
	return b.String()
}
