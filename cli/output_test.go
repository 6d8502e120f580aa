package cli_test

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

func TestValidateReportsEveryErrorWithPosition(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`version: 1
name: broken
steps:
  - id: targets
    uses: accounts.lst
  - id: clone
    uses: sandbox.clone
    with:
      target_acount_id: x
`), 0o644)
	r := frameflow(t, nil, "validate", bad)
	if r.code != 2 {
		t.Fatalf("want exit 2:\n%s", r)
	}
	for _, want := range []string{bad + ":5:11: ", "accounts.list", bad + ":9:7: "} {
		if !strings.Contains(r.err, want) {
			t.Errorf("missing %q in:\n%s", want, r.err)
		}
	}
	if r := frameflow(t, nil, "validate", "../workflows/qa-rollout.yaml"); r.code != 0 {
		t.Fatalf("reference playbook invalid:\n%s", r)
	}
	gh := frameflow(t, map[string]string{"GITHUB_ACTIONS": "true"}, "validate", bad)
	if !strings.Contains(gh.err, "::error file="+bad+",line=5,col=11::") {
		t.Errorf("no GitHub annotation:\n%s", gh.err)
	}
}

func TestRunJSONEventsAndJUnit(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(3)})
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := frameflow(t, env, "run", "../workflows/qa-rollout.yaml", "--yes", "--output", "json", "--junit", junit)
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	var types []string
	sc := bufio.NewScanner(strings.NewReader(r.out))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		types = append(types, ev["type"].(string))
	}
	if len(types) < 2 || types[0] != "run_started" || types[len(types)-1] != "run_finished" {
		t.Errorf("events start %v end %v", types[:1], types[len(types)-1:])
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("junit: %v", err)
	}
	// source, targets, rollout, and 3 stores x 3 steps.
	if n := len(suites.Suites[0].Cases); n < 3+9 {
		t.Errorf("junit has %d cases", n)
	}
}

// Issue 7: a recognisable client secret appears in no output and no file
// written by a run, a plan or a resume.
func TestSecretNeverWritten(t *testing.T) {
	const secret = "S3CR3T-do-not-leak-4711"
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2), ClientSecret: secret})
	env["FRAME_CLIENT_SECRET"] = secret
	state := env["FRAMEFLOW_STATE_DIR"]
	out := t.TempDir()
	var all strings.Builder
	for _, args := range [][]string{
		{"run", "../workflows/qa-rollout.yaml", "--yes", "--log-level", "debug", "--junit", filepath.Join(out, "j.xml")},
		{"run", "../workflows/qa-rollout.yaml", "--yes", "--output", "json", "--log-level", "debug", "--log-format", "json"},
		{"plan", "../workflows/qa-rollout.yaml", "--format", "json", "--out", filepath.Join(out, "p.plan")},
		{"plan", "../workflows/qa-rollout.yaml", "--format", "markdown"},
		{"resume", "--last", "--yes"},
		{"api", "get", "/accounts"},
		{"api", "get", "/accounts/nope"},
		{"runs"},
	} {
		r := frameflow(t, env, args...)
		all.WriteString(r.out + r.err)
	}
	if strings.Contains(all.String(), secret) {
		t.Errorf("secret in output")
	}
	for _, dir := range []string{state, out} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
					t.Errorf("secret written to %s", p)
				}
			}
			return nil
		})
	}
}
