package cli_test

// Composition end to end (issue 17): a playbook that runs the shipped
// library workflows/lib/rollout-account.yaml once per store is run by the
// real binary against the simulator and killed with SIGKILL after some of
// the library's clones; `frameflow resume --last` must finish it, and the
// simulator's request log must show each store cloned once, given capacity
// and published once, like the single-file rollout (checkExactlyOnce).

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// composedRollout is qa-rollout's work written as a call of the library:
// clone, set capacity (1/1/5, what checkExactlyOnce expects), publish.
const composedRollout = `version: 1
name: composed-rollout
defaults:
  retry: {max_attempts: 4, backoff: exponential, initial_delay: 1s, max_delay: 30s, on: [throttled, server_error, network, conflict]}
  polling: {initial_interval: 1s, max_interval: 30s, timeout: 2h}
steps:
  - id: source
    uses: accounts.list
    with: {filter: 'name == "QA"'}
  - id: targets
    uses: accounts.list
    with: {filter: 'name startsWith "Store-" && active'}
  - id: rollout
    for_each: ${{ steps.targets.outputs.accounts }}
    as: account
    uses: ./lib/rollout-account.yaml
    with:
      account_id: ${{ account.id }}
      source_account_id: ${{ steps.source.outputs.accounts[0].id }}
      set_capacity: true
`

// composedDir writes the calling playbook beside a copy of the shipped
// library and returns the calling file.
func composedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	lib, err := os.ReadFile("../workflows/lib/rollout-account.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "rollout-account.yaml"), lib, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "composed-rollout.yaml")
	if err := os.WriteFile(file, []byte(composedRollout), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestComposedRolloutKilledAfterNestedClonesResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	clones := 0
	for name, kill := range map[string]trigger{
		// The third clone made by the library acted, its answer never
		// arrived: resume reconciles it (the operator marks it) and sends
		// no clone again.
		"answer lost": nth(3, "acted", accepted(isClone)),
		// Three clones answered, the run dies while waiting for tasks.
		"waiting": func(phase string, r *http.Request, status int) bool {
			if phase == "acted" && isClone(r) && status < 300 {
				clones++
			}
			return clones >= 3 && phase == "received" && isTaskRead(r)
		},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			rig := newCrashRig(t, e2eStores, sim.Options{})
			file := composedDir(t)
			r := rig.exec(kill, "run", file, "--yes", "--output", "json")
			if !strings.Contains(r.out, `"step":"rollout.clone"`) {
				t.Fatalf("no event of the library's clone step (rollout.clone):\n%s", r)
			}
			r = rig.resume(nil)
			r, _ = rig.finish(r, []string{"crashed", "succeeded"}, 4)
			if !strings.Contains(r.out, "restored from the journal") {
				t.Errorf("the resume restored nothing from the journal:\n%s", r)
			}
			rig.checkExactlyOnce(e2eStores)

			runs := rig.exec(nil, "runs", "--format", "json")
			var list []runsEntry
			if err := json.Unmarshal([]byte(runs.out), &list); err != nil || len(list) != 1 || list[0].Status != "succeeded" || list[0].Workflow != "composed-rollout" {
				t.Fatalf("runs: %v\n%s", err, runs)
			}
		})
	}
}
