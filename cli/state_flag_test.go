package cli_test

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// A --state (or $FRAMEFLOW_STATE) that names no backend is one clear usage
// error, naming what was given and the accepted forms, before anything is
// read or sent; it is not folded into the plan's doctor note.
func TestBadStateValueIsOneClearErrorAndNothingSent(t *testing.T) {
	s, env := simEnv(t, sim.Options{})
	cases := []struct {
		name, from string
		env        map[string]string
		args       []string
	}{
		{"flag on plan", `--state "BADVALUE"`, nil, []string{"plan", rolloutFile, "--state", "BADVALUE"}},
		{"flag on run", `--state "file:/tmp/x"`, nil, []string{"run", rolloutFile, "--yes", "--state", "file:/tmp/x"}},
		{"half a URL", `--state "postgres:/db"`, nil, []string{"runs", "--state", "postgres:/db"}},
		{"environment", `$FRAMEFLOW_STATE "BADVALUE"`, map[string]string{"FRAMEFLOW_STATE": "BADVALUE"}, []string{"plan", rolloutFile}},
		{"password kept out", `--state "pg://u:xxxxx@h/db"`, nil, []string{"plan", rolloutFile, "--state", "pg://u:hunter2@h/db"}},
	}
	for _, c := range cases {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range c.env {
			e[k] = v
		}
		before := len(s.Requests())
		r := frameflow(t, e, c.args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", c.name, r.code, r)
		}
		lines := strings.Split(strings.TrimSpace(r.err), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: "+c.from+": not a state backend; accepted: \"local\"") ||
			!strings.Contains(lines[0], "postgres://") {
			t.Errorf("%s: want one error line naming %s and the accepted forms:\n%s", c.name, c.from, r)
		}
		if strings.Contains(r.err+r.out, "hunter2") || strings.Contains(r.err, "doctor") || r.out != "" {
			t.Errorf("%s: the error leaks the password, or comes with a plan or doctor note:\n%s", c.name, r)
		}
		if n := len(s.Requests()) - before; n != 0 {
			t.Errorf("%s: %d requests were sent", c.name, n)
		}
	}
	// A bad value left in the environment does not stop commands that
	// never open the state backend.
	e := map[string]string{"FRAMEFLOW_STATE": "BADVALUE"}
	if r := frameflow(t, e, "validate", rolloutFile); r.code != 0 {
		t.Errorf("validate with a bad $FRAMEFLOW_STATE:\n%s", r)
	}
}

// A well-formed DSN whose server does not answer still lets a plan be
// made (it sends only GETs), with one note line saying the state backend
// failed, its password redacted.
func TestUnreachableStateIsOneNoteLineOnAPlan(t *testing.T) {
	_, env := simEnv(t, sim.Options{})
	r := frameflow(t, env, "plan", rolloutFile, "--state", "postgres://u:hunter2@127.0.0.1:1/db")
	if r.code != 0 {
		t.Fatalf("plan: %s", r)
	}
	note := strings.SplitN(r.err, "\n", 2)[0]
	if !strings.HasPrefix(note, "note: the `frameflow doctor` findings could not be read from the state backend") ||
		!strings.Contains(note, "postgres://u:xxxxx@127.0.0.1:1/db") || !strings.Contains(note, "connection refused") {
		t.Errorf("the first line is not the whole note:\n%s", r)
	}
	if strings.Contains(r.err, "hunter2") || strings.Contains(r.err, "\t") {
		t.Errorf("the note leaks the password or keeps the driver's layout:\n%s", r.err)
	}
}
