package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// stagesReport runs the shipped library once per store, every store getting
// its chance, and posts what the call exposes per item to report_url.
const stagesReport = `version: 1
name: stages-report
inputs:
  report_url: {type: string, required: true}
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
    max_failure_percent: 100
    uses: ./lib/rollout-account.yaml
    with:
      account_id: ${{ account.id }}
      source_account_id: ${{ steps.source.outputs.accounts[0].id }}
  - id: report
    uses: http.request
    needs: rollout
    with:
      method: POST
      url: ${{ inputs.report_url }}
      json:
        stages: ${{ map(steps.rollout.outputs.items, .stages) }}
        clone_tasks: ${{ map(steps.rollout.outputs.items, .clone_task) }}
        errors: ${{ steps.rollout.outputs.errors }}
        failed_at_clone: ${{ count(steps.rollout.outputs.items, .stages?.clone == "failed") }}
`

// A store whose clone task fails still tells its caller, through the
// library's stages output (it reads only steps' statuses), which stage
// failed and that publish never ran; outputs that read a step's outputs
// (clone_task) are there only for the stores that succeeded.
func TestCallReportsStagesOfAFailedItem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	const stores = 4
	seed, rate := firstTaskFails(t, stores*2) // clone and publish per store
	rig := newCrashRig(t, stores, sim.Options{Seed: seed, TaskFailRate: rate, TaskDuration: 50 * time.Millisecond})

	var mu sync.Mutex
	var bodies []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer hook.Close()

	file := composedDir(t)
	caller := filepath.Join(filepath.Dir(file), "stages-report.yaml")
	if err := os.WriteFile(caller, []byte(stagesReport), 0o644); err != nil {
		t.Fatal(err)
	}
	r := rig.exec(nil, "run", caller, "--yes", "--input", "report_url="+hook.URL+"/report")
	if r.code != 1 {
		t.Fatalf("a failed store must fail the run:\n%s", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("report posted %d times:\n%s", len(bodies), r)
	}
	body := bodies[0]
	stages, _ := body["stages"].([]any)
	tasks, _ := body["clone_tasks"].([]any)
	errs, _ := body["errors"].([]any)
	if len(stages) != stores || len(tasks) != stores || len(errs) != stores || body["failed_at_clone"] != float64(1) {
		t.Fatalf("report %v", body)
	}
	failed := 0
	for i := range stages {
		st, _ := stages[i].(map[string]any)
		why, _ := errs[i].(string)
		if why == "" {
			if st["clone"] != "succeeded" || st["capacity"] != "skipped" || st["publish"] != "succeeded" || tasks[i] == nil {
				t.Errorf("store %d succeeded, reported %v, clone task %v", i, st, tasks[i])
			}
			continue
		}
		failed++
		if !strings.HasPrefix(why, "clone: ") || st["clone"] != "failed" || st["capacity"] != "not_run" || st["publish"] != "not_run" || tasks[i] != nil {
			t.Errorf("store %d failed (%q), reported %v, clone task %v", i, why, st, tasks[i])
		}
	}
	if failed != 1 {
		t.Fatalf("%d stores failed, want 1: %v", failed, body)
	}
}
