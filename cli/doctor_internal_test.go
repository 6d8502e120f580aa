package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/state"
)

// TestReadJournals: tasks are taken from results whose intent names the
// mutation type; a result found by reconciliation without a task id, a
// torn last line and old results are skipped; newest first, at most per
// operation.
func TestReadJournals(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	if err := os.MkdirAll(runs, 0o700); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"t":"header","time":"2026-11-29T10:00:00Z","run_id":"r1"}`,
		`{"t":"intent","time":"2026-11-29T10:00:01Z","key":"clone[a]#1","type":"sandbox.clone","method":"POST","path":"/accounts/a/pools/p/clone"}`,
		`{"t":"result","time":"2026-11-29T10:00:02Z","key":"clone[a]#1","result":{"id":"t1","account_id":"a","kind":"clone_pool"},"via":"send"}`,
		`{"t":"intent","time":"2026-11-29T10:00:03Z","key":"clone[b]#1","type":"sandbox.clone"}`,
		`{"t":"result","time":"2026-11-29T10:00:04Z","key":"clone[b]#1","result":{"audit_trail_id":"x","account_id":"b"},"via":"reconcile"}`,
		`{"t":"intent","time":"2026-11-29T10:00:05Z","key":"publish[a]#1","type":"sandbox.publish"}`,
		`{"t":"result","time":"2026-11-29T10:00:06Z","key":"publish[a]#1","result":{"id":"t2","account_id":"a"}}`,
		`{"t":"intent","time":"2026-11-29T10:00:07Z","key":"el[a]#1","type":"elasticity.set"}`,
		`{"t":"result","time":"2026-11-29T10:00:08Z","key":"el[a]#1","result":{"id":"t3","account_id":"a"}}`,
		`{"t":"intent","time":"2026-10-01T10:00:00Z","key":"clone[old]#1","type":"sandbox.clone"}`,
		`{"t":"result","time":"2026-10-01T10:00:01Z","key":"clone[old]#1","result":{"id":"t0","account_id":"old"}}`,
		`{"t":"result","time":"2026-11-29T10:00:09Z","key":"clone[a]#2","resu`,
	}
	if err := os.WriteFile(filepath.Join(runs, "r1.jsonl"), []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	local, err := state.OpenLocal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	runsOf := func(dir string) *journal.Store {
		b, err := state.OpenLocal(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		return b.Journals(journal.Options{})
	}
	got := readJournals(local.Journals(journal.Options{}), since, 20)
	var ids []string
	for _, j := range got {
		ids = append(ids, j.Op+":"+j.ID)
	}
	if want := "elasticity.set:t3 publish:t2 clone:t1"; strings.Join(ids, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(ids, " "), want)
	}
	if got := readJournals(runsOf(dir), since, 0); len(got) != 0 {
		t.Errorf("per 0: %v", got)
	}
	if got := readJournals(runsOf(filepath.Join(dir, "none")), since, 20); got == nil || len(got) != 0 {
		t.Errorf("no journals: %#v, want an empty, non-nil list", got)
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"short", []string{"short"}},
		{"aaaa bbbb cccc", []string{"aaaa", "bbbb", "cccc"}},
		{"aaaaaaaaaa", []string{"aaaaa", "aaaaa"}},
	} {
		if got := wrap(tc.in, 5); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
