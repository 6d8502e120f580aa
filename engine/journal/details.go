package journal

import (
	"fmt"
	"time"
)

// RunDetails is one run as its journal holds it: the summary, the header
// and every step execution recorded, in journal order. It is what `runs
// show` and the web page's run page display.
type RunDetails struct {
	Summary RunSummary
	Meta    RunMeta
	Steps   []StepEntry
}

// StepEntry is one journaled step execution (or fan-out item).
type StepEntry struct {
	Attempt  int // the run attempt (process) that recorded it
	Step     string
	Item     string
	ItemKey  string
	Status   string
	Attempts int // step attempts (retries) it took
	Duration time.Duration
	Error    string
	Time     time.Time
}

// Details reads one run's journal. Reading takes no lock: a running run
// can be followed by reading it again.
func (s *Store) Details(runID string) (*RunDetails, error) {
	if err := checkID(runID); err != nil {
		return nil, err
	}
	recs, _, err := readFile(s.journalPath(runID))
	if err != nil {
		return nil, fmt.Errorf("journal: run %s: %w", runID, err)
	}
	h := recs[0]
	d := &RunDetails{
		Summary: summarize(runID, recs, isLocked(s.lockPath(runID))),
		Meta: RunMeta{RunID: h.RunID, Workflow: h.Workflow, File: h.File, FileHash: h.FileHash, Inputs: h.Inputs,
			Mode: h.Mode, PlanHash: h.PlanHash, Approver: h.Approver},
	}
	if h.Started != nil {
		d.Meta.Started = *h.Started
	}
	for _, r := range recs {
		if r.T != recStep {
			continue
		}
		d.Steps = append(d.Steps, StepEntry{Attempt: r.Attempt, Step: r.Step, Item: r.Item, ItemKey: r.ItemKey, Status: r.Status,
			Attempts: r.Attempts, Duration: time.Duration(r.DurationMS) * time.Millisecond, Error: r.Error, Time: r.Time})
	}
	return d, nil
}
