package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// --inputs FILE binds each value through its input's declared type, as
// --input does: an integer given as 3 in a JSON or YAML file is an
// integer; 3.5 for an integer input is refused at its FILE:LINE:COL, with
// every other problem of the file, and nothing is sent.
func TestInputsFileBindsByDeclaredTypeAndLocatesBadValues(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	h := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(204) })
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wf := write("count.yaml", fmt.Sprintf(`version: 1
name: count
inputs:
  n: {type: integer, required: true}
  ratio: {type: number, default: 1}
steps:
  - id: tell
    uses: http.request
    with:
      method: POST
      url: "http://%s/count"
      query: {n: "${{ inputs.n }}", type: "${{ type(inputs.n) }}", next: "${{ inputs.n + 1 }}", ratio: "${{ inputs.ratio }}"}
`, h.host))

	for _, in := range []string{write("in.json", `{"n": 3, "ratio": 0.5}`), write("in.yaml", "n: 3\n")} {
		if r := runBinary(t, env, "run", wf, "--inputs", in, "--yes"); r.code != 0 {
			t.Fatalf("run --inputs %s: %s", filepath.Base(in), r)
		}
	}
	// Three different requests: the journal would adopt a repeated one.
	if r := runBinary(t, env, "run", wf, "--input", "n=3", "--input", "ratio=2", "--yes"); r.code != 0 {
		t.Fatalf("run --input n=3: %s", r)
	}
	got := h.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for i, ratio := range []string{"0.5", "1", "2"} {
		if want := "/count?n=3&next=4&ratio=" + ratio + "&type=int"; got[i].Path != want {
			t.Errorf("sent %s, want %s: n bound as the integer 3 each time", got[i].Path, want)
		}
	}

	bad := write("bad.json", "{\n  \"n\": 3.5,\n  \"ration\": 2\n}\n")
	for _, cmd := range []string{"run", "validate"} {
		args := []string{cmd, wf, "--inputs", bad}
		if cmd == "run" {
			args = append(args, "--yes")
		}
		r := runBinary(t, env, args...)
		for _, want := range []string{bad + `:2:8: input "n": want an integer, got 3.5`, bad + `:3:13: unknown input "ration"; did you mean "ratio"?`} {
			if r.code != 2 || !strings.Contains(r.err+r.out, want) {
				t.Errorf("%s: want exit 2 and %q, got %s", cmd, want, r)
			}
		}
		if strings.Contains(r.err+r.out, "missing required input") {
			t.Errorf("%s: a bad value is reported as missing too: %s", cmd, r)
		}
	}
	if n := len(h.requests()); n != 3 {
		t.Fatalf("bad inputs sent %d requests", n-3)
	}
}
