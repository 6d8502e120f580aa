package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// A number a step needs, computed from a read, is unknown offline: it is
// not invalid input. validate and run's preflight let it through (the live
// plan then shows the value read), the run sets it, and only an offline
// plan, which cannot know it, says so.
func TestIntegerFromAReadIsNotRefusedOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	rig := newCrashRig(t, 2, sim.Options{})
	dir := playbookDir(t, map[string]string{"size.yaml": `version: 1
name: size-from-read
steps:
  - id: qa
    uses: accounts.list
    with: {filter: 'name == "QA"'}
  - id: size
    uses: elasticity.set
    with:
      account_id: ${{ steps.qa.outputs.accounts[0].id }}
      min_servers: ${{ len(steps.qa.outputs.accounts) + 1 }}
      buffer_servers: 1
      max_servers: 5
      wait: true
`})
	file := filepath.Join(dir, "size.yaml")
	if r := rig.exec(nil, "validate", file); r.code != 0 {
		t.Fatalf("validate:\n%s", r)
	}
	if r := rig.exec(nil, "plan", file, "--offline"); r.code == 0 || !strings.Contains(r.err, "input min_servers is known only after apply") {
		t.Fatalf("an offline plan must say it cannot know min_servers:\n%s", r)
	}
	if r := rig.exec(nil, "run", file, "--yes"); r.code != 0 {
		t.Fatalf("run:\n%s", r)
	}
	set := 0
	for _, q := range rig.sim.Requests() {
		if q.Method == "POST" && strings.HasSuffix(q.Path, "/elasticity_settings") && q.Status == 200 {
			set++
		}
	}
	if set != 1 {
		t.Fatalf("%d elasticity changes sent, want 1", set)
	}
}
