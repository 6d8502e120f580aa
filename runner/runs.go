package runner

import (
	"fmt"
	"sort"

	"github.com/frameflow/frameflow/engine/journal"
)

// Runs lists the journaled runs, oldest id first (ids start with their
// start time).
func (s *Service) Runs() ([]journal.RunSummary, error) {
	store, err := s.openJournals(false)
	if err != nil {
		return nil, err
	}
	runs, err := store.List()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	return runs, nil
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
