package cli_test

// The operator, played by tests: when a run stops because a mutation's
// outcome is unknown (outcome_unknown), the failed run names each one with
// the command that settles it. A person would check the account in the
// Frame console; the test looks at the simulator's state instead (the
// console's truth), waits for a running task to end, and marks the
// mutation sent if its task finished and not-sent otherwise.

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// undecidedLine matches one mutation of the failed run's report:
// "  KEY (label) METHOD PATH: state".
var undecidedLine = regexp.MustCompile(`(?m)^  (\S+#\d+)(?: \([^)]*\))? (POST|PUT|PATCH|DELETE) (\S+): `)

// undecided returns the key -> path of every mutation a failed run says
// waits for a decision.
func undecided(r exitResult) map[string]string {
	out := map[string]string{}
	for _, m := range undecidedLine.FindAllStringSubmatch(r.err, -1) {
		out[m[1]] = m[3]
	}
	return out
}

// operatorMarks decides every undecided mutation r names, from the
// simulator's state, and returns the --mark flags.
func (c *crashRig) operatorMarks(r exitResult) []string {
	c.t.Helper()
	var flags []string
	for key, path := range undecided(r) {
		if !strings.Contains(r.err, "--mark '"+key+"=sent'") || !strings.Contains(r.err, "--mark '"+key+"=not-sent'") {
			c.t.Errorf("the failed run names %s but not the commands that settle it:\n%s", key, r.err)
		}
		decision := "not-sent"
		if c.taskFinishedDone(path) {
			decision = "sent"
		}
		flags = append(flags, "--mark", key+"="+decision)
	}
	return flags
}

// taskFinishedDone waits until no task of the mutation's kind runs on its
// target, then reports whether the newest one ended done.
func (c *crashRig) taskFinishedDone(path string) bool {
	c.t.Helper()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var kind, account, pool string
	switch {
	case len(parts) == 5 && parts[0] == "accounts" && parts[4] == "clone":
		kind, account = sim.KindClone, parts[1]
	case len(parts) == 3 && parts[0] == "accounts" && parts[2] == "publish":
		kind, account = sim.KindPublish, parts[1]
	case len(parts) == 3 && parts[0] == "pools" && parts[2] == "elasticity_settings":
		kind, pool = sim.KindElasticity, parts[1]
	case len(parts) == 1 && parts[0] == "accounts":
		kind = sim.KindCreate // one account is created per test
	default:
		c.t.Fatalf("the operator does not know how to check %s", path)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var newest *sim.TaskState
		running := false
		st := c.sim.Snapshot()
		for i, tk := range st.Tasks {
			if tk.Kind != kind || (account != "" && tk.AccountID != account) || (pool != "" && tk.PoolID != pool) {
				continue
			}
			if tk.FinishedAt == "" {
				running = true
			}
			if newest == nil || tk.InsertedAt >= newest.InsertedAt {
				newest = &st.Tasks[i]
			}
		}
		if !running {
			return newest != nil && strings.EqualFold(newest.Stage, "done")
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("a %s task on %s still runs after 30 s", kind, path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// finish resumes a run that ended with r until it succeeds, playing the
// operator for every mutation it stops on. attempts are the statuses so
// far, r's last; it returns the final result and every attempt's status.
func (c *crashRig) finish(r exitResult, attempts []string, maxRounds int) (exitResult, []string) {
	c.t.Helper()
	for round := 0; r.code != 0 && round < maxRounds; round++ {
		if r.code != 1 {
			c.t.Fatalf("frameflow exited %d:\n%s", r.code, r)
		}
		attempts[len(attempts)-1] = "failed"
		r = c.resume(nil, c.operatorMarks(r)...)
		attempts = append(attempts, "succeeded")
	}
	if r.code != 0 {
		c.t.Fatalf("not finished after %d resumes:\n%s", maxRounds, r)
	}
	return r, attempts
}

func TestOperatorMarkParsing(t *testing.T) {
	r := exitResult{err: "error: run X failed: 1 mutation(s) ...\n  rollout.clone[a1]#1 (Store-001) POST /accounts/a1/pools/p/clone: was sent\n" +
		"    frameflow resume X --mark 'rollout.clone[a1]#1=sent'      # ...\n    frameflow resume X --mark 'rollout.clone[a1]#1=not-sent'  # ...\n"}
	got := undecided(r)
	if len(got) != 1 || got["rollout.clone[a1]#1"] != "/accounts/a1/pools/p/clone" {
		t.Fatalf("undecided = %v", got)
	}
}
