package journal

import "bytes"

// Undecided lists the mutations of run id that wait for an operator's
// decision (as Run.Pending: maybe sent, or proven sent and not proven
// finished), without taking the run's lock: `frameflow runs` shows them
// while a run may be going on.
func (s *Store) Undecided(id string) ([]PendingMutation, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	data, _, err := s.storage.Read(id)
	if err != nil {
		return nil, err
	}
	recs, _, err := readRecords(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	r := &Run{muts: map[string]*mutState{}, steps: map[stepKey]stepState{}, spans: map[int]Interval{}}
	for i := range recs {
		r.apply(&recs[i])
	}
	return r.Pending(), nil
}
