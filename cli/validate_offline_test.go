package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/schema"
)

// validate catches what run would refuse before sending anything, with the
// same message; and run never exits 2 (invalid) for inputs validate passed.
func TestValidateAgreesWithRunOnInvalidInputs(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	cases := []struct {
		name   string
		inputs []string
		says   string // in both validate's diagnostic and run's error; "" when valid
	}{
		{"issue 15: min above max", []string{"min_servers=9", "max_servers=1"}, "min_servers 9 is more than max_servers 1"},
		{"above the catalog bound", []string{"max_servers=2000"}, "max_servers 2000 is more than 1000"},
		{"buffer above max", []string{"buffer_servers=7", "max_servers=5"}, "buffer_servers 7 is more than max_servers 5"},
		{"negative", []string{"min_servers=-1"}, "min_servers must not be negative"},
		{"not an integer", []string{"max_servers=2.5"}, `input "max_servers": want an integer`},
		{"bad filter", []string{"target_filter=name =="}, `filter "name ==": syntax error`},
		{"unknown input", []string{"max_server=3"}, `unknown input "max_server"`},
		{"valid", []string{"min_servers=0", "max_servers=3"}, ""},
		{"valid, defaults", nil, ""},
		{"valid, no account matches", []string{"target_filter=name == \"nobody\""}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var args []string
			for _, in := range c.inputs {
				args = append(args, "--input", in)
			}
			v := frameflow(t, env, append([]string{"validate", "../workflows/qa-rollout.yaml"}, args...)...)
			r := frameflow(t, env, append([]string{"run", "../workflows/qa-rollout.yaml", "--yes"}, args...)...)
			if v.code == 0 && r.code == 2 {
				t.Fatalf("validate passed but run exited 2\nvalidate: %s\nrun: %s", v, r)
			}
			if c.says == "" {
				if v.code != 0 {
					t.Fatalf("validate refused valid inputs: %s", v)
				}
				return
			}
			if v.code != 2 || r.code != 2 {
				t.Fatalf("want both to exit 2\nvalidate: %s\nrun: %s", v, r)
			}
			if !strings.Contains(v.err, c.says) || !strings.Contains(r.err, c.says) {
				t.Fatalf("want %q from both\nvalidate: %s\nrun: %s", c.says, v, r)
			}
			if !strings.Contains(v.err, "qa-rollout.yaml:") {
				t.Fatalf("validate's problem has no position: %s", v)
			}
		})
	}
}

// The case without --input: the defaults themselves are invalid.
func TestValidateChecksInputDefaultsAgainstStepConstraints(t *testing.T) {
	src := strings.NewReplacer("default: 1\n  buffer", "default: 9\n  buffer", "max_servers:\n    type: integer\n    default: 5", "max_servers:\n    type: integer\n    default: 1").Replace(readFile(t, "../workflows/qa-rollout.yaml"))
	if !strings.Contains(src, "default: 9") || !strings.Contains(src, "default: 1\n\ndefaults") {
		t.Fatalf("the test's edit of qa-rollout.yaml no longer applies")
	}
	path := writeTemp(t, "minmax.yaml", src)
	v := frameflow(t, nil, "validate", path)
	if v.code != 2 || !strings.Contains(v.err, "minmax.yaml:80:11: rollout.capacity: invalid request elasticity.set: min_servers 9 is more than max_servers 1 (nothing was sent)") {
		t.Fatalf("%s", v)
	}
	if strings.Count(v.err, "(nothing was sent)") != 1 {
		t.Fatalf("a message says (nothing was sent) more than once: %s", v)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTemp(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Read steps check their inputs offline too (validate and run's preflight):
// a bad ID in a read is refused before anything is sent, not after the
// steps before it ran.
func TestReadStepInputsAreCheckedOffline(t *testing.T) {
	s, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	wf := writeTemp(t, "read.yaml", `version: 1
name: read
inputs:
  account: {type: string, default: acc-1}
steps:
  - id: list
    uses: accounts.list
  - id: get
    uses: accounts.get
    needs: [list]
    with: {account_id: "${{ inputs.account }}"}
`)
	v := frameflow(t, env, "validate", wf, "--input", "account=a/b")
	if v.code != 2 || !strings.Contains(v.err, `read.yaml:11:11: get: invalid request accounts.get: parameter "account_id": value "a/b" contains '/'`) {
		t.Fatalf("validate: %s", v)
	}
	r := frameflow(t, env, "run", wf, "--input", "account=a/b")
	if r.code != 2 || !strings.Contains(r.err, `parameter "account_id": value "a/b" contains '/'`) {
		t.Fatalf("run: %s", r)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("run sent %d requests before refusing", n)
	}
	if v := frameflow(t, env, "validate", wf); v.code != 0 {
		t.Fatalf("validate with the default: %s", v)
	}
}

// The variables env: refuses are the ones the client reads credentials
// from.
func TestCredentialEnvMatchesTheClient(t *testing.T) {
	for _, name := range []string{frame.EnvClientID, frame.EnvClientSecret} {
		if !slices.Contains(schema.CredentialEnv, name) {
			t.Errorf("env: does not refuse %s, which frame reads credentials from", name)
		}
	}
}

// The sweep: over the shipped playbooks and inputs valid and not, run never
// exits 2 for what validate passed, and validate refuses what run refuses
// as invalid before sending anything.
func TestValidateAndRunAgreeAcrossPlaybooks(t *testing.T) {
	cases := []struct {
		file    string
		inputs  []string
		invalid bool
	}{
		{"capacity-schedule.yaml", []string{"profile=day"}, false},
		{"capacity-schedule.yaml", []string{"profile=night", "night_min_servers=4", "night_max_servers=2"}, true},
		{"capacity-schedule.yaml", []string{"profile=day", "day_max_servers=5000"}, true},
		{"capacity-schedule.yaml", []string{"profile=dusk"}, true},
		{"capacity-schedule.yaml", []string{"profile=day", "account_filter=name startsWith"}, true},
		{"nightly-catch-up.yaml", nil, false},
		{"nightly-catch-up.yaml", []string{"buffer_servers=9", "max_servers=3"}, true},
		{"nightly-catch-up.yaml", []string{"max_servers=-3"}, true},
		{"publish-if-changed.yaml", nil, false},
		{"publish-if-changed.yaml", []string{"target_filter=active &&"}, true},
		{"qa-rollout.yaml", []string{"source_account=Nobody"}, false},
		{"qa-rollout.yaml", []string{"max_servers=1001"}, true},
	}
	for _, c := range cases {
		t.Run(c.file+" "+strings.Join(c.inputs, " "), func(t *testing.T) {
			_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
			var args []string
			for _, in := range c.inputs {
				args = append(args, "--input", in)
			}
			path := "../workflows/" + c.file
			v := frameflow(t, env, append([]string{"validate", path}, args...)...)
			r := frameflow(t, env, append([]string{"run", path, "--yes"}, args...)...)
			if (v.code == 2) != (r.code == 2) {
				t.Fatalf("validate exited %d, run %d\nvalidate: %s\nrun: %s", v.code, r.code, v, r)
			}
			if (v.code == 2) != c.invalid {
				t.Fatalf("validate exited %d; want invalid=%v\n%s", v.code, c.invalid, v)
			}
		})
	}
}

// A required input not given does not stop validate checking the rest: a
// value run would refuse is reported, and what is computed from the
// missing input is named as not checked, never reported as invalid.
func TestValidateChecksTheRestWhenAnInputIsMissing(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(2)})
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = `version: 1
name: sized
inputs:
  store: {type: string, required: true}
steps:
  - id: found
    uses: accounts.list
    with: {filter: 'name == "QA"'}
  - id: size
    uses: elasticity.set
    with:
      account_id: ${{ steps.found.outputs.accounts[0].id }}
      pool_name: ${{ inputs.store }}
`
	// An expression, not a literal: only the offline run computes it.
	bad := write("bad.yaml", head+"      min_servers: ${{ 3 * 3 }}\n      max_servers: 1\n")
	v := frameflow(t, env, "validate", bad)
	if v.code != 2 || !strings.Contains(v.err, "bad.yaml:") || !strings.Contains(v.err, "min_servers 9 is more than max_servers 1") {
		t.Fatalf("validate must report min above max without --input store:\n%s", v)
	}
	good := write("good.yaml", head+"      max_servers: 5\n")
	v = frameflow(t, env, "validate", good)
	if v.code != 0 || !strings.Contains(v.out, "step inputs computed from store not checked") {
		t.Fatalf("validate must pass and name the input it could not check:\n%s", v)
	}
}
