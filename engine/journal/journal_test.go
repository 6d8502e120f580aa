package journal_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
)

// outcomeUnknown stands in for frame.OutcomeUnknownError: the journal learns
// about it only through Options.IsOutcomeUnknown.
type outcomeUnknown struct{ msg string }

func (e *outcomeUnknown) Error() string { return e.msg }

func isUnknown(err error) bool { var u *outcomeUnknown; return errors.As(err, &u) }

func testOptions() journal.Options {
	return journal.Options{IsOutcomeUnknown: isUnknown}
}

func openStore(t *testing.T, dir string, o journal.Options) *journal.Store {
	t.Helper()
	s, err := journal.OpenWith(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func create(t *testing.T, s *journal.Store) *journal.Run {
	t.Helper()
	r, err := s.Create(journal.RunMeta{Workflow: "qa-rollout", File: "workflows/qa-rollout.yaml", FileHash: "sha256:abc", Mode: "run"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func resume(t *testing.T, s *journal.Store, id string) *journal.Run {
	t.Helper()
	r, err := s.Resume(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// mutation is a clone whose Send and Reconcile count their calls.
type mutation struct {
	sends, reconciles atomic.Int32
	sendErr           []error // returned by successive sends, then success
	reconcile         func() (any, bool, error)
}

func (mu *mutation) build() *engine.Mutation {
	m := &engine.Mutation{Type: "sandbox.clone", Method: "POST", Path: "/accounts/store-1/pools/qa-pool/clone",
		Body: map[string]any{"target_account_id": "store-1"}, Resources: []string{"account:store-1"}}
	m.Send = func(ctx context.Context) (any, error) {
		n := int(mu.sends.Add(1))
		if n <= len(mu.sendErr) && mu.sendErr[n-1] != nil {
			return nil, mu.sendErr[n-1]
		}
		return map[string]any{"id": fmt.Sprintf("task-%d", n), "stage": "queued"}, nil
	}
	if mu.reconcile != nil {
		m.Reconcile = func(ctx context.Context) (any, bool, error) {
			mu.reconciles.Add(1)
			return mu.reconcile()
		}
	}
	return m
}

// records reads a journal file as generic records, failing on any bad line.
func records(t *testing.T, s *journal.Store, id string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir(), id+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad journal line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func types(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["t"].(string))
	}
	return out
}

const key = "clone[Store-1]#1"

// crashDuringSend leaves a journal as a process killed mid-request would:
// the intent is on disk, the result is not.
func crashDuringSend(t *testing.T, s *journal.Store) string {
	t.Helper()
	r, err := s.Create(journal.RunMeta{Workflow: "qa-rollout", FileHash: "sha256:abc"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), r.ID()+".jsonl")
	var snapshot []byte
	m := (&mutation{}).build()
	m.Send = func(ctx context.Context) (any, error) {
		snapshot, err = os.ReadFile(path) // what the disk held while the request was out
		return map[string]any{"id": "task-1"}, err
	}
	if _, err := r.Do(context.Background(), key, m); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, snapshot, 0o600); err != nil {
		t.Fatal(err)
	}
	return r.ID()
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	fi, err := os.Stat(filepath.Join(dir, "runs"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runs dir: %v %v", fi, err)
	}
	r := create(t, s)
	if !regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{4}$`).MatchString(r.ID()) {
		t.Errorf("id %q is not time-sortable", r.ID())
	}
	if r.Attempt() != 1 || r.Meta().Workflow != "qa-rollout" || r.Meta().Started.IsZero() || r.PreviousStatus() != "" {
		t.Errorf("attempt %d meta %+v prev %q", r.Attempt(), r.Meta(), r.PreviousStatus())
	}
	if got := types(records(t, s, r.ID())); strings.Join(got, ",") != "header,attempt" {
		t.Errorf("records %v", got)
	}
	if _, err := s.Create(journal.RunMeta{RunID: r.ID()}); err == nil {
		t.Error("a second run with the same id was created")
	}
	for _, bad := range []string{"../escape", "a/b", "", ".hidden"} {
		if _, err := s.Resume(bad); err == nil {
			t.Errorf("Resume(%q) accepted", bad)
		}
	}
}

func TestDoWritesIntentBeforeSendAndReplaysResult(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	mu := &mutation{}
	m := mu.build()
	send := m.Send
	m.Send = func(ctx context.Context) (any, error) {
		// The intent must be on disk before the request leaves.
		recs := records(t, s, r.ID())
		last := recs[len(recs)-1]
		if last["t"] != "intent" || last["key"] != key || last["method"] != "POST" || last["path"] != "/accounts/store-1/pools/qa-pool/clone" {
			t.Errorf("before send, last record is %v", last)
		}
		return send(ctx)
	}
	got, err := r.Do(context.Background(), key, m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "task-1", "stage": "queued"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v", got)
	}
	// Same key again in this process: the recorded result, nothing sent.
	again, err := r.Do(context.Background(), key, mu.build())
	if err != nil || fmt.Sprint(again) != fmt.Sprint(want) || mu.sends.Load() != 1 {
		t.Fatalf("again: %v %v sends=%d", again, err, mu.sends.Load())
	}
	if err := r.Finish(journal.StatusInterrupted); err != nil {
		t.Fatal(err)
	}
	r.Close()

	// And after a resume.
	r2 := resume(t, s, r.ID())
	if r2.Attempt() != 2 || r2.PreviousStatus() != journal.StatusInterrupted {
		t.Errorf("attempt %d prev %q", r2.Attempt(), r2.PreviousStatus())
	}
	mu2 := &mutation{reconcile: func() (any, bool, error) { return nil, false, nil }}
	res, err := r2.Do(context.Background(), key, mu2.build())
	if err != nil || fmt.Sprint(res) != fmt.Sprint(want) || mu2.sends.Load() != 0 || mu2.reconciles.Load() != 0 {
		t.Fatalf("resumed: %v %v sends=%d reconciles=%d", res, err, mu2.sends.Load(), mu2.reconciles.Load())
	}
	// The next mutation of the step is new and is sent.
	if _, err := r2.Do(context.Background(), "clone[Store-1]#2", mu2.build()); err != nil || mu2.sends.Load() != 1 {
		t.Fatalf("second mutation: %v sends=%d", err, mu2.sends.Load())
	}
}

func TestResumeIntentWithoutResult(t *testing.T) {
	task := map[string]any{"id": "task-77", "stage": "done"}
	cases := []struct {
		name      string
		reconcile func() (any, bool, error) // nil: the mutation has no Reconcile
		assume    bool
		wantSends int32
		wantErr   bool
		wantVia   string // the not_sent or result record's via
	}{
		{name: "found", reconcile: func() (any, bool, error) { return task, true, nil }, wantVia: "reconcile"},
		{name: "proven not sent", reconcile: func() (any, bool, error) { return nil, false, nil }, wantSends: 1, wantVia: "reconcile"},
		{name: "cannot prove", reconcile: func() (any, bool, error) { return nil, false, errors.New("503 from publish tasks") }, wantErr: true},
		{name: "no reconcile", wantErr: true},
		{name: "cannot prove, assume not sent", reconcile: func() (any, bool, error) { return nil, false, errors.New("timeout") }, assume: true, wantSends: 1, wantVia: "assumed"},
		{name: "no reconcile, assume not sent", assume: true, wantSends: 1, wantVia: "assumed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			id := crashDuringSend(t, openStore(t, dir, testOptions()))
			o := testOptions()
			o.AssumeNotSent = tc.assume
			s := openStore(t, dir, o)
			r := resume(t, s, id)
			if p := r.Pending(); len(p) != 1 || p[0].Key != key || p[0].Method != "POST" || p[0].Unknown {
				t.Fatalf("pending %+v", p)
			}
			mu := &mutation{reconcile: tc.reconcile}
			res, err := r.Do(context.Background(), key, mu.build())
			if mu.sends.Load() != tc.wantSends {
				t.Errorf("sends = %d, want %d", mu.sends.Load(), tc.wantSends)
			}
			if tc.reconcile != nil && mu.reconciles.Load() != 1 {
				t.Errorf("reconciles = %d, want 1", mu.reconciles.Load())
			}
			if tc.wantErr {
				var ue *journal.UnresolvedError
				if !errors.As(err, &ue) || ue.Key != key || ue.Method != "POST" || ue.Path != "/accounts/store-1/pools/qa-pool/clone" {
					t.Fatalf("err = %v, want UnresolvedError", err)
				}
				if !strings.Contains(err.Error(), "--mark '"+key+"=not-sent'") || !strings.Contains(err.Error(), "outcome_unknown") {
					t.Errorf("message does not guide the admin: %v", err)
				}
				if len(r.Pending()) != 1 {
					t.Error("an unresolved mutation is no longer pending")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "found" && fmt.Sprint(res) != fmt.Sprint(task) {
				t.Errorf("result %v", res)
			}
			if len(r.Pending()) != 0 {
				t.Error("still pending")
			}
			recs := records(t, s, id)
			var vias []string
			for _, rec := range recs {
				// The decision: a not_sent record, or a result found by reconcile.
				if v, _ := rec["via"].(string); rec["t"] == "not_sent" || rec["t"] == "result" && v == "reconcile" {
					vias = append(vias, v)
				}
			}
			if len(vias) != 1 || vias[0] != tc.wantVia {
				t.Errorf("decision records %v, want [%s]; journal %v", vias, tc.wantVia, types(recs))
			}
			// Whatever was decided, a later resume sends nothing more.
			r.Close()
			r3 := resume(t, s, id)
			mu3 := &mutation{reconcile: func() (any, bool, error) { return nil, false, nil }}
			if _, err := r3.Do(context.Background(), key, mu3.build()); err != nil || mu3.sends.Load()+mu3.reconciles.Load() != 0 {
				t.Errorf("third attempt: %v sends=%d reconciles=%d", err, mu3.sends.Load(), mu3.reconciles.Load())
			}
		})
	}
}

func TestOutcomeUnknownDuringSend(t *testing.T) {
	dropped := &outcomeUnknown{"POST /accounts/store-1/pools/qa-pool/clone: connection reset"}

	t.Run("reconcile finds it", func(t *testing.T) {
		s := openStore(t, t.TempDir(), testOptions())
		r := create(t, s)
		mu := &mutation{sendErr: []error{dropped}, reconcile: func() (any, bool, error) { return map[string]any{"id": "task-9"}, true, nil }}
		res, err := r.Do(context.Background(), key, mu.build())
		if err != nil || fmt.Sprint(res) != "map[id:task-9]" || mu.sends.Load() != 1 {
			t.Fatalf("%v %v sends=%d", res, err, mu.sends.Load())
		}
		if got := strings.Join(types(records(t, s, r.ID()))[2:], ","); got != "intent,unknown,result" {
			t.Errorf("records %s", got)
		}
	})

	t.Run("reconcile proves absence: sent once more", func(t *testing.T) {
		s := openStore(t, t.TempDir(), testOptions())
		r := create(t, s)
		mu := &mutation{sendErr: []error{dropped}, reconcile: func() (any, bool, error) { return nil, false, nil }}
		res, err := r.Do(context.Background(), key, mu.build())
		if err != nil || fmt.Sprint(res) != "map[id:task-2 stage:queued]" || mu.sends.Load() != 2 {
			t.Fatalf("%v %v sends=%d", res, err, mu.sends.Load())
		}
		if got := strings.Join(types(records(t, s, r.ID()))[2:], ","); got != "intent,unknown,not_sent,intent,result" {
			t.Errorf("records %s", got)
		}
	})

	// Both answers lost and both proven absent (a settings change whose
	// task failed): this attempt stops with an AnswersLostError that the
	// retry policy may retry (it is not an unknown outcome), and the key
	// stays sendable.
	t.Run("absent twice: stops, sendable again", func(t *testing.T) {
		s := openStore(t, t.TempDir(), testOptions())
		r := create(t, s)
		mu := &mutation{sendErr: []error{dropped, dropped}, reconcile: func() (any, bool, error) { return nil, false, nil }}
		_, err := r.Do(context.Background(), key, mu.build())
		var le *journal.AnswersLostError
		var ue *journal.UnresolvedError
		if !errors.As(err, &le) || errors.As(err, &ue) || mu.sends.Load() != 2 {
			t.Fatalf("err = %v sends=%d, want an AnswersLostError after 2 sends", err, mu.sends.Load())
		}
		if !strings.HasPrefix(err.Error(), "answers_lost: mutation "+key) {
			t.Errorf("message %q", err)
		}
		if got := strings.Join(types(records(t, s, r.ID()))[2:], ","); got != "intent,unknown,not_sent,intent,unknown,not_sent" {
			t.Errorf("records %s", got)
		}
		if res, err := r.Do(context.Background(), key, mu.build()); err != nil || mu.sends.Load() != 3 {
			t.Fatalf("the retry: %v %v sends=%d", res, err, mu.sends.Load())
		}
	})

	t.Run("cannot prove: not sent again, not even on resume", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir, testOptions())
		r := create(t, s)
		cannot := func() (any, bool, error) { return nil, false, errors.New("tasks list unavailable") }
		mu := &mutation{sendErr: []error{dropped}, reconcile: cannot}
		_, err := r.Do(context.Background(), key, mu.build())
		var ue *journal.UnresolvedError
		if !errors.As(err, &ue) || !isUnknown(err) {
			t.Fatalf("err = %v, want an UnresolvedError wrapping the send's error", err)
		}
		// The engine's retry of the step: the same key is not sent again.
		if _, err := r.Do(context.Background(), key, mu.build()); !errors.As(err, &ue) {
			t.Fatalf("retry: %v", err)
		}
		r.Close()
		r2 := resume(t, s, r.ID())
		if p := r2.Pending(); len(p) != 1 || !p[0].Unknown {
			t.Fatalf("pending %+v", p)
		}
		if _, err := r2.Do(context.Background(), key, mu.build()); !errors.As(err, &ue) {
			t.Fatalf("resume: %v", err)
		}
		if mu.sends.Load() != 1 {
			t.Errorf("sends = %d, want 1", mu.sends.Load())
		}
	})

	t.Run("no classifier: every error counts as possibly sent", func(t *testing.T) {
		s := openStore(t, t.TempDir(), journal.Options{})
		r := create(t, s)
		mu := &mutation{sendErr: []error{errors.New("400 bad request")}}
		_, err := r.Do(context.Background(), key, mu.build())
		var ue *journal.UnresolvedError
		if !errors.As(err, &ue) {
			t.Fatalf("err = %v", err)
		}
		if _, err := r.Do(context.Background(), key, mu.build()); err == nil || mu.sends.Load() != 1 {
			t.Fatalf("resent: %v sends=%d", err, mu.sends.Load())
		}
	})
}

func TestRefusedMutationMayBeRetried(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r := create(t, s)
	refused := errors.New("POST /accounts/store-1/pools/qa-pool/clone: 409 Conflict")
	mu := &mutation{sendErr: []error{refused, refused}}
	if _, err := r.Do(context.Background(), key, mu.build()); !errors.Is(err, refused) {
		t.Fatalf("err = %v", err)
	}
	// The engine retries the step (attempt 2): same key, sent again.
	if _, err := r.Do(context.Background(), key, mu.build()); !errors.Is(err, refused) {
		t.Fatalf("err = %v", err)
	}
	r.Finish(journal.StatusFailed)
	r.Close()
	// A resume of the failed run sends it again too, and succeeds.
	r2 := resume(t, s, r.ID())
	res, err := r2.Do(context.Background(), key, mu.build())
	if err != nil || fmt.Sprint(res) != "map[id:task-3 stage:queued]" || mu.sends.Load() != 3 {
		t.Fatalf("%v %v sends=%d", res, err, mu.sends.Load())
	}
	if got := strings.Join(types(records(t, s, r.ID())), ","); got != "header,attempt,intent,failed,intent,failed,finish,attempt,intent,result" {
		t.Errorf("records %s", got)
	}
}

func TestDoRefusesBadInputAndDoubleFlight(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	ctx := context.Background()
	if _, err := r.Do(ctx, "", (&mutation{}).build()); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := r.Do(ctx, key, &engine.Mutation{Method: "POST", Path: "/x"}); err == nil {
		t.Error("mutation without Send accepted")
	}
	if _, err := r.Do(ctx, key, &engine.Mutation{Path: "/x", Send: func(context.Context) (any, error) { t.Error("sent"); return nil, nil }}); err == nil {
		t.Error("mutation without method accepted")
	}

	// A second Do of a key whose first is still in flight is refused.
	release := make(chan struct{})
	inFlight := make(chan struct{})
	m := (&mutation{}).build()
	m.Send = func(context.Context) (any, error) { close(inFlight); <-release; return "ok", nil }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = r.Do(ctx, key, m) }()
	<-inFlight
	mu := &mutation{}
	if _, err := r.Do(ctx, key, mu.build()); err == nil || mu.sends.Load() != 0 {
		t.Errorf("concurrent Do of one key: %v sends=%d", err, mu.sends.Load())
	}
	close(release)
	wg.Wait()

	// A cancelled context sends nothing and journals nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	mu2 := &mutation{}
	before := len(records(t, s, r.ID()))
	if _, err := r.Do(cctx, "other#1", mu2.build()); !errors.Is(err, context.Canceled) || mu2.sends.Load() != 0 || len(records(t, s, r.ID())) != before {
		t.Errorf("cancelled: %v sends=%d", err, mu2.sends.Load())
	}
	r.Close()
	if _, err := r.Do(ctx, "late#1", mu2.build()); err == nil || mu2.sends.Load() != 0 {
		t.Error("Do after Close sent")
	}
}

func TestResumeRefusesAChangedMutation(t *testing.T) {
	dir := t.TempDir()
	id := crashDuringSend(t, openStore(t, dir, testOptions()))
	s := openStore(t, dir, testOptions())
	r := resume(t, s, id)
	mu := &mutation{reconcile: func() (any, bool, error) { return nil, false, nil }}
	m := mu.build()
	m.Path = "/accounts/store-2/pools/qa-pool/clone"
	_, err := r.Do(context.Background(), key, m)
	if err == nil || !strings.Contains(err.Error(), "store-2") || mu.sends.Load()+mu.reconciles.Load() != 0 {
		t.Fatalf("err %v sends=%d reconciles=%d", err, mu.sends.Load(), mu.reconciles.Load())
	}
}

func TestReconcileSeesTheJournaledWitness(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r, err := s.Create(journal.RunMeta{Workflow: "w"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), r.ID()+".jsonl")
	var snapshot []byte
	m := (&mutation{}).build()
	m.Witness = json.RawMessage(`{"tasks":["t1"]}`)
	m.Send = func(context.Context) (any, error) { snapshot, _ = os.ReadFile(path); return "x", nil }
	if _, err := r.Do(context.Background(), key, m); err != nil {
		t.Fatal(err)
	}
	r.Close()
	os.WriteFile(path, snapshot, 0o600)

	r2 := resume(t, s, r.ID())
	m2 := (&mutation{}).build()
	m2.Witness = json.RawMessage(`{"tasks":["t1","t2"]}`) // read after the crash
	var seen string
	m2.Reconcile = func(context.Context) (any, bool, error) { seen = string(m2.Witness); return nil, false, nil }
	if _, err := r2.Do(context.Background(), key, m2); err != nil {
		t.Fatal(err)
	}
	if seen != `{"tasks":["t1"]}` {
		t.Errorf("Reconcile saw witness %s", seen)
	}
	recs := records(t, s, r.ID())
	if w := recs[len(recs)-2]; w["t"] != "intent" || fmt.Sprint(w["witness"]) != "map[tasks:[t1 t2]]" {
		t.Errorf("the re-send's intent should carry the fresh witness: %v", w)
	}
}

func TestStepResults(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r := create(t, s)
	started := time.Now()
	results := []engine.StepResult{
		{Step: "targets", Index: -1, Status: "succeeded", Attempts: 1, Started: started, Duration: time.Second,
			Outputs: map[string]any{"count": 2, "accounts": []any{map[string]any{"id": "a1"}, map[string]any{"id": "a2"}}}},
		{Step: "rollout.clone", Item: "Store-1", ItemKey: "a1", Index: 0, Status: "succeeded", Attempts: 2, Outputs: map[string]any{"task": map[string]any{"id": "t1"}}},
		{Step: "rollout.clone", Item: "Store-2", ItemKey: "a2", Index: 1, Status: "failed", Attempts: 3, Error: "409 Conflict"},
		{Step: "rollout.elasticity", Item: "Store-1", ItemKey: "a1", Index: 0, Status: "unchanged"},
		{Step: "notify", Index: -1, Status: "skipped"},
	}
	for _, res := range results {
		if err := r.Record(res); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Record(engine.StepResult{Status: "succeeded"}); err == nil {
		t.Error("result without a step accepted")
	}
	check := func(r *journal.Run) {
		t.Helper()
		st, out, ok := r.Lookup("targets", "")
		if !ok || st != "succeeded" || fmt.Sprint(out) != "map[accounts:[map[id:a1] map[id:a2]] count:2]" {
			t.Errorf("targets: %v %v %v", st, out, ok)
		}
		out["count"] = 99 // callers may change what they get
		if _, out, _ := r.Lookup("targets", ""); out["count"] != float64(2) {
			t.Errorf("Lookup shares its map: %v", out["count"])
		}
		if st, out, ok := r.Lookup("rollout.clone", "a1"); !ok || st != "succeeded" || fmt.Sprint(out) != "map[task:map[id:t1]]" {
			t.Errorf("clone a1: %v %v %v", st, out, ok)
		}
		if _, _, ok := r.Lookup("rollout.clone", "a2"); ok {
			t.Error("a failed item counts as finished")
		}
		if st, _, ok := r.Lookup("rollout.elasticity", "a1"); !ok || st != "unchanged" {
			t.Errorf("unchanged: %v %v", st, ok)
		}
		if st, _, ok := r.Lookup("notify", ""); !ok || st != "skipped" {
			t.Errorf("skipped: %v %v", st, ok)
		}
		if _, _, ok := r.Lookup("publish", "a1"); ok {
			t.Error("unknown step found")
		}
	}
	check(r)
	r.Finish(journal.StatusFailed)
	r.Close()
	r2 := resume(t, s, r.ID())
	check(r2)
	// The failed item runs again and succeeds.
	r2.Record(engine.StepResult{Step: "rollout.clone", Item: "Store-2", ItemKey: "a2", Index: 1, Status: "succeeded", Outputs: map[string]any{"task": map[string]any{"id": "t2"}}})
	if st, out, ok := r2.Lookup("rollout.clone", "a2"); !ok || st != "succeeded" || fmt.Sprint(out) != "map[task:map[id:t2]]" {
		t.Errorf("rerun: %v %v %v", st, out, ok)
	}
	// A failed record of the same item later on does not erase the finished one.
	r2.Record(engine.StepResult{Step: "rollout.clone", Item: "Store-2", ItemKey: "a2", Index: 1, Status: "failed"})
	if _, _, ok := r2.Lookup("rollout.clone", "a2"); !ok {
		t.Error("a later failure hid the finished execution")
	}
	if err := r2.Finish("done"); err == nil {
		t.Error("invalid status accepted")
	}
	if err := r2.Finish(journal.StatusSucceeded); err != nil {
		t.Fatal(err)
	}
	if err := r2.Finish(journal.StatusSucceeded); err == nil {
		t.Error("finished twice")
	}
	// Failed steps' outputs are not journaled; finished ones once.
	b, _ := os.ReadFile(filepath.Join(s.Dir(), r.ID()+".jsonl"))
	if n := strings.Count(string(b), `"accounts":[`); n != 1 {
		t.Errorf("targets' outputs written %d times", n)
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, testOptions())
	r := create(t, s)
	r.Record(engine.StepResult{Step: "targets", Index: -1, Status: "succeeded", Outputs: map[string]any{"count": 1}})
	r.Close()
	path := filepath.Join(s.Dir(), r.ID()+".jsonl")
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	// A crash in the middle of writing an intent.
	f.WriteString(`{"t":"intent","time":"2026-11-24T01:30:00Z","key":"clone[Store-1]#1","method":"PO`)
	f.Close()

	r2 := resume(t, s, r.ID())
	if _, _, ok := r2.Lookup("targets", ""); !ok {
		t.Error("records before the torn line lost")
	}
	if len(r2.Pending()) != 0 {
		t.Error("the torn intent counts")
	}
	// The torn intent was never acted upon: its key is sent without reconcile.
	mu := &mutation{reconcile: func() (any, bool, error) { return nil, true, nil }}
	if _, err := r2.Do(context.Background(), key, mu.build()); err != nil || mu.sends.Load() != 1 || mu.reconciles.Load() != 0 {
		t.Fatalf("%v sends=%d reconciles=%d", err, mu.sends.Load(), mu.reconciles.Load())
	}
	r2.Close()
	// Every line is whole again, and the run still loads.
	if got := strings.Join(types(records(t, s, r.ID())), ","); got != "header,attempt,step,attempt,intent,result" {
		t.Errorf("records %s", got)
	}
	if runs, err := s.List(); err != nil || runs[0].Status != journal.StatusCrashed || len(runs[0].Attempts) != 2 {
		t.Errorf("list: %+v %v", runs, err)
	}

	// Damage before the last line is not a torn write: refuse, do not guess.
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	lines[2] = "{garbage\n"
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	if _, err := s.Resume(r.ID()); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("damaged journal: %v", err)
	}
	if runs, _ := s.List(); runs[0].Status != journal.StatusUnreadable {
		t.Errorf("list of damaged run: %+v", runs[0])
	}
}

func TestLockContentionInProcess(t *testing.T) {
	dir := t.TempDir()
	a := openStore(t, dir, testOptions())
	b := openStore(t, dir, testOptions())
	r := create(t, a)
	_, err := b.Resume(r.ID())
	var le *journal.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || le.RunID != r.ID() {
		t.Fatalf("err = %v", err)
	}
	if want := fmt.Sprintf("run %s is being driven by pid %d", r.ID(), os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if runs, _ := b.List(); runs[0].Status != journal.StatusRunning {
		t.Errorf("a held run lists as %q", runs[0].Status)
	}
	r.Close()
	r2 := resume(t, b, r.ID())
	if _, err := a.Resume(r.ID()); !errors.As(err, &le) {
		t.Fatalf("second resume: %v", err)
	}
	r2.Close()
	resume(t, a, r.ID())
}

func TestSecretsNeverReachDisk(t *testing.T) {
	const secret = "s3cr3t-value"
	o := testOptions()
	o.Redact = func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") }
	s := openStore(t, t.TempDir(), o)
	r, err := s.Create(journal.RunMeta{Workflow: "onboard", Inputs: map[string]any{"password": secret, "nested": []any{"x-" + secret}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := (&mutation{}).build()
	m.Body = map[string]any{"admin_password": secret, secret: 1}
	m.Query = map[string]string{"token": secret}
	m.Send = func(context.Context) (any, error) { return map[string]any{"echo": secret}, nil }
	res, err := r.Do(context.Background(), key, m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprint(res), secret) {
		t.Errorf("Do returned the secret: %v", res)
	}
	m2 := (&mutation{sendErr: []error{errors.New("refused: bad password " + secret)}}).build()
	r.Do(context.Background(), "other#1", m2)
	r.Record(engine.StepResult{Step: "s", Index: -1, Status: "succeeded", Error: secret, Outputs: map[string]any{"p": secret}})
	// Even a secret inside a key or an item key: stored redacted, still found.
	secretKey := "clone[" + secret + "]#1"
	mu := &mutation{}
	if _, err := r.Do(context.Background(), secretKey, mu.build()); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Do(context.Background(), secretKey, mu.build()); err != nil || res == nil || mu.sends.Load() != 1 {
		t.Errorf("replay under a redacted key: %v %v sends=%d", res, err, mu.sends.Load())
	}
	r.Record(engine.StepResult{Step: "clone", ItemKey: secret, Index: 0, Status: "succeeded"})
	if _, _, ok := r.Lookup("clone", secret); !ok {
		t.Error("Lookup under a redacted item key")
	}
	r.Finish(journal.StatusSucceeded)
	b, err := os.ReadFile(filepath.Join(s.Dir(), r.ID()+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Fatalf("secret on disk:\n%s", b)
	}
	if !bytes.Contains(b, []byte("[redacted]")) {
		t.Error("nothing was redacted")
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(`{"t":`)) {
			t.Errorf("line does not start with its type: %s", line)
		}
	}
}

func TestListAndLast(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	if _, err := s.Last(); err == nil {
		t.Error("Last of an empty store")
	}
	t0 := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	mk := func(wf string, at time.Time) *journal.Run {
		r, err := s.Create(journal.RunMeta{Workflow: wf, Started: at})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := mk("qa-rollout", t0)
	first.Finish(journal.StatusFailed)
	first.Close()
	second := mk("capacity", t0.Add(time.Hour))
	second.Close() // never finished: crashed
	third := mk("nightly", t0.Add(30*time.Minute))
	third.Finish(journal.StatusSucceeded)
	third.Close()
	// Resume the first and finish it.
	r := resume(t, s, first.ID())
	r.Finish(journal.StatusSucceeded)
	r.Close()

	runs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, run := range runs {
		order = append(order, run.Workflow+":"+run.Status)
	}
	if got := strings.Join(order, " "); got != "capacity:crashed nightly:succeeded qa-rollout:succeeded" {
		t.Errorf("order %s", got)
	}
	q := runs[2]
	if q.ID != first.ID() || !q.Started.Equal(t0) || q.Finished.IsZero() || len(q.Attempts) != 2 ||
		q.Attempts[0].Status != "failed" || q.Attempts[1].Status != "succeeded" || q.Attempts[1].N != 2 ||
		q.Attempts[0].PID != os.Getpid() || q.Attempts[0].Finished.IsZero() {
		t.Errorf("qa-rollout summary %+v", q)
	}
	if !runs[0].Finished.IsZero() || runs[0].Attempts[0].Status != journal.StatusCrashed {
		t.Errorf("crashed summary %+v", runs[0])
	}
	if last, err := s.Last(); err != nil || last != second.ID() {
		t.Errorf("Last = %q %v, want %q", last, err, second.ID())
	}
}

func TestConcurrentMutations(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	var wg sync.WaitGroup
	var sends atomic.Int32
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := (&mutation{}).build()
			m.Send = func(context.Context) (any, error) { sends.Add(1); return i, nil }
			if _, err := r.Do(context.Background(), fmt.Sprintf("clone[Store-%d]#1", i), m); err != nil {
				t.Error(err)
			}
			r.Record(engine.StepResult{Step: "clone", ItemKey: fmt.Sprint(i), Index: i, Status: "succeeded"})
		}()
	}
	wg.Wait()
	r.Close()
	if got := len(records(t, s, r.ID())); got != 2+20*3 || sends.Load() != 20 {
		t.Errorf("%d records, %d sends", got, sends.Load())
	}
}

// BenchmarkDo measures one journaled mutation (intent + result). With fsync
// it is bounded by the disk's sync latency; that is the price of "never a
// duplicate", paid twice per request that itself takes far longer.
func BenchmarkDo(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			o := testOptions()
			o.NoSync = noSync
			s, err := journal.OpenWith(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			r, err := s.Create(journal.RunMeta{Workflow: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			m := (&mutation{}).build()
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := r.Do(ctx, fmt.Sprintf("clone[Store-%d]#1", i), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Under group commit many writers share an fsync; each must still find its
// intent in the file before its request leaves, and every line must be
// whole (no two writers' bytes interleaved).
func TestConcurrentIntentsAreOnDiskBeforeSend(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	path := filepath.Join(s.Dir(), r.ID()+".jsonl")
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("clone[Store-%d]#1", i)
			m := (&mutation{}).build()
			m.Send = func(context.Context) (any, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, err
				}
				if !bytes.Contains(b, []byte(`{"t":"intent",`)) || !bytes.Contains(b, []byte(`"key":"`+k+`"`)) {
					t.Errorf("%s sent before its intent was written", k)
				}
				return map[string]any{"id": k}, nil
			}
			res, err := r.Do(context.Background(), k, m)
			if err != nil {
				t.Error(err)
				return
			}
			if res.(map[string]any)["id"] != k {
				t.Errorf("%s got %v", k, res)
			}
			if err := r.Record(engine.StepResult{Step: "clone", ItemKey: fmt.Sprint(i), Index: i, Status: "succeeded", Outputs: map[string]any{"i": i}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.Finish(journal.StatusSucceeded); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish(journal.StatusFailed); err == nil {
		t.Error("a second Finish was accepted")
	}
	r.Close()
	recs := records(t, s, r.ID()) // fails on any torn or interleaved line
	if len(recs) != 2+n*3+1 {
		t.Errorf("%d records, want %d", len(recs), 2+n*3+1)
	}
	// A resume sees every result and step as this process did.
	r2 := resume(t, s, r.ID())
	for i := range n {
		if _, outs, ok := r2.Lookup("clone", fmt.Sprint(i)); !ok || outs["i"] != float64(i) {
			t.Fatalf("step %d after resume: %v %v", i, outs, ok)
		}
	}
	m := (&mutation{}).build()
	m.Send = func(context.Context) (any, error) { t.Error("replayed mutation sent again"); return nil, nil }
	if res, err := r2.Do(context.Background(), "clone[Store-7]#1", m); err != nil || res.(map[string]any)["id"] != "clone[Store-7]#1" {
		t.Errorf("replay after resume: %v %v", res, err)
	}
}

var _ engine.MutationFailer = (*journal.Run)(nil)

// A result whose task then failed proves nothing changed: MutationFailed
// makes the key sendable again, in this process and after a resume, and the
// re-send's result is what is replayed afterwards.
func TestMutationFailedMakesTheKeySendableAgain(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	r := create(t, s)
	mu := &mutation{}
	ctx := context.Background()
	if _, err := r.Do(ctx, key, mu.build()); err != nil {
		t.Fatal(err)
	}
	if err := r.MutationFailed(key, "task task-1 ended in stage failed"); err != nil {
		t.Fatal(err)
	}
	res, err := r.Do(ctx, key, mu.build())
	if err != nil || mu.sends.Load() != 2 || res.(map[string]any)["id"] != "task-2" {
		t.Fatalf("after MutationFailed: %v %v, %d sends; want task-2 sent", res, err, mu.sends.Load())
	}
	if res, _ := r.Do(ctx, key, mu.build()); mu.sends.Load() != 2 || res.(map[string]any)["id"] != "task-2" {
		t.Errorf("the re-send's result is not replayed: %v, %d sends", res, mu.sends.Load())
	}

	// The same through a resume: the failed record is read back from disk.
	if err := r.MutationFailed(key, "task task-2 ended in stage failed"); err != nil {
		t.Fatal(err)
	}
	r.Finish(journal.StatusFailed)
	r.Close()
	recs := records(t, s, r.ID())
	want := "header attempt intent result failed intent result failed finish"
	if got := strings.Join(types(recs), " "); got != want {
		t.Errorf("records %s, want %s", got, want)
	}
	if last := recs[len(recs)-2]; last["via"] != "task_failed" || last["error"] != "task task-2 ended in stage failed" {
		t.Errorf("failed record %v", last)
	}
	r2 := resume(t, s, r.ID())
	if len(r2.Pending()) != 0 {
		t.Errorf("pending after a failed task: %v", r2.Pending())
	}
	if res, err := r2.Do(ctx, key, mu.build()); err != nil || mu.sends.Load() != 3 || res.(map[string]any)["id"] != "task-3" {
		t.Fatalf("resume after MutationFailed: %v %v, %d sends; want task-3 sent", res, err, mu.sends.Load())
	}
}

// MutationFailed changes only a key answered with a result: one never sent,
// already failed or pending a reconcile is left as it is.
func TestMutationFailedWritesNothingWithoutAResult(t *testing.T) {
	s := openStore(t, t.TempDir(), testOptions())
	id := crashDuringSend(t, s) // key: intent without result
	r := resume(t, s, id)
	refused := &mutation{sendErr: []error{errors.New("400 bad request")}}
	if _, err := r.Do(context.Background(), "other#1", refused.build()); err == nil {
		t.Fatal("refused send succeeded")
	}
	for _, k := range []string{key, "other#1", "never#1"} {
		if err := r.MutationFailed(k, "task failed"); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	r.Close()
	if got := strings.Join(types(records(t, s, id)), " "); got != "header attempt intent attempt intent failed" {
		t.Errorf("records %s", got)
	}
	r2 := resume(t, s, id)
	if p := r2.Pending(); len(p) != 1 || p[0].Key != key {
		t.Errorf("pending %v: the intent without result must still be reconciled", p)
	}
}

// objectResult is a result that gives its JSON round trip itself, as
// frame.Task does; fromObject marks what JSONObject returned.
type objectResult struct {
	ID   string `json:"id"`
	Note string `json:"note"`
}

func (o *objectResult) JSONObject() (map[string]any, bool) {
	return map[string]any{"id": o.ID, "note": o.Note, "fromObject": true}, true
}

// Do answers a result's own JSON form only when it is what the journal
// recorded; a redacted result comes back as recorded.
func TestDoAnswersTheResultsJSONObjectOnlyWhenRecordedAsIs(t *testing.T) {
	const secret = "s3cr3t-value"
	o := testOptions()
	o.Redact = func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") }
	s := openStore(t, t.TempDir(), o)
	r := create(t, s)
	for i, note := range []string{"plain", "holds " + secret} {
		m := (&mutation{}).build()
		m.Path = fmt.Sprintf("/accounts/store-%d/pools/qa-pool/clone", i)
		m.Send = func(ctx context.Context) (any, error) { return &objectResult{ID: "t1", Note: note}, nil }
		got, err := r.Do(context.Background(), fmt.Sprintf("k%d", i), m)
		if err != nil {
			t.Fatal(err)
		}
		g := got.(map[string]any)
		if i == 0 && g["fromObject"] != true {
			t.Errorf("recorded as is: got %v, want the result's JSONObject", g)
		}
		if i == 1 && (g["fromObject"] != nil || g["note"] != "holds [redacted]") {
			t.Errorf("redacted: got %v, want the journal's redacted copy", g)
		}
	}
}
