package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The package boundaries of docs/architecture.md, kept true by a test:
// arrows point one way. frame knows nothing of workflows; the engine knows
// no concrete step, no API and no YAML; steps never import the CLI; the
// simulator never shares the client's signing or wire code; the
// application layer (runner) neither draws nor parses flags.
//
// allowed lists each package's in-module imports; what they import in
// turn is allowed too. Every package of the module must be listed, so a
// new one is placed deliberately.
var allowed = map[string][]string{
	"":                 {"cli"}, // main: os.Exit(cli.Main(...))
	"internal/suggest": {},
	// The one sanitizer every renderer calls: a leaf, so any package may use it.
	"internal/termtext": {},
	// Marshal's encoding of generic values, without reflection: a leaf.
	"internal/jsonvalue": {},
	// Opening only regular files (a FIFO or a device hung the command): a leaf.
	"internal/regularfile": {},
	"frame":                {"internal/regularfile"},
	"frame/sim":            {"frame"}, // the catalog, as data
	"schema":               {"internal/suggest", "internal/regularfile"},
	"engine/expr":          {"internal/suggest"},
	"engine":               {"schema", "engine/expr", "internal/termtext", "internal/jsonvalue"}, // termtext: a failed item's error in outputs.errors, as one safe line; jsonvalue: events as Marshal writes them
	"engine/journal":       {"engine", "internal/jsonvalue"},
	"plan":                 {"engine", "internal/termtext", "internal/regularfile"},
	"steps":                {"engine", "frame"},
	"workflows":            {},
	"liveview":             {"engine", "internal/termtext"},
	"runner":               {"engine/journal", "plan", "steps", "state"},
	// state backends know journals and the lock contract, not the API or
	// steps: cli opens one and runner uses it (issue 14).
	"state":           {"engine/journal"},
	"internal/pgtest": {},
	"bench":           {"engine", "frame/sim", "workflows"}, // linked into the binary: `frameflow bench`
	// The web page draws what the runner decides; it never reaches the
	// journal, the steps or the runner itself (cli hands it a backend),
	// so it cannot grow a second plan/apply/resume.
	"serve":   {"engine", "plan", "frame"},
	"cli":     {"runner", "liveview", "bench", "internal/termtext", "serve"},
	"docs/ci": {}, // tests of the CI recipes only
}

// forbidden lists modules outside this one a package must not import
// itself (the engine reaches YAML only through schema's positions).
var forbidden = map[string][]string{
	"engine":      {"gopkg.in/yaml.v3", "github.com/spf13/cobra", "github.com/charmbracelet/bubbletea"},
	"engine/expr": {"gopkg.in/yaml.v3"},
	"runner":      {"github.com/spf13/cobra", "github.com/charmbracelet/bubbletea", "github.com/charmbracelet/lipgloss"},
	"liveview":    {"github.com/spf13/cobra"},
}

const module = "github.com/frameflow/frameflow"

// closure is every in-module package pkg may depend on.
func closure(pkg string) map[string]bool {
	out := map[string]bool{}
	var add func(p string)
	add = func(p string) {
		for _, d := range allowed[p] {
			if !out[d] {
				out[d] = true
				add(d)
			}
		}
	}
	add(pkg)
	return out
}

func TestPackageBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if _, listed := allowed[rel]; !listed {
			t.Errorf("package %q is not in arch_test.go: say what it may import", rel)
			continue
		}
		seen[rel] = true
		ok := closure(rel)
		for _, d := range p.Deps {
			if d == module || strings.HasPrefix(d, module+"/") {
				dr := strings.TrimPrefix(strings.TrimPrefix(d, module), "/")
				if !ok[dr] {
					t.Errorf("%s depends on %s: not allowed (allowed: %v and what they import)", rel, dr, allowed[rel])
				}
			}
		}
		for _, d := range p.Imports {
			for _, bad := range forbidden[rel] {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s imports %s: not allowed", rel, d)
				}
			}
		}
	}
	for rel := range allowed {
		if !seen[rel] {
			t.Errorf("arch_test.go lists %q, which go list did not report: renamed or removed?", rel)
		}
	}
}

// The rules above must be able to fail: a package importing what it may
// not is reported.
func TestClosureRefusesUpwardArrows(t *testing.T) {
	for _, c := range []struct{ pkg, dep string }{
		{"engine", "steps"}, {"engine", "frame"}, {"engine", "cli"}, {"engine/expr", "schema"},
		{"steps", "cli"}, {"runner", "cli"}, {"runner", "liveview"}, {"frame/sim", "steps"}, {"bench", "cli"},
	} {
		if closure(c.pkg)[c.dep] {
			t.Errorf("%s may depend on %s", c.pkg, c.dep)
		}
	}
	if !slices.Contains(allowed["cli"], "runner") {
		t.Errorf("cli must reach the engine through runner")
	}
}
