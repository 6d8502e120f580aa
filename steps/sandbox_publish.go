package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
)

const publishKind = "publish_sandbox_to_production"

// publishWitness is what sandbox.publish reads before sending: the ids of
// the account's publish tasks. A publish task id that is not in it proves
// the publish was made (see Reconcile below and docs/steps.md).
type publishWitness struct {
	TaskIDs []string `json:"publish_task_ids"`
	// Nonce tells the witness of this process from one restored from the
	// journal (see Reconcile).
	Nonce string `json:"nonce"`
	// Read is when the list was read, just before sending (zero in
	// journals written before it was kept: no grace).
	Read time.Time `json:"read,omitempty"`
}

// PublishListGrace is how long after sending the absence of a new publish
// task is not yet taken as proof that the publish was not sent: the docs
// do not say that the task is listed by the time the POST answers.
var PublishListGrace = 20 * time.Second

// ErrNoWitness says a publish cannot be reconciled because the engine did
// not restore what the step read before the crash.
var ErrNoWitness = errors.New("cannot prove whether the publish was sent: the publish tasks listed before sending were not restored from the journal")

type publishParams struct {
	AccountID any  `param:"account_id,id,required" doc:"Frame account ID whose Sandbox is published."`
	Wait      bool `param:"wait,wait=publish"`
}

func (s *stepsImpl) sandboxPublish() *engine.StepType {
	const name = "sandbox.publish"
	return &engine.StepType{
		Name:        name,
		Description: "Publishes the account's Sandbox to production (POST /accounts/:account_id/publish): new production servers run the Sandbox image.",
		Inputs:      inputsOf[publishParams](""),
		Outputs:     map[string]*engine.Shape{"task": taskShape()},
		Mutates:     true,
		Resources:   accountResources("account_id"),
		Run: func(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
			var p publishParams
			if err := decodeParams(in, "", &p); err != nil {
				return nil, invalid(name, err)
			}
			acc, wait := p.AccountID, p.Wait
			req, err := plannedRequest("", "sandbox.publish", map[string]any{"account_id": acc}, frame.Overrides{})
			if err != nil {
				return nil, invalid(name, err)
			}
			m := mutationOf(name, req)
			m.Resources = accountResources("account_id")(in)
			m.Placeholder = taskPlaceholder(acc, publishKind, "Publishing Sandbox to Production")
			// Publishing replaces the image production pools run: an update
			// of something that exists, not a creation.
			m.Action = engine.ActionUpdate
			m.Details = []engine.Detail{{Label: "published", Value: "the account's Sandbox image, to its production pools"}}
			if sc.Mode() == engine.ModeRun {
				id, ok := acc.(string)
				if !ok {
					return nil, invalidf(name, "account_id is not known")
				}
				if s.client == nil {
					return nil, errors.New("no Frame API client configured")
				}
				if err := s.preparePublish(ctx, m, id, req); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			}
			res, err := sc.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			task, err := s.maybeWait(ctx, sc, wait, res, waitSpec{})
			if err != nil {
				return nil, err
			}
			return map[string]any{"task": task}, nil
		},
	}
}

// preparePublish reads the account's publish tasks (the witness) and sets
// Send and Reconcile. One GET per publish buys exactly-once publishing
// across crashes: without it nothing proves whether a publish whose answer
// was lost took effect.
func (s *stepsImpl) preparePublish(ctx context.Context, m *engine.Mutation, accountID string, req *frame.Request) error {
	c := s.client
	before, err := c.PublishTasks(ctx, accountID)
	if err != nil {
		return fmt.Errorf("listing publish tasks before publishing: %w", err)
	}
	m.Send = s.sendTask("sandbox.publish", req)
	tr := trackSends(m)
	w := publishWitness{TaskIDs: publishIDs(before), Nonce: tr.nonce, Read: time.Now().UTC()}
	if m.Witness, err = json.Marshal(w); err != nil {
		return err
	}
	m.Reconcile = func(ctx context.Context) (any, bool, error) {
		// Read the witness at call time: on resume the engine restores the
		// journaled one into m. If it is still this process's own and this
		// process never sent, the list was read after the crash and would
		// already contain the publish being looked for.
		var got publishWitness
		if err := json.Unmarshal(m.Witness, &got); err != nil {
			return nil, false, fmt.Errorf("%w: %v", ErrNoWitness, err)
		}
		if tr.ownUnsent(got.Nonce) {
			return nil, false, ErrNoWitness
		}
		found, err := newPublishTask(ctx, c, accountID, idSet(got.TaskIDs), tr.graceFrom(got.Read, got.Nonce))
		if err != nil || found == nil {
			return nil, false, err
		}
		t := publishTask(accountID, *found)
		out, err := taskOutput(t)
		if err != nil {
			return nil, false, err
		}
		om := out.(map[string]any)
		// The status call is addressed by the entry's request_id (the docs'
		// curl example), not by its gateway-... id.
		om["publish_id"] = found.StatusID()
		delete(om, "id") // no task id is known, only the publish's
		return om, true, nil
	}
	return nil
}

// newPublishTask returns the newest publish task of the account that is
// not in seen, nil when none shows once the grace since read has passed (a
// publish task may be listed a moment late): proof that none was sent.
func newPublishTask(ctx context.Context, c *frame.Client, accountID string, seen map[string]bool, read time.Time) (*frame.PublishStatus, error) {
	for {
		now, err := c.PublishTasks(ctx, accountID)
		if err != nil {
			return nil, err
		}
		var found *frame.PublishStatus
		for i := range now {
			if id := rawID(now[i].ID); id != "" && !seen[id] {
				if found == nil || now[i].LastChange >= found.LastChange {
					found = &now[i]
				}
			}
		}
		if found != nil {
			return found, nil
		}
		wait := PublishListGrace - time.Since(read)
		if read.IsZero() || wait <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func publishIDs(list []frame.PublishStatus) []string {
	ids := make([]string, 0, len(list))
	for _, p := range list {
		if id := rawID(p.ID); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// rawID renders a JSON id that may be a string or a number.
func rawID(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s
	}
	return string(r)
}
