package steps

import (
	"fmt"
	"sync"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

// Deps is what the step types need from the run.
type Deps struct {
	// Client talks to the Frame Admin API; nil in offline mode. In plan
	// mode it should be read-only (the steps only read through it there).
	Client *frame.Client
	// Poller is shared by every wait of a run so that it learns how long
	// each kind of task takes; nil: a Poller with the default PollConfig.
	Poller *Poller
	// Findings are what `frameflow doctor` confirmed about this estate
	// (nil: nothing). Only with them does the absence of an audit entry
	// prove that a clone was not sent.
	Findings *frame.Findings
}

// Register registers every step type into reg.
func Register(reg *engine.Registry, d Deps) error {
	for _, t := range Types(d) {
		if err := reg.Register(t); err != nil {
			return fmt.Errorf("steps: %s: %w", t.Name, err)
		}
	}
	return nil
}

// Types returns every step type, hand-written ones first, then one api.*
// type per catalog endpoint. It is the one list of step types.
func Types(d Deps) []*engine.StepType {
	s := newSteps(d)
	list := []*engine.StepType{
		s.accountsList(),
		s.accountsGet(),
		s.poolsList(),
		s.sandboxClone(),
		s.sandboxPublish(),
		s.taskWait(),
		s.elasticitySet(),
		s.persistentDesktopCapacitySet(),
		s.sandboxStart(),
		s.sandboxStop(),
		s.apiCall(),
		s.httpRequest(),
		s.approval(),
	}
	return append(list, s.catalogTypes()...)
}

// stepsImpl carries the dependencies shared by the step types of one run.
type stepsImpl struct {
	client   *frame.Client
	poller   *Poller
	findings *frame.Findings

	// sourcePools caches the sandbox pool of source accounts: a clone
	// fanned out over many targets reads its source once, not once per
	// target. Sandbox pool ids do not change during a run.
	mu          sync.Mutex
	sourcePools map[string]*sourcePoolEntry
	// poolNames caches, per account, its pools' names (id → name), read
	// once for plans to name a clone's source pool.
	poolNames map[string]*poolNamesEntry
}

type poolNamesEntry struct {
	done  chan struct{}
	names map[string]string
}

type sourcePoolEntry struct {
	done chan struct{}
	pool string
	err  error
}

func newSteps(d Deps) *stepsImpl {
	p := d.Poller
	if p == nil {
		p = NewPoller(PollConfig{})
	}
	return &stepsImpl{client: d.Client, poller: p, findings: d.Findings, sourcePools: map[string]*sourcePoolEntry{}, poolNames: map[string]*poolNamesEntry{}}
}
