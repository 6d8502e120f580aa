package serve

import (
	"io"
	"net/http"
	"net/url"
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

// A run that stopped only at a rejected gate offers no resume (it would
// stop there again) and says why; one with other failures still does.
func TestRejectedRunOffersNoResume(t *testing.T) {
	_, fb, ts := newTestServer(t, Options{LocalUser: "alice"})
	c := client(t)
	for _, only := range []bool{true, false} {
		fb.mu.Lock()
		fb.runs["run-r"] = &RunDetail{RunSummary: RunSummary{ID: "run-r", Status: "failed", Attempts: 1}, Rejected: []string{"gate, by ann"}, OnlyRejected: only}
		fb.mu.Unlock()
		resp, err := c.Get(ts.URL + "/runs/run-r")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		hidden := strings.Contains(page, `id="resume-form" class="stack" hidden`)
		if !strings.Contains(page, "Stopped at a rejected approval: gate, by ann. The decision stands") || hidden != only {
			t.Errorf("only rejected %v: resume hidden %v\n%s", only, hidden, page)
		}
	}
	// A forged resume of the rejected run is sent back to its page, as
	// for a run that cannot be resumed.
	fb.mu.Lock()
	fb.runs["run-r"].OnlyRejected = true
	fb.mu.Unlock()
	resp, err := c.PostForm(ts.URL+"/runs/run-r/resume", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/runs/run-r" {
		t.Errorf("resume of a run stopped only by a rejection: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
