package main

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/steps"
)

// Error messages are read by people under pressure: no empty placeholder
// ("task  (x)"), no "()" or `""` standing for a missing value, no phrase
// said twice ("(nothing was sent) (nothing was sent)", "invalid request:
// invalid request", "the the"). Two sweeps: every error format string in
// the code base, and the messages the error paths actually produce.

// errorFuncs take a format or message that becomes an error or diagnostic.
var errorFuncs = map[string]bool{
	"Errorf": true, "New": true, // fmt.Errorf, errors.New
	"errorf": true, "errf": true, "structf": true, "usageErr": true, "invalidf": true,
}

var doubledWord = regexp.MustCompile(`(?i)\b([a-z]{2,})\s+([a-z]{2,})\b`)

// messageProblems lists what is wrong with one message (or format).
func messageProblems(msg string) []string {
	var out []string
	// Indentation after a newline is layout, not a gap.
	for _, line := range strings.Split(msg, "\n") {
		if strings.Contains(strings.TrimLeft(line, " \t"), "  ") {
			out = append(out, "a double space (an empty placeholder?)")
			break
		}
	}
	for _, bad := range []string{"()", "( ", " )", " ,", `"" `} {
		if strings.Contains(msg, bad) {
			out = append(out, "contains "+strconv.Quote(bad))
		}
	}
	if strings.Count(msg, "nothing was sent") > 1 {
		out = append(out, `says "nothing was sent" more than once`)
	}
	if strings.Count(msg, "invalid request") > 1 {
		out = append(out, `says "invalid request" twice`)
	}
	parens := map[string]bool{}
	for _, p := range regexp.MustCompile(`\([^()]{3,}\)`).FindAllString(msg, -1) {
		if parens[p] {
			out = append(out, "repeats the parenthetical "+p)
		}
		parens[p] = true
	}
	for _, m := range doubledWord.FindAllStringSubmatch(msg, -1) {
		if strings.EqualFold(m[1], m[2]) {
			out = append(out, "doubled word "+strconv.Quote(m[1]))
		}
	}
	return out
}

func TestErrorFormatStringsHaveNoGapsOrRepeats(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			if !errorFuncs[name] {
				return true
			}
			for _, a := range call.Args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					continue
				}
				checked++
				// Verbs are placeholders: "%s  %s" is still a gap.
				for _, p := range messageProblems(s) {
					t.Errorf("%s: %s: %q", fset.Position(lit.Pos()), p, s)
				}
				break
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 300 {
		t.Fatalf("only %d error formats found: the sweep no longer sees the code base", checked)
	}
}

func TestProducedErrorMessagesHaveNoGapsOrRepeats(t *testing.T) {
	var msgs []string
	add := func(err error) {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	// The three messages issue 15 quoted.
	add(&frame.TaskFailedError{Task: &frame.Task{DisplayName: "Publishing Sandbox to Production"}})
	add(&frame.TaskFailedError{Task: &frame.Task{}})
	inner := &frame.InvalidRequestError{Param: "account_id", Reason: "must not be empty"}
	add(&frame.InvalidRequestError{Endpoint: "accounts.get", Reason: inner.Error()})
	add(&frame.InvalidRequestError{Endpoint: "accounts.get", Err: inner})
	add(&frame.InvalidRequestError{})
	add(&steps.WaitTimeoutError{Waited: time.Minute})
	add(&frame.OutcomeUnknownError{Method: "POST", Path: "/accounts/a/publish", Err: errors.New("EOF")})
	_, err := frame.PathFor("/accounts/{account_id}", map[string]string{"account_id": "a/b"})
	add(err)
	// Issue 12: the reason first, then which task (no empty id).
	if m := msgs[0]; m != `no reason given: the task has no result_info (task "Publishing Sandbox to Production" failed)` {
		t.Errorf("task without id: %q", m)
	}

	// Every diagnostic the loader and compiler give for the bad workflows.
	goldens, _ := filepath.Glob("testdata/workflows/bad/*.golden")
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			msgs = append(msgs, l)
		}
	}
	// What the CLI says on its error paths (no network: every one fails
	// before a request).
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-creds")
	_ = os.WriteFile(filepath.Join(dir, "creds"), []byte("client_id=a\n"), 0o600)
	for _, args := range [][]string{
		{"validate"},
		{"validate", filepath.Join(dir, "missing.yaml")},
		{"validate", "testdata/workflows/bad/syntax.yaml"},
		{"run"},
		{"plan", "workflows/qa-rollout.yaml", "--input", "nope=1"},
		{"plan", "workflows/qa-rollout.yaml", "--input", "max_servers=x", "--offline"},
		{"run", "workflows/qa-rollout.yaml", "--input", "min_servers=9", "--offline"},
		{"api", "get"},
		{"api", "get", "/accounts"},
		{"--credentials", filepath.Join(dir, "creds"), "api", "get", "/accounts"},
		{"--credentials", missing, "api", "get", "/accounts"},
		{"--credentials", dir, "api", "get", "/accounts"},
		{"api", "get", "/accounts/../x"},
		{"nosuchcommand"},
		{"run", "--bogus-flag"},
		{"resume", "--last"},
		{"apply", filepath.Join(dir, "missing.plan")},
	} {
		var out, errb bytes.Buffer
		cli.Main(args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb,
			Getenv: func(k string) string {
				if k == "FRAMEFLOW_STATE_DIR" {
					return dir
				}
				return ""
			}})
		if errb.Len() == 0 {
			t.Errorf("%v: no error message", args)
		}
		msgs = append(msgs, strings.Split(errb.String(), "\n")...)
	}
	// A path parameter is named as the step's input, not the template's
	// placeholder.
	wf := filepath.Join(dir, "clone.yaml")
	_ = os.WriteFile(wf, []byte("version: 1\nname: c\nsteps:\n  - id: c\n    uses: sandbox.clone\n    with: {target_account_id: a/b, source_pool_id: p}\n"), 0o644)
	var out, errb bytes.Buffer
	cli.Main([]string{"validate", wf}, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
	if !strings.Contains(errb.String(), `parameter "target_account_id"`) {
		t.Errorf("the path parameter is not named as the step's input:\n%s", errb.String())
	}
	msgs = append(msgs, strings.Split(errb.String(), "\n")...)
	if len(msgs) < 100 {
		t.Fatalf("only %d messages: the sweep lost its sources", len(msgs))
	}
	for _, m := range msgs {
		for _, p := range messageProblems(m) {
			t.Errorf("%s: %q", p, m)
		}
	}
}

func TestMessageProblemsFindsTheIssueExamples(t *testing.T) {
	for _, bad := range []string{
		"task  (Publishing Sandbox to Production) failed: no result_info",
		"invalid request x: bad (nothing was sent) (nothing was sent)",
		"invalid request accounts.get: invalid request: parameter \"a\": empty",
		"the the step",
		"step () failed",
	} {
		if len(messageProblems(bad)) == 0 {
			t.Errorf("not flagged: %q", bad)
		}
	}
}
