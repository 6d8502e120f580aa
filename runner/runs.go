package runner

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/frameflow/frameflow/engine/journal"
)

// Runs lists the journaled runs, newest first (the journal's order).
func (s *Service) Runs() ([]journal.RunSummary, error) {
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	return store.List()
}

// RunsFilter narrows Runs: Status keeps runs whose status is one of these
// (comma-separated; "waiting": running and waiting at an approval gate),
// Limit keeps the newest N (0: all).
type RunsFilter struct {
	Status string
	Limit  int
}

// FilterRuns applies f to runs (newest first) and returns what is kept.
func FilterRuns(runs []journal.RunSummary, f RunsFilter) []journal.RunSummary {
	want := map[string]bool{}
	for _, st := range strings.Split(f.Status, ",") {
		if st = strings.TrimSpace(st); st != "" {
			want[st] = true
		}
	}
	out := make([]journal.RunSummary, 0, len(runs))
	for _, r := range runs {
		// "waiting": runs waiting at an approval gate now (running ones).
		waiting := want["waiting"] && r.Status == journal.StatusRunning && len(r.Waiting) > 0
		if len(want) > 0 && !want[r.Status] && !waiting {
			continue
		}
		out = append(out, r)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

// RunDetail reads one run's journal for review: its steps, items and
// mutations (inputs come redacted from the journal).
func (s *Service) RunDetail(id string) (*journal.RunDetail, error) {
	// The state backend's journals, PostgreSQL's too (runs show and the
	// web page's run page read them).
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	d, err := store.Detail(id)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no run %s in %s (frameflow runs lists them)", id, store.Dir())
		}
		return nil, err
	}
	return d, nil
}

// Waiting is the approval steps run id waits at now (journal.RunSummary's
// Waiting), read from its journal alone: cheap enough for a page to ask
// every second.
func (s *Service) Waiting(id string) ([]journal.WaitingApproval, error) {
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	sum, err := store.Summary(id)
	if err != nil {
		return nil, err
	}
	return sum.Waiting, nil
}

// Undecided lists the mutations of run id that wait for an operator's
// decision (resume --mark), without taking the run's lock.
func (s *Service) Undecided(id string) ([]journal.PendingMutation, error) {
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	return store.Undecided(id)
}

// RunSummary is one run's summary, as Runs lists it.
func (s *Service) RunSummary(id string) (journal.RunSummary, error) {
	runs, err := s.Runs()
	if err != nil {
		return journal.RunSummary{}, err
	}
	for _, r := range runs {
		if r.ID == id {
			return r, nil
		}
	}
	where := s.cfg.StateDir
	if b, err := s.backend(); err == nil {
		where = b.Describe()
	}
	return journal.RunSummary{}, fmt.Errorf("journal: no run %s in %s", id, where)
}
