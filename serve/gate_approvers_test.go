package serve

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The run page shows, on each gate, who may approve: the gate's approvers,
// or that it names none. A user who is not among them sees why there is
// no Approve button instead of one that would be refused.
func TestGateShowsWhoMayApprove(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{LocalUser: "alice"})
	gate := func(approvers ...string) *RunDetail {
		return &RunDetail{RunSummary: RunSummary{ID: "run-a", Status: "running", Attempts: 1,
			Waiting: []Gate{{Step: "gate", Message: "ok?", Since: time.Now(), Deadline: time.Now().Add(time.Hour), Approve: "frameflow approve run-a gate", Approvers: approvers}}}}
	}
	c := client(t)
	get := func() string {
		resp, err := c.Get(ts.URL + "/runs/run-a")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	cases := []struct {
		name      string
		approvers []string
		want      []string
		form      bool
	}{
		{"none named", nil, []string{"Who may approve: anyone signed in to this page or with access to the state backend; this gate names no approvers."}, true},
		{"alice among them", []string{"bob", "alice"}, []string{"Who may approve: <strong>bob, alice</strong>"}, true},
		{"alice not among them", []string{"bob", "carol@ops-1"}, []string{"Who may approve: <strong>bob, carol@ops-1</strong>", "You (alice (loopback)) are not among this gate's approvers"}, false},
	}
	for _, c := range cases {
		fb.mu.Lock()
		fb.runs["run-a"] = gate(c.approvers...)
		fb.mu.Unlock()
		page := get()
		for _, w := range c.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: the page lacks %q:\n%s", c.name, w, page)
			}
		}
		if got := strings.Contains(page, `value="approve"`); got != c.form {
			t.Errorf("%s: Approve offered: %v, want %v", c.name, got, c.form)
		}
	}
}
