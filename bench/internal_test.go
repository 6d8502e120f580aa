package bench

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/workflows"
)

func TestWithMaxTargets(t *testing.T) {
	src, err := workflows.FS.ReadFile(DefaultWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	if got := withMaxTargets(src, 100); string(got) != string(src) {
		t.Errorf("a small estate changed the playbook")
	}
	got := string(withMaxTargets(src, 2000))
	if !strings.Contains(got, "\nversion: 1\nmax_targets: 2000\n") || strings.Count(got, "max_targets") != strings.Count(string(src), "max_targets")+1 {
		t.Errorf("max_targets not added once after version:\n%s", got[:min(len(got), 400)])
	}
	own := []byte("version: 1\nmax_targets: 10\nname: x\n")
	if string(withMaxTargets(own, 2000)) != string(own) {
		t.Errorf("a playbook's own max_targets was overridden")
	}
}
