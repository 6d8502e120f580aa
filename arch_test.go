package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The package boundaries of docs/architecture.md, kept true by a test:
// arrows point one way. frame knows nothing of workflows; the engine knows
// no concrete step and no API; steps never import the CLI; the simulator
// never shares the client's signing or wire code.
func TestPackageBoundaries(t *testing.T) {
	const mod = "github.com/frameflow/frameflow"
	allowed := map[string][]string{
		"frame":          {},
		"frame/sim":      {"frame"}, // the catalog, as data
		"schema":         {},
		"engine/expr":    {"schema"}, // one did-you-mean rule
		"engine":         {"schema", "engine/expr"},
		"engine/journal": {"engine", "schema", "engine/expr"},
		"plan":           {"engine", "schema", "engine/expr"},
		"steps":          {"engine", "frame", "schema", "engine/expr"},
		"workflows":      {},
		// state backends know journals and the lock contract, not the API
		// or steps: cli (and the application layer) wire them.
		"state":           {"engine", "engine/journal", "schema", "engine/expr"},
		"internal/pgtest": {},
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")
		ok, checked := allowed[rel]
		if !checked {
			continue
		}
		seen++
		okSet := map[string]bool{}
		for _, a := range ok {
			okSet[a] = true
		}
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, mod+"/") {
				continue
			}
			dr := strings.TrimPrefix(d, mod+"/")
			if !okSet[dr] {
				t.Errorf("%s imports %s: not allowed (allowed: %v)", rel, dr, ok)
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("checked %d of %d packages: a package was renamed or removed; update this test", seen, len(allowed))
	}
}
