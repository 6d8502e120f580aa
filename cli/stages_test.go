package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// renameStages answers task status reads with other stage names than the
// simulator's, as another implementation of the API might: in_progress,
// done and failed become pending, done and failed as given (written into
// the JSON as they are, so escapes must be JSON-escaped).
func renameStages(pending, done, failed string) func(http.Handler) http.Handler {
	return func(s http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/task/") {
				s.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body = bytes.ReplaceAll(body, []byte(`"stage":"in_progress"`), []byte(`"stage":"`+pending+`"`))
			body = bytes.ReplaceAll(body, []byte(`"stage":"done"`), []byte(`"stage":"`+done+`"`))
			body = bytes.ReplaceAll(body, []byte(`"stage":"failed"`), []byte(`"stage":"`+failed+`"`))
			for k, v := range rec.Header() {
				if k != "Content-Length" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

func progressMessages(t *testing.T, out string) []string {
	t.Helper()
	var msgs []string
	for _, l := range strings.Split(out, "\n") {
		var ev struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "step_progress" {
			msgs = append(msgs, ev.Message)
		}
	}
	return msgs
}

// TestStagesOverHTTP: the real binary against a server that writes DONE
// for done and an undocumented stage while tasks run: the rollout
// succeeds, and the undocumented stage is in the step_progress events,
// sanitized (the live view shows the same message).
func TestStagesOverHTTP(t *testing.T) {
	rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(2), TaskDuration: 1500 * time.Millisecond},
		renameStages(`Provisioning\u001b[2J`, "DONE", "failed")) // JSON-escaped ESC
	res := rig.exec("run", rolloutFile, "--yes", "--output", "json")
	if res.code != 0 {
		t.Fatalf("rollout with DONE: %s", res)
	}
	found := false
	for _, m := range progressMessages(t, res.out) {
		if strings.Contains(m, "\u001b") {
			t.Errorf("an escape reached the events: %q", m)
		}
		if strings.Contains(m, `unknown stage "Provisioning?[2J" (not a documented stage; still polling)`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no step_progress event names the undocumented stage:\n%s", tail(res.out, 3000))
	}
}

// TestFailureStageNamesOverHTTP: a task that ends in "Cancelled" (or
// "error") fails its step, and the run, instead of polling to the timeout.
func TestFailureStageNamesOverHTTP(t *testing.T) {
	for _, name := range []string{"Cancelled", "error"} {
		rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(1), TaskDuration: 100 * time.Millisecond, TaskFailRate: 1},
			renameStages("in_progress", "done", name))
		start := time.Now()
		res := rig.exec("run", rolloutFile, "--yes", "--output", "json")
		if res.code != 1 || !strings.Contains(res.out, "failed") {
			t.Errorf("%s: %s", name, res)
		}
		if el := time.Since(start); el > time.Minute {
			t.Errorf("%s: the run took %s: the failure was not recognised", name, el)
		}
	}
}
