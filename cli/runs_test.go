package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// Issue 12: runs newest first with filters, and one run in detail: status,
// inputs with secrets masked, steps and items with reasons, mutations and
// their tasks, the recap and the resume command.
func TestRunsListAndShow(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	account := s.Snapshot().Accounts[0].ID
	const password = "pw-zq9SECRETzq9"
	wf := writeWorkflow(t, secretPoolWorkflow)
	if r := frameflow(t, env, "run", wf, "--yes", "--input", "account="+account, "--input", "password="+password); r.code != 0 {
		t.Fatalf("first run:\n%s", r)
	}
	_, env2 := simEnv(t, sim.Options{Scenario: sim.RetailScenario(4), TaskFailRate: 1})
	env2["FRAMEFLOW_STATE_DIR"] = env["FRAMEFLOW_STATE_DIR"]
	failed := frameflow(t, env2, "run", "../workflows/qa-rollout.yaml", "--yes")
	if failed.code != 1 {
		t.Fatalf("second run should fail:\n%s", failed)
	}
	failedID := regexp.MustCompile(`Run (\S+) failed`).FindStringSubmatch(failed.out)[1]

	list := frameflow(t, env, "runs")
	rows := regexp.MustCompile(`(?m)^(\d{8}T\S+)\s+(\S+)`).FindAllStringSubmatch(list.out, -1)
	if len(rows) != 2 || rows[0][1] != failedID || rows[1][2] != "secret-password" {
		t.Fatalf("runs should list the newest first:\n%s", list)
	}
	only := frameflow(t, env, "runs", "--status", "failed", "--limit", "1", "--format", "json")
	var got []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(only.out), &got); err != nil || len(got) != 1 || got[0].ID != failedID {
		t.Fatalf("runs --status failed --limit 1: %v\n%s", err, only)
	}

	for _, args := range [][]string{{"runs", failedID}, {"runs", "show", failedID}} {
		show := frameflow(t, env, args...)
		if show.code != 0 {
			t.Fatalf("%v:\n%s", args, show)
		}
		for _, want := range []string{"Run " + failedID + " · qa-rollout", "Status:   failed", `source_account = "QA"`,
			"rollout.clone  Store-", "simulated failure of clone_pool", "POST /accounts/", "failed (may be sent again)",
			`4 items failed:`, "Continue with: frameflow resume " + failedID} {
			if !strings.Contains(show.out, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, show.out)
			}
		}
	}
	secretID := rows[1][1]
	show := frameflow(t, env, "runs", "show", secretID, "--format", "json")
	if strings.Contains(show.out, password) || !strings.Contains(show.out, `"password": "(sensitive)"`) {
		t.Errorf("runs show does not mask the secret input:\n%s", show.out)
	}
	var detail struct {
		Mutations []struct {
			State  string `json:"state"`
			TaskID string `json:"task_id"`
		} `json:"mutations"`
	}
	if err := json.Unmarshal([]byte(show.out), &detail); err != nil || len(detail.Mutations) != 1 || detail.Mutations[0].State != "result" {
		t.Errorf("runs show --format json mutations: %v %+v", err, detail)
	}
	if r := frameflow(t, env, "runs", "show", "20990101T000000Z-none"); r.code != 2 || !strings.Contains(r.err, "no run 20990101T000000Z-none") {
		t.Errorf("an unknown run: exit %d\n%s", r.code, r)
	}
}
