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

	"github.com/frameflow/frameflow/frame/sim"
)

// pickLib lists the accounts a filter given as its input chooses.
const pickLib = `version: 1
name: pick
inputs:
  filter: {type: string, required: true}
steps:
  - id: found
    uses: accounts.list
    with: {filter: '${{ inputs.filter }}'}
outputs:
  names: ${{ map(steps.found.outputs.accounts, .name) }}
`

const pickMain = `version: 1
name: pick-each
inputs:
  report_url: {type: string, required: true}
  stores: {type: string, default: 'name startsWith "Store-" && active'}
steps:
  - id: each
    for_each: ['name == "QA"', '${{ inputs.stores }}']
    as: f
    uses: ./lib/pick.yaml
    with: {filter: '${{ f }}'}
  - id: report
    uses: http.request
    with:
      method: POST
      url: ${{ inputs.report_url }}
      json: {names: '${{ map(steps.each.outputs.items, .names) }}'}
`

// playbookDir writes a playbook and its library (names relative to the
// directory, lib/ for library files) into a new directory.
func playbookDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A called playbook filters with the filter its caller gives, compiled when
// the call binds its inputs; one that does not compile is refused before
// anything is sent, at its line in the called file.
func TestCalledPlaybookFiltersWithItsInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	rig := newCrashRig(t, 3, sim.Options{})
	dir := playbookDir(t, map[string]string{"lib/pick.yaml": pickLib, "main.yaml": pickMain})
	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(data))
		mu.Unlock()
	}))
	defer hook.Close()
	main := filepath.Join(dir, "main.yaml")

	r := rig.exec(nil, "run", main, "--yes", "--input", "report_url="+hook.URL, "--input", `stores=name startsWith "Store-" && !(name endsWith "1")`)
	if r.code != 0 {
		t.Fatalf("run:\n%s", r)
	}
	mu.Lock()
	if len(got) != 1 {
		t.Fatalf("reports %v", got)
	}
	var body struct{ Names [][]string }
	if err := json.Unmarshal([]byte(got[0]), &body); err != nil || len(body.Names) != 2 || strings.Join(body.Names[0], ",") != "QA" || !storesNotFirst(body.Names[1]) {
		t.Fatalf("report %s (%v)", got[0], err)
	}
	got = nil
	mu.Unlock()

	before := len(rig.sim.Requests())
	r = rig.exec(nil, "run", main, "--yes", "--input", "report_url="+hook.URL, "--input", "stores=name ==== 1")
	if r.code == 0 || !strings.Contains(r.err+r.out, filepath.Join(dir, "lib", "pick.yaml")+":8:") || !strings.Contains(r.err+r.out, "filter") {
		t.Fatalf("a filter that does not compile must be refused at its line:\n%s", r)
	}
	if n := len(rig.sim.Requests()) - before; n != 0 || len(got) != 0 {
		t.Fatalf("%d requests to Frame and %d reports sent for a refused run", n, len(got))
	}
}

// A called playbook's concurrency would be ignored: validate refuses it at
// its line, and run sends nothing.
func TestCalledPlaybookConcurrencyIsRefusedByTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	rig := newCrashRig(t, 2, sim.Options{})
	lib := strings.Replace(pickLib, "name: pick\n", "name: pick\nconcurrency: 2\n", 1)
	main := "version: 1\nname: m\nsteps:\n  - id: qa\n    uses: ./lib/pick.yaml\n    with: {filter: 'name == \"QA\"'}\n"
	dir := playbookDir(t, map[string]string{"lib/pick.yaml": lib, "main.yaml": main})
	for _, cmd := range []string{"validate", "run"} {
		r := rig.exec(nil, cmd, filepath.Join(dir, "main.yaml"), "--yes")
		if cmd == "validate" {
			r = rig.exec(nil, cmd, filepath.Join(dir, "main.yaml"))
		}
		if r.code == 0 || !strings.Contains(r.err+r.out, filepath.Join(dir, "lib", "pick.yaml")+":3:14: concurrency: 2 limits a run of") {
			t.Fatalf("%s:\n%s", cmd, r)
		}
	}
	if n := len(rig.sim.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// storesNotFirst: the generated stores (Store-0001, ...) but the first.
func storesNotFirst(names []string) bool {
	if len(names) != 2 {
		return false
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "Store-") || strings.HasSuffix(n, "1") {
			return false
		}
	}
	return true
}

// A called playbook's var that fails for the value its caller gives (here a
// literal) refuses the call's inputs: run stops before anything is sent,
// at the var's line in the called file, instead of failing the call after
// the steps before it were sent.
func TestCalledPlaybookVarFailingForItsInputSendsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs frameflow processes")
	}
	rig := newCrashRig(t, 2, sim.Options{})
	dir := playbookDir(t, map[string]string{
		"lib/size.yaml": `version: 1
name: size
inputs:
  servers: {type: string, required: true}
vars:
  max: ${{ int(inputs.servers) }}
steps:
  - id: found
    uses: accounts.list
`,
		"main.yaml": `version: 1
name: size-all
inputs:
  report_url: {type: string, required: true}
steps:
  - id: announce
    uses: http.request
    with: {method: POST, url: '${{ inputs.report_url }}', json: {msg: starting}}
  - id: size
    needs: [announce]
    uses: ./lib/size.yaml
    with: {servers: "five"}
`})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the announcement was sent for a refused run: %s %s", r.Method, r.URL)
	}))
	defer hook.Close()
	before := len(rig.sim.Requests())
	if r := rig.exec(nil, "validate", filepath.Join(dir, "main.yaml")); r.code == 0 || !strings.Contains(r.out+r.err, filepath.Join(dir, "lib", "size.yaml")+":6:") {
		t.Fatalf("validate must report the var at its line:\n%s", r)
	}
	r := rig.exec(nil, "run", filepath.Join(dir, "main.yaml"), "--yes", "--input", "report_url="+hook.URL)
	if r.code != 2 || !strings.Contains(r.err, filepath.Join(dir, "lib", "size.yaml")+":6:") || !strings.Contains(r.err, "nothing was sent") {
		t.Fatalf("want exit 2 naming the var's line and nothing sent:\n%s", r)
	}
	if n := len(rig.sim.Requests()) - before; n != 0 {
		t.Fatalf("%d requests to Frame for a refused run", n)
	}
}
