package cli_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// The canaries: a secret input's value and the API client secret. Neither,
// nor any form a laundering would give them, may appear anywhere a person
// or a log can see.
const (
	inputCanary  = "canary-input-7Qx9vLm2"
	clientCanary = "canary-client-Zk4pW8s1"
)

// canaryForms are the ways a laundered canary would show up.
func canaryForms(c string) []string {
	rev := []rune(c)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return []string{
		c,
		base64.StdEncoding.EncodeToString([]byte(c)),
		base64.RawStdEncoding.EncodeToString([]byte(c)),
		base64.URLEncoding.EncodeToString([]byte(c)),
		hex.EncodeToString([]byte(c)),
		strings.ToUpper(hex.EncodeToString([]byte(c))),
		string(rev),
		strings.Join(strings.Split(c, ""), "?"),
		strings.Join(strings.Split(c, ""), ","),
		strings.Join(strings.Split(c, ""), `","`), // a JSON list of its letters
		strings.ToUpper(c),
		c[len(c)-8:], // the random tail alone: a slice
	}
}

// launderingRig runs the real binary against a simulator with every CI
// output switched on, and collects everything it wrote.
type launderingRig struct {
	t    *testing.T
	bin  string
	sim  *sim.Running
	env  []string
	dir  string // state, plans, JUnit, step summary
	seen strings.Builder
}

func newLaunderingRig(t *testing.T) *launderingRig {
	r := &launderingRig{t: t, bin: frameflowBinary(t), dir: t.TempDir()}
	s, err := sim.Start(sim.Options{Scenario: sim.RetailScenario(2), ClientSecret: clientCanary}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r.sim = s
	r.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir,
		"FRAME_API_URL=" + s.URL(), "FRAME_CLIENT_ID=sim-client", "FRAME_CLIENT_SECRET=" + clientCanary,
		"FRAMEFLOW_STATE_DIR=" + filepath.Join(r.dir, "state"),
		"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + filepath.Join(r.dir, "summary.md"),
		"CI=true", "NO_COLOR=1",
	}
	return r
}

// exec runs the binary; stdout and stderr are collected for the search.
func (r *launderingRig) exec(args ...string) int {
	r.t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Env = r.env
	cmd.Dir = r.dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r.seen.WriteString(out.String() + errb.String())
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return 0
}

// simLog is the simulator's request log as served over HTTP.
func (r *launderingRig) simLog() []sim.RequestRecord {
	r.t.Helper()
	resp, err := http.Get("http://" + r.sim.Addr() + "/_sim/requests")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var recs []sim.RequestRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		r.t.Fatalf("request log: %v\n%s", err, b)
	}
	return recs
}

// search fails the test for every canary form found in the output, in any
// file under the rig's directory, or in a request the simulator logged
// (except the requests allowed may carry it: the one secret body field).
func (r *launderingRig) search(allowed func(sim.RequestRecord) bool) {
	r.t.Helper()
	var hay []struct{ where, text string }
	hay = append(hay, struct{ where, text string }{"stdout/stderr", r.seen.String()})
	filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			hay = append(hay, struct{ where, text string }{p, string(b)})
		}
		return nil
	})
	for _, rec := range r.simLog() {
		if allowed != nil && allowed(rec) {
			continue
		}
		b, _ := json.Marshal(rec)
		hay = append(hay, struct{ where, text string }{"simulator request " + rec.Method + " " + rec.Path, string(b)})
	}
	for _, c := range []string{inputCanary, clientCanary} {
		for _, form := range canaryForms(c) {
			for _, h := range hay {
				if strings.Contains(h.text, form) {
					r.t.Errorf("%q (a form of %s) found in %s", form, c, h.where)
				}
			}
		}
	}
}

func (r *launderingRig) write(name, src string) string {
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

const launderHead = `version: 1
name: launder
inputs:
  api_token: {type: string, secret: true}
  prefix: {type: string, default: "Store-"}
vars:
  derived: "x${{ inputs.api_token }}y"
steps:
`

// Every way of computing something printable from a secret input is
// refused by validate, plan and run alike (exit 2, nothing sent), and the
// canary is found nowhere.
func TestLaunderedSecretsAreFoundNowhere(t *testing.T) {
	attempts := map[string]string{
		"split/join":       `join(split(inputs.api_token, ""), "?")`,
		"base64":           `toBase64(inputs.api_token)`,
		"int of base64":    `int(toBase64(inputs.api_token))`,
		"slice":            `inputs.api_token[0:13]`,
		"concatenation":    `"acc-" + inputs.api_token`,
		"arithmetic":       `len(inputs.api_token) * 1000 + 7`,
		"comparison":       `inputs.api_token == "x" ? "a" : "b"`,
		"len":              `string(len(inputs.api_token))`,
		"map key":          `toJSON({(inputs.api_token): 1})`,
		"error message":    `int(inputs.api_token)`,
		"reverse":          `join(reverse(split(inputs.api_token, "")), "")`,
		"hex via json":     `toJSON(split(inputs.api_token, ""))`,
		"whole inputs":     `toJSON(inputs)`,
		"computed key":     `inputs["api" + "_token"]`,
		"env of expr":      `toJSON($env)`,
		"through a var":    `upper(vars.derived)`,
		"let":              `let t = inputs.api_token; t + ""`,
		"map over letters": `join(map(split(inputs.api_token, ""), # + "."), "")`,
		"first letter":     `inputs.api_token[0]`,
		"nil coalescing":   `inputs.prefix + (inputs.api_token ?? "")`,
	}
	r := newLaunderingRig(t)
	for name, e := range attempts {
		wf := r.write("launder.yaml", launderHead+`  - id: t
    uses: accounts.get
    with: {account_id: '${{ `+strings.ReplaceAll(e, "'", "''")+` }}'}
`)
		for _, args := range [][]string{
			{"validate", wf},
			{"plan", wf, "--input", "api_token=" + inputCanary, "--format", "markdown", "--out", filepath.Join(r.dir, "p.plan")},
			{"plan", wf, "--input", "api_token=" + inputCanary, "--format", "json"},
			{"run", wf, "--yes", "--input", "api_token=" + inputCanary, "--junit", filepath.Join(r.dir, "junit.xml"), "--output", "json"},
			{"run", wf, "--yes", "--input", "api_token=" + inputCanary},
		} {
			if code := r.exec(args...); code != 2 {
				t.Errorf("%s: %s exited %d, want 2 (refused before anything is sent)\n%s", name, args[0], code, tail(r.seen.String(), 800))
			}
		}
		if !strings.Contains(r.seen.String(), "is computed from a secret") {
			t.Errorf("%s: no taint diagnostic", name)
		}
	}
	// The workflow cannot read the client secret at all.
	wf := r.write("env.yaml", `version: 1
name: env
env: [FRAME_CLIENT_SECRET]
steps:
  - id: t
    uses: accounts.get
    with: {account_id: '${{ join(split(env.FRAME_CLIENT_SECRET, ""), "?") }}'}
`)
	for _, args := range [][]string{{"validate", wf}, {"plan", wf}, {"run", wf, "--yes", "--junit", filepath.Join(r.dir, "junit.xml")}} {
		if code := r.exec(args...); code != 2 {
			t.Errorf("env: %s exited %d, want 2", args[0], code)
		}
	}
	if !strings.Contains(r.seen.String(), "env.yaml:3:7: env: FRAME_CLIENT_SECRET holds the API credentials") {
		t.Errorf("no env refusal at its position:\n%s", tail(r.seen.String(), 1500))
	}
	if n := len(r.simLog()); n != 0 {
		t.Errorf("the simulator saw %d requests; nothing may be sent for a refused workflow", n)
	}
	r.search(nil)
}

// The one legitimate use: a value computed from a secret sent in the body
// field the API documents as secret. It reaches the server there and
// nowhere else: not the plan, the journal, the events, JUnit or the step
// summary, even though it is not the literal secret.
func TestDerivedSecretReachesOnlyItsSecretField(t *testing.T) {
	r := newLaunderingRig(t)
	wf := r.write("join.yaml", launderHead+`  - id: list
    uses: accounts.list
  - id: join
    uses: api.accounts.domain_join_settings.update
    with:
      account_id: ${{ steps.list.outputs.accounts[0].id }}
      service_account_password: ${{ toBase64(inputs.api_token) }}
`)
	planFile := filepath.Join(r.dir, "p.plan")
	if code := r.exec("plan", wf, "--input", "api_token="+inputCanary, "--format", "markdown", "--out", planFile); code != 0 {
		t.Fatalf("plan exited %d\n%s", code, tail(r.seen.String(), 1500))
	}
	if code := r.exec("run", wf, "--yes", "--input", "api_token="+inputCanary, "--junit", filepath.Join(r.dir, "junit.xml"), "--output", "json", "--log-level", "debug"); code != 0 {
		t.Fatalf("run exited %d\n%s", code, tail(r.seen.String(), 1500))
	}
	// An expression on the secret that fails at run time says so without
	// the value (expr-lang would quote it: strconv.Atoi: parsing "...").
	bad := r.write("bad.yaml", launderHead+`  - id: list
    uses: accounts.list
  - id: join
    uses: api.accounts.domain_join_settings.update
    with:
      account_id: ${{ steps.list.outputs.accounts[0].id }}
      service_account_password: ${{ string(int(inputs.api_token)) }}
`)
	if code := r.exec("run", bad, "--yes", "--input", "api_token="+inputCanary, "--output", "json"); code != 1 {
		t.Fatalf("a failing conversion of the secret: exit %d, want 1\n%s", code, tail(r.seen.String(), 1500))
	}
	if !strings.Contains(r.seen.String(), "the message is withheld because the expression reads a secret") {
		t.Errorf("the failure does not say its message was withheld:\n%s", tail(r.seen.String(), 1500))
	}
	want := base64.StdEncoding.EncodeToString([]byte(inputCanary))
	sent := 0
	isJoin := func(rec sim.RequestRecord) bool {
		return rec.Method == http.MethodPost && strings.HasSuffix(rec.Path, "/update_domain_join_settings")
	}
	for _, rec := range r.simLog() {
		if isJoin(rec) && strings.Contains(rec.Body, want) {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("the secret field reached the server %d times, want 1", sent)
	}
	r.search(isJoin)
}

// A server whose account names carry escape sequences cannot set the
// terminal title or erase a line in anything frameflow prints: the plain
// event lines, the end-of-run summary, the Markdown plan, the step summary
// and JUnit. (The simulator keeps names on one line; newlines are covered
// renderer by renderer in TestHostileTextIsEscapedInEveryRenderer.)
func TestHostileAccountNamesFromTheServerAreEscapedEverywhere(t *testing.T) {
	const evil = "Store-\u001b]0;pwned\u0007\u001b[2K\u009b1A"
	sc := sim.RetailScenario(1)
	yes := true
	sc.Organizations[0].Accounts = append(sc.Organizations[0].Accounts, sim.AccountSpec{
		Name: evil, CloudProvider: "aws", Active: &yes,
		Sandbox:    sim.SandboxSpec{ImageVersion: "cs-tool-2.3.1"},
		Production: sim.ProductionSpec{ImageVersion: "cs-tool-2.3.1"},
	})
	r := newLaunderingRig(t)
	s, err := sim.Start(sim.Options{Scenario: sc, ClientSecret: clientCanary, TaskDuration: 30 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i, e := range r.env {
		if strings.HasPrefix(e, "FRAME_API_URL=") {
			r.env[i] = "FRAME_API_URL=" + s.URL()
		}
	}
	wf, _ := filepath.Abs("../workflows/qa-rollout.yaml")
	r.exec("plan", wf, "--format", "markdown")
	r.exec("plan", wf)
	r.exec("plan", wf, "--format", "json")
	r.exec("run", wf, "--yes", "--junit", filepath.Join(r.dir, "junit.xml"))
	r.exec("runs")
	out := r.seen.String()
	for _, name := range []string{"summary.md", "junit.xml"} {
		b, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out += string(b)
	}
	if !strings.Contains(out, `\x1b]0;pwned`) {
		t.Fatalf("the hostile account was not shown at all (escaped):\n%s", tail(out, 3000))
	}
	for _, bad := range []string{"\u001b", "\u0007", "\u009b"} {
		if strings.Contains(out, bad) {
			t.Errorf("raw %q reached the output", bad)
		}
	}
}
