package journal

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// RunDetail is everything a person reviewing a run needs from its journal:
// what was run with which inputs (secrets were redacted before writing),
// each attempt, each step execution as last recorded, and each mutation
// with its last state and result. It is read-only: `frameflow runs show`.
type RunDetail struct {
	RunSummary
	FileHash  string
	Mode      string // run, apply
	PlanHash  string
	Inputs    map[string]any
	Steps     []StepDetail
	Mutations []MutationDetail
}

// StepDetail is a step execution (one fan-out item of it) as last recorded:
// a resumed run's later record replaces the earlier one.
type StepDetail struct {
	Step     string
	Item     string
	ItemKey  string
	Status   string
	Attempts int           // of this execution
	Runs     int           // how many records: more than one when resumed
	Duration time.Duration // of the last execution
	Error    string
	Attempt  int // the run attempt (process) that recorded it
}

// MutationDetail is one mutation (a key) with its last state: intent,
// result, unknown, failed or not_sent.
type MutationDetail struct {
	Key    string
	Step   string // from the key: step[item key]#n
	Item   string // the item key
	Type   string
	Method string
	Path   string
	State  string
	Via    string          // how the last state was reached: send, reconcile, assumed, task_failed
	Result json.RawMessage // the result recorded (a task), if any
	Error  string
	Sends  int // intents written: more than one when sent again after a failure
}

// TaskID is the id of the task the mutation's result holds, "" if none.
func (m *MutationDetail) TaskID() string {
	var t struct {
		ID any `json:"id"`
	}
	if len(m.Result) == 0 || json.Unmarshal(m.Result, &t) != nil {
		return ""
	}
	if s, ok := t.ID.(string); ok {
		return s
	}
	return ""
}

// Detail reads run id's journal. It takes no lock: a running run can be
// looked at.
func (s *Store) Detail(id string) (*RunDetail, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	data, locked, err := s.storage.Read(id)
	if err != nil {
		return nil, err
	}
	recs, _, err := readRecords(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	h := recs[0]
	d := &RunDetail{
		RunSummary: summarize(id, recs, locked),
		FileHash:   h.FileHash, Mode: h.Mode, PlanHash: h.PlanHash, Inputs: h.Inputs,
	}
	steps := map[[2]string]int{}
	muts := map[string]int{}
	attempt := 0
	for _, r := range recs {
		switch r.T {
		case recAttempt:
			attempt = r.Attempt
		case recStep:
			k := [2]string{r.Step, r.ItemKey}
			sd := StepDetail{Step: r.Step, Item: r.Item, ItemKey: r.ItemKey, Status: r.Status, Attempts: r.Attempts,
				Duration: time.Duration(r.DurationMS) * time.Millisecond, Error: r.Error, Attempt: attempt}
			if at, ok := steps[k]; ok {
				sd.Runs = d.Steps[at].Runs + 1
				d.Steps[at] = sd
				continue
			}
			sd.Runs = 1
			steps[k] = len(d.Steps)
			d.Steps = append(d.Steps, sd)
		case recIntent, recResult, recUnknown, recFailed, recNotSent:
			at, ok := muts[r.Key]
			if !ok {
				step, item := splitKey(r.Key)
				at = len(d.Mutations)
				muts[r.Key] = at
				d.Mutations = append(d.Mutations, MutationDetail{Key: r.Key, Step: step, Item: item})
			}
			m := &d.Mutations[at]
			m.State, m.Via, m.Error = r.T, r.Via, r.Error
			switch r.T {
			case recIntent:
				m.Type, m.Method, m.Path = r.Type, r.Method, r.Path
				m.Sends++
			case recResult:
				m.Result = r.Result
			}
		}
	}
	return d, nil
}

// splitKey reads the engine's mutation key "step[item key]#n".
func splitKey(key string) (step, item string) {
	open := strings.IndexByte(key, '[')
	end := strings.LastIndexByte(key, ']')
	if open < 0 || end < open {
		return key, ""
	}
	return key[:open], key[open+1 : end]
}
