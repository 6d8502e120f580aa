// Package ci_test checks the CI recipes under docs/ci: GitHub workflows with
// actionlint (the linter GitHub users run, here as a library), the GitLab
// pipeline with a structure check, and both against the rules that make a
// rollout safe: pull requests only plan, merges apply exactly the reviewed
// plan file behind a manual gate, versions are pinned, and nothing rolls
// out on unrelated pushes or schedules.
package ci_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func githubRecipes(t *testing.T) []string {
	files, err := filepath.Glob("github/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("GitHub recipes: %v %v (want frame-plan, frame-apply and frame-rollout)", files, err)
	}
	return files
}

// shellcheck is run by actionlint on every run: script when installed
// (apt-get install shellcheck). CI must have it: a check that silently does
// less there would pass for the wrong reason.
func shellcheck(t *testing.T) string {
	path, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed (apt-get install shellcheck); CI must check the recipes' scripts")
		}
		t.Log("shellcheck not installed: run: scripts are not checked (CI requires it)")
		return ""
	}
	return path
}

func TestGitHubRecipesPassActionlint(t *testing.T) {
	sc := shellcheck(t)
	for _, f := range githubRecipes(t) {
		var out bytes.Buffer
		l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Shellcheck: sc, Oneline: true})
		if err != nil {
			t.Fatal(err)
		}
		errs, err := l.Lint(f, read(t, f), nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, e := range errs {
			t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

// A broken recipe must fail the check: the linter is really running.
func TestActionlintCatchesABrokenRecipe(t *testing.T) {
	src := bytes.Replace(read(t, "github/frame-apply.yaml"), []byte("runs-on: ubuntu-24.04"), []byte("runs-on: ubuntu-24.04\n    needs: nosuchjob"), 1)
	l, err := actionlint.NewLinter(&bytes.Buffer{}, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint("broken.yaml", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) == 0 {
		t.Error("actionlint accepted a job that needs a job that does not exist")
	}
}

type ghWorkflow struct {
	On   map[string]yaml.Node `yaml:"on"`
	Env  map[string]string    `yaml:"env"`
	Jobs map[string]struct {
		If          string `yaml:"if"`
		Environment any    `yaml:"environment"`
		Needs       any    `yaml:"needs"`
		Steps       []struct {
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// pinnedVersion is a release tag or, while frameflow has none, a full
// commit hash: never a branch or "latest".
var pinnedVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+$|^[0-9a-f]{40}$`)

// checkVersionExists fails unless v is a tag of this repository or a
// commit on its history: a recipe pinning a version that does not exist
// (the placeholder v0.9.0 once) fails at its first go install.
func checkVersionExists(t *testing.T, where, v string) {
	t.Helper()
	if !pinnedVersion.MatchString(v) {
		t.Errorf("%s: FRAMEFLOW_VERSION %q is not a pinned vX.Y.Z tag or a 40-hex commit", where, v)
		return
	}
	if !haveGit(t) {
		t.Logf("no git checkout: not checking that FRAMEFLOW_VERSION %s exists (CI does)", v)
		return
	}
	// A shallow clone (CI checkouts often are) lacks the older commits a
	// pin names: it can check the form only.
	if out, _ := exec.Command("git", "rev-parse", "--is-shallow-repository").Output(); strings.TrimSpace(string(out)) == "true" {
		t.Logf("shallow clone: not checking that FRAMEFLOW_VERSION %s exists", v)
		return
	}
	if why := missingVersion(v); why != "" {
		t.Errorf("%s: FRAMEFLOW_VERSION %s %s: go install would fail", where, v, why)
	}
}

// haveGit tells whether this is a git checkout with git installed; CI
// must have both.
func haveGit(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil || exec.Command("git", "rev-parse", "--git-dir").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no git checkout: CI must check that the pinned FRAMEFLOW_VERSION exists")
		}
		return false
	}
	return true
}

// missingVersion says why v is not a tag of this repository nor a commit
// on the checked-out history, "" when it is one.
func missingVersion(v string) string {
	if strings.HasPrefix(v, "v") {
		if exec.Command("git", "rev-parse", "--verify", "--quiet", "refs/tags/"+v+"^{commit}").Run() != nil {
			return "is not a tag of this repository"
		}
		return ""
	}
	if exec.Command("git", "rev-parse", "--verify", "--quiet", v+"^{commit}").Run() != nil {
		return "is not a commit of this repository"
	}
	// A commit on someone's own branch is not what users can fetch.
	if exec.Command("git", "merge-base", "--is-ancestor", v, "HEAD").Run() != nil {
		return "is not a commit on this branch's history"
	}
	return ""
}

func TestGitHubRecipesAreSafe(t *testing.T) {
	for _, f := range githubRecipes(t) {
		src := read(t, f)
		var wf ghWorkflow
		if err := yaml.Unmarshal(src, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if bytes.Contains(src, []byte("@latest")) {
			t.Errorf("%s installs something @latest; pin versions", f)
		}
		checkVersionExists(t, f, wf.Env["FRAMEFLOW_VERSION"])
		for _, trigger := range []string{"push", "schedule", "pull_request_target", "workflow_run"} {
			if _, ok := wf.On[trigger]; ok {
				t.Errorf("%s runs on %s: a rollout must start only from a reviewed pull request or a manual dispatch", f, trigger)
			}
		}
		for name, job := range wf.Jobs {
			var runs []string
			for _, s := range job.Steps {
				runs = append(runs, s.Run)
				if s.Uses != "" && !regexp.MustCompile(`@v\d+\.\d+\.\d+$|@[0-9a-f]{40}$`).MatchString(s.Uses) {
					t.Errorf("%s job %s uses %s: pin an exact version", f, name, s.Uses)
				}
			}
			script := strings.Join(runs, "\n")
			mutates := strings.Contains(script, "frameflow apply") || strings.Contains(script, "frameflow run") || strings.Contains(script, "frameflow resume")
			if mutates {
				if job.Environment != "frame-production" {
					t.Errorf("%s job %s changes the estate without the frame-production environment (the manual gate)", f, name)
				}
				if strings.Contains(script, "frameflow run") || strings.Contains(script, "frameflow plan") {
					t.Errorf("%s job %s plans again or runs: it must apply the reviewed plan file", f, name)
				}
				if !regexp.MustCompile(`frameflow apply \S+\.plan --yes`).MatchString(script) {
					t.Errorf("%s job %s does not apply a plan file", f, name)
				}
			}
			if strings.Contains(script, "${{") {
				t.Errorf("%s job %s splices an expression into a script; pass it through env", f, name)
			}
		}
	}
	apply := ghWorkflowOf(t, "github/frame-apply.yaml")
	if j := apply.Jobs["apply"]; j.If != "github.event.pull_request.merged == true" {
		t.Errorf("frame-apply runs for a pull request closed without merging (if: %q)", j.If)
	}
	var pr struct {
		Types []string `yaml:"types"`
		Paths []string `yaml:"paths"`
	}
	n := apply.On["pull_request"]
	if err := n.Decode(&pr); err != nil || !slices.Equal(pr.Types, []string{"closed"}) || len(pr.Paths) == 0 {
		t.Errorf("frame-apply must run only when a pull request touching the playbooks closes: %+v %v", pr, err)
	}
	if _, ok := ghWorkflowOf(t, "github/frame-rollout.yaml").On["workflow_dispatch"]; !ok {
		t.Error("frame-rollout is not a workflow_dispatch recipe")
	}
}

func ghWorkflowOf(t *testing.T, f string) ghWorkflow {
	var wf ghWorkflow
	if err := yaml.Unmarshal(read(t, f), &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

// gitlabJobKeys are the job keywords of GitLab CI's reference
// (docs.gitlab.com/ci/yaml); a misspelt keyword fails GitLab's own lint.
var gitlabJobKeys = map[string]bool{
	"after_script": true, "allow_failure": true, "artifacts": true, "before_script": true, "cache": true,
	"coverage": true, "dependencies": true, "environment": true, "extends": true, "hooks": true,
	"id_tokens": true, "image": true, "inherit": true, "interruptible": true, "needs": true, "pages": true,
	"parallel": true, "release": true, "resource_group": true, "retry": true, "rules": true, "script": true,
	"secrets": true, "services": true, "stage": true, "tags": true, "timeout": true, "trigger": true,
	"variables": true, "when": true, "identity": true, "manual_confirmation": true,
}

var gitlabGlobalKeys = map[string]bool{
	"default": true, "include": true, "stages": true, "variables": true, "workflow": true,
}

type glJob struct {
	Extends      string           `yaml:"extends"`
	Stage        string           `yaml:"stage"`
	Script       []string         `yaml:"script"`
	BeforeScript []string         `yaml:"before_script"`
	Needs        []string         `yaml:"needs"`
	When         string           `yaml:"when"`
	AllowFailure *bool            `yaml:"allow_failure"`
	Environment  map[string]any   `yaml:"environment"`
	Rules        []map[string]any `yaml:"rules"`
}

func TestGitLabRecipeStructure(t *testing.T) {
	src := read(t, "gitlab/.gitlab-ci.yml")
	if bytes.Contains(src, []byte("@latest")) {
		t.Error(".gitlab-ci.yml installs something @latest; pin versions")
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var stages []string
	if n, ok := doc["stages"]; !ok || n.Decode(&stages) != nil {
		t.Fatal("no stages list")
	}
	var vars map[string]string
	if n := doc["variables"]; n.Decode(&vars) != nil {
		t.Error("no variables")
	}
	checkVersionExists(t, ".gitlab-ci.yml", vars["FRAMEFLOW_VERSION"])
	// The pipeline runs for merge requests and default-branch pushes only.
	var wf struct {
		Rules []map[string]any `yaml:"rules"`
	}
	if n := doc["workflow"]; n.Decode(&wf) != nil || len(wf.Rules) == 0 {
		t.Fatal("no workflow rules: every pipeline source (schedules included) would run")
	}
	if last := wf.Rules[len(wf.Rules)-1]; last["when"] != "never" || len(last) != 1 {
		t.Errorf("the workflow rules do not end with `when: never`: %v", last)
	}
	for _, r := range wf.Rules {
		if s, _ := r["if"].(string); strings.Contains(s, "schedule") || strings.Contains(s, "trigger") {
			t.Errorf("a workflow rule admits %q", s)
		}
	}

	jobs := map[string]glJob{}
	for name, n := range doc {
		if gitlabGlobalKeys[name] {
			continue
		}
		var keys map[string]any
		if err := n.Decode(&keys); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := range keys {
			if !gitlabJobKeys[k] {
				t.Errorf("job %s: unknown keyword %q", name, k)
			}
		}
		var j glJob
		if err := n.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", name, err)
		}
		jobs[name] = j
	}
	for name, j := range jobs {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if j.Extends != "" {
			if _, ok := jobs[j.Extends]; !ok {
				t.Errorf("job %s extends %s, which does not exist", name, j.Extends)
			}
		}
		if !slices.Contains(stages, j.Stage) {
			t.Errorf("job %s: stage %q is not in stages %v", name, j.Stage, stages)
		}
		if len(j.Script) == 0 {
			t.Errorf("job %s has no script", name)
		}
		for _, need := range j.Needs {
			if _, ok := jobs[need]; !ok {
				t.Errorf("job %s needs %s, which does not exist", name, need)
			}
		}
		script := strings.Join(j.Script, "\n")
		if strings.Contains(script, "frameflow apply") || strings.Contains(script, "frameflow run") || strings.Contains(script, "frameflow resume") {
			if strings.Contains(script, "frameflow run") || strings.Contains(script, "frameflow plan") {
				t.Errorf("job %s plans again or runs: it must apply the plan file its pipeline reviewed", name)
			}
			if !slices.Contains(j.Needs, "plan") {
				t.Errorf("job %s does not take its plan file from the plan job (needs: [plan])", name)
			}
			if len(j.Rules) == 0 {
				t.Errorf("job %s has no rules: it would run in every pipeline", name)
			}
			for _, r := range j.Rules {
				if r["when"] != "manual" {
					t.Errorf("job %s has a rule that is not `when: manual`: %v", name, r)
				}
				if _, ok := r["changes"]; !ok {
					t.Errorf("job %s runs on pushes that do not touch the playbooks: %v", name, r)
				}
			}
			if j.AllowFailure == nil || *j.AllowFailure {
				t.Errorf("job %s: a manual job must set allow_failure: false, or the pipeline passes without it", name)
			}
			if j.Environment["name"] != "frame-production" {
				t.Errorf("job %s changes the estate outside the frame-production environment", name)
			}
		}
	}
	if _, ok := jobs["apply"]; !ok {
		t.Error("no apply job")
	}
}

// The version check fails on what it must: the old placeholder tag, a
// branch name, a commit that is not in the repository.
func TestVersionCheckRejectsVersionsThatDoNotExist(t *testing.T) {
	if !haveGit(t) {
		t.Skip("no git checkout (CI requires one)")
	}
	for _, v := range []string{"v0.9.0", "0123456789abcdef0123456789abcdef01234567"} {
		if missingVersion(v) == "" {
			t.Errorf("FRAMEFLOW_VERSION %q was found", v)
		}
	}
	for _, v := range []string{"main", "latest", "v1.2"} {
		if pinnedVersion.MatchString(v) {
			t.Errorf("FRAMEFLOW_VERSION %q counts as pinned", v)
		}
	}
}
