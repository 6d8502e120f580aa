package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func testApp() (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{streams: Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}, red: &Redactor{}}
	return a, &out, &errb
}

func TestEveryCommandHasExamples(t *testing.T) {
	a, _, _ := testApp()
	root := a.rootCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Examples section", c.CommandPath())
		}
		for _, line := range strings.Split(c.Example, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "frameflow ") && !strings.HasPrefix(line, "#") {
				t.Errorf("%q: example line %q is not a frameflow command", c.CommandPath(), line)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestFlagMistakesGetSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-out", "x.plan", "w.yaml"}, "Long flags take two dashes: --out"},
		{[]string{"run", "--yess", "w.yaml"}, "Did you mean --yes?"},
		{[]string{"plan", "--detial", "w.yaml"}, "Did you mean --detail?"},
		{[]string{"plna", "w.yaml"}, "Did you mean this?\n  plan\n"},
	} {
		var out, errb bytes.Buffer
		code := Main(tc.args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
		if code != ExitInvalid || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestVersionComesFromTheBuild(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"version"}, Streams{In: strings.NewReader(""), Out: &out, Err: &bytes.Buffer{}, Getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("version exited %d", code)
	}
	for _, want := range []string{"frameflow ", "  module:   github.com/frameflow/frameflow", "  go:       go1."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPlaceholdersAndDefaultsInHelp(t *testing.T) {
	var out bytes.Buffer
	Main([]string{"plan", "--help"}, Streams{In: strings.NewReader(""), Out: &out, Err: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	help := out.String()
	for _, want := range []string{"--out FILE", "--parallelism int", "(default: the workflow's concurrency, else 256)"} {
		if !strings.Contains(help, want) {
			t.Errorf("plan --help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "--out frameflow") {
		t.Errorf("plan --help shows a wrong placeholder:\n%s", help)
	}
}

func runMain(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
	return out.String(), errb.String(), code
}

func TestStepsTableFits100Columns(t *testing.T) {
	out, _, code := runMain("steps")
	if code != 0 {
		t.Fatalf("steps exited %d", code)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("steps line is %d columns: %q", n, line)
		}
	}
	if !strings.Contains(out, "sandbox.clone") || !strings.Contains(out, "destructive") {
		t.Errorf("steps table lacks sandbox.clone or its destructive marking:\n%s", out)
	}
}

func TestStepsTypeShowsOneType(t *testing.T) {
	out, _, code := runMain("steps", "elasticity.set")
	if code != 0 {
		t.Fatalf("steps elasticity.set exited %d", code)
	}
	for _, want := range []string{"Inputs (with:):", "  max_servers     integer (required)\n", "Outputs (steps.ID.outputs.NAME):", "before: object {buffer_servers, max_servers, min_servers}",
		"Resume:\n  Idempotent: Reconcile reads the pool's settings", "Example:\n  steps:\n    - id: elasticity_set\n      uses: elasticity.set\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("steps elasticity.set lacks %q:\n%s", want, out)
		}
	}
	_, errOut, code := runMain("steps", "elasticity.sett")
	if code != ExitInvalid || !strings.Contains(errOut, `did you mean "elasticity.set"?`) {
		t.Errorf("unknown step type: exit %d, %q", code, errOut)
	}
	js, _, code := runMain("steps", "sandbox.clone", "--format", "json")
	if code != 0 || !strings.Contains(js, `"destructive": true`) || strings.HasPrefix(strings.TrimSpace(js), "[") {
		t.Errorf("steps sandbox.clone --format json: exit %d\n%s", code, js)
	}
}

// TestVersionSaysWhenTheBuildHasNoRevision: a binary built from a git
// worktree (or with -buildvcs=false) carries no VCS settings; version says
// so and how to stamp one, rather than leaving the line out.
func TestVersionSaysWhenTheBuildHasNoRevision(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/frameflow/frameflow", Version: "(devel)"}}
	for _, c := range []struct {
		settings []debug.BuildSetting
		ldflags  string
		want     string
	}{
		{nil, "", "  revision: (no vcs info: built with -buildvcs=false or from a git worktree"},
		{nil, "29e2e34", "  revision: 29e2e34 (from -ldflags)\n"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-11-30T14:00:00Z"}},
			"ignored", "  revision: abc123 (modified)\n  commit:   2026-11-30T14:00:00Z\n"},
	} {
		bi.Settings = c.settings
		var out bytes.Buffer
		writeBuildInfo(&out, bi, c.ldflags)
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("settings %v, ldflags %q: output lacks %q:\n%s", c.settings, c.ldflags, c.want, out.String())
		}
	}
}
