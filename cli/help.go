package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/frameflow/frameflow/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// examples are the Examples section of each command's --help, by command
// path without "frameflow ". Every command has one (TestEveryCommandHasExamples).
var examples = map[string]string{
	"": `  frameflow validate workflows/qa-rollout.yaml
  frameflow plan workflows/qa-rollout.yaml --out rollout.plan
  frameflow apply rollout.plan
  frameflow runs --status failed`,
	"validate": `  frameflow validate workflows/*.yaml
  frameflow validate workflows/qa-rollout.yaml --format json`,
	"plan": `  frameflow plan workflows/qa-rollout.yaml
  frameflow plan workflows/qa-rollout.yaml --detail     # every target
  frameflow plan workflows/qa-rollout.yaml --out rollout.plan
  frameflow plan workflows/qa-rollout.yaml --format markdown > plan.md
  frameflow plan workflows/capacity-schedule.yaml --input profile=day`,
	"apply": `  frameflow apply rollout.plan              # shows the plan and asks
  frameflow apply rollout.plan --yes        # CI: the plan was reviewed in the pull request`,
	"run": `  frameflow run workflows/qa-rollout.yaml      # shows the plan, asks
  frameflow run workflows/qa-rollout.yaml --input max_servers=8
  frameflow run workflows/qa-rollout.yaml --yes --output json`,
	"resume": `  frameflow resume --last
  frameflow resume 20261130T071512Z-3f2a --yes
  frameflow resume --last --input webhook_token=...   # secret inputs only
  frameflow resume 20261130T071512Z-3f2a --approve gate --yes   # approve a gate, then go on`,
	"approve": `  frameflow approve 20261130T071512Z-3f2a gate                # a run waiting at the approval step gate goes on
  frameflow approve 20261130T071512Z-3f2a gate --reject --comment "store 2 is slow"
  frameflow approve 20261130T071512Z-3f2a 'stores.gate[store-7]'   # one item's gate inside a fan-out`,
	"runs": `  frameflow runs
  frameflow runs --status failed --limit 5
  frameflow runs 20261130T071512Z-3f2a`,
	"runs show": `  frameflow runs show 20261130T071512Z-3f2a
  frameflow runs show 20261130T071512Z-3f2a --format json`,
	"doctor": `  frameflow doctor
  frameflow doctor workflows/qa-rollout.yaml workflows/capacity-schedule.yaml`,
	"graph": `  frameflow graph workflows/qa-rollout.yaml | dot -Tsvg > rollout.svg
  frameflow graph workflows/qa-rollout.yaml --format mermaid`,
	"schema": `  frameflow schema > workflow.schema.json
  # in a workflow file, for editors: # yaml-language-server: $schema=./workflow.schema.json
  frameflow schema --playbooks workflows > workflows/workflow.schema.json   # uses: ./lib/x.yaml completes too`,
	"steps": `  frameflow steps
  frameflow steps --format json`,
	"api": `  frameflow api list
  frameflow api get /accounts`,
	"api list": `  frameflow api list
  frameflow api list --format json`,
	"api get": `  frameflow api get /accounts
  frameflow api get /accounts/ACCOUNT_ID/pools -f kind=production`,
	"api post":   `  frameflow api post /pools/POOL_ID/elasticity_settings -f min_servers=1 -f buffer_servers=1 -f max_servers=5`,
	"api delete": `  frameflow api delete /accounts/ACCOUNT_ID/users/USER_ID`,
	"sim": `  frameflow sim
  frameflow sim --addr 127.0.0.1:8080 --task-duration 2s --task-fail-rate 0.1`,
	"demo": `  frameflow demo
  frameflow demo --task-duration 2s
  frameflow demo --serve`,
	"serve": `  # This machine only (no login), the playbooks of ./workflows
  frameflow serve
  # The intranet: a login token, the user name from the reverse proxy
  FRAMEFLOW_SERVE_TOKEN=... frameflow serve --addr 0.0.0.0:8088 --trusted-proxy 10.0.0.5 --playbooks /srv/playbooks`,
	"bench":                 `  frameflow bench --stores 500`,
	"completion bash":       `  source <(frameflow completion bash)`,
	"completion zsh":        `  frameflow completion zsh > "${fpath[1]}/_frameflow"`,
	"completion fish":       `  frameflow completion fish > ~/.config/fish/completions/frameflow.fish`,
	"completion powershell": `  frameflow completion powershell | Out-String | Invoke-Expression`,
	"version": `  frameflow version
  frameflow --version`,
	"completion": `  frameflow completion bash > /etc/bash_completion.d/frameflow
  frameflow completion zsh > "${fpath[1]}/_frameflow"`,
}

// polishHelp gives every command its examples and makes flag mistakes
// helpful: a misspelt flag gets a did-you-mean, and Terraform's single-dash
// long flags (-out) are pointed to their double-dash form.
func polishHelp(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		if ex, ok := examples[path]; ok && c.Example == "" {
			c.Example = ex
		}
		c.SuggestionsMinimumDistance = 2
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root.InitDefaultCompletionCmd()
	walk(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if hint := flagHint(c, err); hint != "" {
			err = &hintError{err: err, hint: hint}
		}
		return withCode(ExitInvalid, err)
	})
}

var (
	unknownFlag      = regexp.MustCompile(`unknown flag: --([^\s=]+)`)
	unknownShorthand = regexp.MustCompile(`unknown shorthand flag: '.' in -([^\s=]+)`)
)

// flagHint suggests the flag the user probably meant, or "".
func flagHint(c *cobra.Command, err error) string {
	msg := err.Error()
	if m := unknownShorthand.FindStringSubmatch(msg); m != nil {
		// "-out": frameflow's long flags take two dashes.
		if f := lookupFlag(c, m[1]); f != nil {
			return fmt.Sprintf("Long flags take two dashes: --%s", m[1])
		}
		if s := closestFlag(c, m[1]); s != "" {
			return "Did you mean --" + s + "? (long flags take two dashes)"
		}
		return ""
	}
	if m := unknownFlag.FindStringSubmatch(msg); m != nil {
		if s := closestFlag(c, m[1]); s != "" {
			return "Did you mean --" + s + "?"
		}
	}
	return ""
}

func lookupFlag(c *cobra.Command, name string) *pflag.Flag {
	if f := c.Flags().Lookup(name); f != nil {
		return f
	}
	return c.InheritedFlags().Lookup(name)
}

// closestFlag is the flag name nearest to name (edit distance at most 2,
// or a prefix), "" when none is close.
func closestFlag(c *cobra.Command, name string) string {
	best, bestDist := "", 3
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if d < bestDist || (d == bestDist && f.Name < best) {
			best, bestDist = f.Name, d
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// buildVersion is the version line: the -ldflags Version when set, else the
// module version Go recorded (v1.2.3 for `go install ...@v1.2.3`).
func buildVersion() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// writeVersion prints what a bug report needs: version, module, VCS
// revision and time, whether the tree was modified, Go version and platform.
func writeVersion(w io.Writer) {
	fmt.Fprintf(w, "frameflow %s\n", buildVersion())
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(w, "  go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return
	}
	writeBuildInfo(w, bi, Revision)
}

// noVCSInfo says why a build has no revision and how to give it one.
const noVCSInfo = "(no vcs info: built with -buildvcs=false or from a git worktree, which go build does not stamp;" +
	" build with -ldflags \"-X github.com/frameflow/frameflow/cli.Revision=$(git rev-parse HEAD)\")"

// writeBuildInfo prints the module, revision and Go lines of bi; revision
// is the -ldflags Revision, used when Go recorded none.
func writeBuildInfo(w io.Writer, bi *debug.BuildInfo, revision string) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	fmt.Fprintf(w, "  module:   %s %s\n", bi.Main.Path, bi.Main.Version)
	switch rev := settings["vcs.revision"]; {
	case rev != "":
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		fmt.Fprintf(w, "  revision: %s\n", rev)
	case revision != "":
		fmt.Fprintf(w, "  revision: %s (from -ldflags)\n", revision)
	default:
		fmt.Fprintf(w, "  revision: %s\n", noVCSInfo)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "  commit:   %s\n", t)
	}
	fmt.Fprintf(w, "  go:       %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// hintError is an error with advice for the person who made it, printed
// on its own line after the error (Main).
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

// commandHint moves cobra's "Did you mean this?" for a mistyped command out
// of the error line into a hint, so that it prints as lines of its own.
func commandHint(err error) error {
	msg := err.Error()
	head, rest, ok := strings.Cut(msg, "\n\nDid you mean this?\n")
	if !ok || !strings.HasPrefix(msg, "unknown command") {
		return err
	}
	return &hintError{err: errors.New(head), hint: "Did you mean this?\n" + strings.ReplaceAll(strings.TrimRight(rest, "\n"), "\t", "  ")}
}

// maxArgs accepts at most n positional arguments (what names them).
func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErr("usage: %s [%s]", cmd.CommandPath(), what)
		}
		return nil
	}
}

// didYouMean is ` (did you mean "x"?)` for the candidate nearest to s, or
// "" when none is near.
func didYouMean(s string, candidates []string) string {
	best, bestDist := "", max(3, len(s)/4+1)
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func typeNames(types []*engine.StepType) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = t.Name
	}
	return out
}
