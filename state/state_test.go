package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/frameflow/frameflow/internal/pgtest"
	"github.com/frameflow/frameflow/state"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGSTATE_HELPER") == "legacy" {
		legacyHelper()
		return
	}
	if os.Getenv("PGSTATE_HELPER") != "" {
		helper()
		return
	}
	os.Exit(pgtest.Main(m))
}

// backends gives each test the local backend and a PostgreSQL one (a fresh
// database); two handles on the same state stand for two processes.
type opener func(t *testing.T) state.Backend

func backends(t *testing.T) map[string]func() opener {
	return map[string]func() opener{
		"local": func() opener {
			dir := t.TempDir()
			return func(t *testing.T) state.Backend {
				b, err := state.OpenLocal(dir, true)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
		},
		"postgres": func() opener {
			dsn := pgtest.DSN(t)
			return func(t *testing.T) state.Backend {
				b, err := state.Open(context.Background(), dsn, state.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				dsnMu.Lock()
				dsns[b] = dsn
				dsnMu.Unlock()
				return b
			}
		},
	}
}

func mutation(path string, sends *atomic.Int32, check func()) *engine.Mutation {
	return &engine.Mutation{Type: "sandbox.clone", Method: "POST", Path: path, Resources: []string{"account:a1"},
		Send: func(context.Context) (any, error) {
			if check != nil {
				check()
			}
			sends.Add(1)
			return map[string]any{"id": 7, "kind": "clone_pool"}, nil
		}}
}

// A run written by one process is resumed by another: nothing done is
// sent again, the history shows both attempts with host and user.
func TestResumeFromAnotherProcess(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			a := open(t).Journals(journal.Options{})
			r, err := a.Create(journal.RunMeta{Workflow: "qa-rollout", File: "w.yaml", Mode: "run"})
			if err != nil {
				t.Fatal(err)
			}
			var sends atomic.Int32
			if _, err := r.Do(context.Background(), "rollout.clone[a1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil)); err != nil {
				t.Fatal(err)
			}
			// The second process cannot take the run while the first drives it.
			b := open(t).Journals(journal.Options{})
			var le *journal.LockedError
			if _, err := b.Resume(r.ID()); !errors.As(err, &le) {
				t.Fatalf("resume while held: %v, want a LockedError", err)
			}
			_ = r.Close() // crashed: no Finish
			r2, err := b.Resume(r.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			res, err := r2.Do(context.Background(), "rollout.clone[a1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil))
			if err != nil {
				t.Fatal(err)
			}
			if sends.Load() != 1 || fmt.Sprint(res) != "map[id:7 kind:clone_pool]" {
				t.Fatalf("sends=%d res=%v, want one send and the recorded result", sends.Load(), res)
			}
			if runs, err := open(t).Journals(journal.Options{}).List(); err != nil || len(runs) != 1 || runs[0].Status != journal.StatusRunning {
				t.Fatalf("List while another process drives the run: %+v %v, want it running", runs, err)
			}
			if err := r2.Finish(journal.StatusSucceeded); err != nil {
				t.Fatal(err)
			}
			runs, err := b.List()
			if err != nil || len(runs) != 1 {
				t.Fatalf("List: %v %v", runs, err)
			}
			lines, err := b.Lines(r.ID())
			if err != nil || bytes.Count(lines, []byte("\n")) != 6 || !bytes.HasPrefix(lines, []byte(`{"t":"header"`)) {
				t.Fatalf("Lines: %v (%d lines)\n%s", err, bytes.Count(lines, []byte("\n")), lines)
			}
			got := runs[0]
			if got.Status != journal.StatusSucceeded || len(got.Attempts) != 2 || got.Attempts[0].Status != journal.StatusCrashed ||
				got.Attempts[1].Host == "" || got.Attempts[1].User == "" {
				t.Fatalf("summary %+v", got)
			}
		})
	}
}

// The intent is committed before the request is sent: another connection
// sees it from inside Send.
func TestIntentCommittedBeforeSend(t *testing.T) {
	dsn := pgtest.DSN(t)
	b, err := state.Open(context.Background(), dsn, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := b.Journals(journal.Options{}).Create(journal.RunMeta{Workflow: "w", File: "w.yaml", Mode: "run"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var sends atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("s[a%d]#1", i)
			_, err := r.Do(context.Background(), key, mutation(fmt.Sprintf("/accounts/a%d/pools/p/clone", i), &sends, func() {
				var n int
				// Another session, so only committed rows count.
				c, err := pgx.Connect(context.Background(), dsn)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close(context.Background())
				if err := c.QueryRow(context.Background(), `SELECT count(*) FROM journal_records WHERE kind = 'intent' AND mut_key = $1`, key).Scan(&n); err != nil || n != 1 {
					t.Errorf("%s: %d committed intents before sending (%v), want 1", key, n, err)
				}
			}))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if sends.Load() != 20 {
		t.Fatalf("%d sends", sends.Load())
	}
}

// Two runs sharing a state (a database, or one state directory): the
// second, sending the same request after the first did, adopts the first's
// result instead of sending it again; on another estate it sends.
func TestSameRequestFromTwoRunsIsSentOnce(t *testing.T) {
	defer func(d time.Duration) { journal.HeartbeatEvery = d }(journal.HeartbeatEvery)
	journal.HeartbeatEvery = 25 * time.Millisecond
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			o := journal.Options{Estate: "https://frame.example/v1"}
			meta := journal.RunMeta{Workflow: "w", File: "w.yaml", Mode: "run"}
			ra, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			defer ra.Close()
			rb, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			defer rb.Close()
			var sends atomic.Int32
			if _, err := ra.Do(context.Background(), "rollout.clone[a1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil)); err != nil {
				t.Fatal(err)
			}
			res, err := rb.Do(context.Background(), "other.clone[Store-1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil))
			if err != nil || sends.Load() != 1 || fmt.Sprint(res) != "map[id:7 kind:clone_pool]" {
				t.Fatalf("second run: res=%v err=%v sends=%d, want the first run's result and one send", res, err, sends.Load())
			}
			// A third run, on another estate: the same path is another request.
			rc, err := open(t).Journals(journal.Options{Estate: "https://other.example/v1"}).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := rc.Do(context.Background(), "rollout.clone[a1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil)); err != nil || sends.Load() != 2 {
				t.Fatalf("other estate: %v, sends=%d", err, sends.Load())
			}
			// A run started after the others ended sends again: what was
			// done before a run started is not its work.
			_ = ra.Close()
			_ = rb.Close()
			_ = rc.Close()
			time.Sleep(150 * time.Millisecond) // longer than the heartbeat's slack
			rd, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if _, err := rd.Do(context.Background(), "rollout.clone[a1]#1", mutation("/accounts/a1/pools/p/clone", &sends, nil)); err != nil || sends.Load() != 3 {
				t.Fatalf("later run: %v, sends=%d", err, sends.Load())
			}
		})
	}
}

// A resource held by one run makes another wait, saying who holds it, and
// give up after its timeout with a clear error.
func TestLockWaitShowsHolderAndTimesOut(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			a, b := open(t), open(t)
			rel, err := a.Locks("run-A", time.Minute).Acquire(context.Background(), []string{"account:Store-012"}, func(string, string) {})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			_, err = b.Locks("run-B", 500*time.Millisecond).Acquire(context.Background(), []string{"account:Store-012"}, func(k, h string) {
				msgs = append(msgs, "waiting for "+h+", which holds "+k)
			})
			var te *state.LockTimeoutError
			if !errors.As(err, &te) || te.Key != "account:Store-012" {
				t.Fatalf("err %v, want a LockTimeoutError", err)
			}
			host, _ := os.Hostname()
			want := "waiting for run run-A on host " + host
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) || !strings.HasSuffix(msgs[0], "which holds account:Store-012") {
				t.Fatalf("messages %q, want one starting %q", msgs, want)
			}
			rel()
			rel2, err := b.Locks("run-B", time.Second).Acquire(context.Background(), []string{"account:Store-012"}, func(string, string) {})
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			rel2()
		})
	}
}

// Two runs locking the same accounts in opposite orders never deadlock:
// every run takes its keys sorted.
func TestNoDeadlockBetweenRunsLockingInOppositeOrders(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			a, b := open(t), open(t)
			keys := []string{"account:1", "account:2", "account:3", "pool:9"}
			rev := []string{"pool:9", "account:3", "account:2", "account:1"}
			var wg sync.WaitGroup
			var done atomic.Int32
			for i, be := range []state.Backend{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					order := keys
					if i == 1 {
						order = rev
					}
					l := be.Locks(fmt.Sprintf("run-%d", i), 20*time.Second)
					for range 15 {
						rel, err := l.Acquire(context.Background(), order, func(string, string) {})
						if err != nil {
							t.Error(err)
							return
						}
						time.Sleep(time.Millisecond)
						rel()
						done.Add(1)
					}
				}()
			}
			wg.Wait()
			if done.Load() != 30 {
				t.Fatalf("%d of 30 acquisitions", done.Load())
			}
		})
	}
}

// Several processes opening a fresh database at once migrate it once.
func TestConcurrentMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := state.Open(context.Background(), dsn, state.Options{})
			if err == nil {
				err = b.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM frameflow_schema_version`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d versions recorded (%v), want 1", n, err)
	}
}

// A process killed with -9 while holding a lock releases it: at once on
// this machine (its socket closes); docs/state.md gives the bound for a
// vanished machine.
func TestKilledHolderReleasesLocks(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			b := open(t)
			spec := b.Describe()
			if name == "postgres" {
				spec = dsnOf(t, b)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PGSTATE_HELPER=1", "PGSTATE_SPEC="+spec)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 6)
			if _, err := out.Read(buf); err != nil || string(buf) != "locked" {
				_ = cmd.Process.Kill()
				t.Fatalf("helper: %q %v", buf, err)
			}
			_ = cmd.Process.Signal(os.Kill)
			_ = cmd.Wait()
			start := time.Now()
			rel, err := b.Locks("run-B", 10*time.Second).Acquire(context.Background(), []string{"account:Store-012"}, func(string, string) {})
			if err != nil {
				t.Fatalf("lock of a killed process not released: %v", err)
			}
			rel()
			t.Logf("lock taken %s after the holder was killed", time.Since(start).Round(time.Millisecond))
		})
	}
}

var dsnMu sync.Mutex
var dsns = map[state.Backend]string{}

func dsnOf(t *testing.T, b state.Backend) string {
	dsnMu.Lock()
	defer dsnMu.Unlock()
	if d, ok := dsns[b]; ok {
		return d
	}
	t.Fatal("no DSN recorded")
	return ""
}

// helper takes a lock and waits to be killed.
func helper() {
	spec := os.Getenv("PGSTATE_SPEC")
	o := state.Options{}
	if !state.IsPostgres(spec) {
		o.LocalDir, spec = spec, "local"
	}
	b, err := state.Open(context.Background(), spec, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := b.Locks("run-killed", time.Second).Acquire(context.Background(), []string{"account:Store-012"}, func(string, string) {}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Print("locked")
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://ci:s3cret@db.example:5432/frameflow?sslmode=require": "postgres://ci:xxxxx@db.example:5432/frameflow?sslmode=require",
		"postgres://db.example/frameflow?password=s3cret":                "postgres://db.example/frameflow?password=xxxxx",
		"host=db user=ci password=s3cret dbname=f":                       "host=db user=ci password=xxxxx dbname=f",
	} {
		if got := state.RedactDSN(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := state.Open(context.Background(), "postgres://ci:s3cret@127.0.0.1:1/x?connect_timeout=2", state.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v shows the password or is nil", err)
	}
}

// Whose work a resumed run adopts: a run that ran alongside one of its
// attempts (killed together, finished by the other), yes; a run that ran
// entirely while it lay crashed, no (that was another rollout).
func TestResumedRunAdoptsOnlyWhatOverlapped(t *testing.T) {
	defer func(d time.Duration) { journal.HeartbeatEvery = d }(journal.HeartbeatEvery)
	journal.HeartbeatEvery = 25 * time.Millisecond
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			o := journal.Options{Estate: "https://frame.example/v1"}
			meta := journal.RunMeta{Workflow: "w", File: "w.yaml", Mode: "run"}
			var sends atomic.Int32
			do := func(r *journal.Run, acc string) {
				t.Helper()
				if _, err := r.Do(context.Background(), "rollout.clone["+acc+"]#1", mutation("/accounts/"+acc+"/pools/p/clone", &sends, nil)); err != nil {
					t.Fatal(err)
				}
			}
			// A and B run together; A dies, B clones a1; A is resumed later.
			a, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			b, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			do(a, "a0") // A is still at work after B started
			do(b, "a1")
			_ = a.Close() // killed
			_ = b.Finish(journal.StatusSucceeded)
			_ = b.Close()
			time.Sleep(150 * time.Millisecond) // longer than the heartbeat's slack
			// X starts and dies; Y runs start to end while X is dead.
			x, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			_ = x.Close()
			time.Sleep(150 * time.Millisecond)
			y, err := open(t).Journals(o).Create(meta)
			if err != nil {
				t.Fatal(err)
			}
			do(y, "a2")
			_ = y.Finish(journal.StatusSucceeded)
			_ = y.Close()
			time.Sleep(150 * time.Millisecond)
			sent := sends.Load()
			// A run's attempt is known to run from its first record to its
			// last: one that had written nothing since B started would not
			// count as running alongside it (docs/state.md).
			ar, err := open(t).Journals(o).Resume(a.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer ar.Close()
			do(ar, "a1")
			if sends.Load() != sent {
				t.Fatalf("A's resume sent a1 again: B did it while A's first attempt ran")
			}
			xr, err := open(t).Journals(o).Resume(x.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer xr.Close()
			do(xr, "a2")
			if sends.Load() != sent+1 {
				t.Fatalf("X's resume did not send a2: Y ran only while X lay crashed")
			}
		})
	}
}

// A write-once document (an approval decision) written by many writers in
// the same instant, through separate handles as separate processes would:
// exactly one is told it was created, every other one gets the winner's
// body, and the stored document is the winner's.
func TestPutNewHasExactlyOneWinner(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			const writers = 16
			handles := make([]state.Backend, writers)
			for i := range handles {
				handles[i] = open(t)
			}
			ctx := context.Background()
			var wg sync.WaitGroup
			start := make(chan struct{})
			created := make([]bool, writers)
			existing := make([][]byte, writers)
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					created[i], existing[i], errs[i] = handles[i].PutNew(ctx, "approvals/run-1/gate.json", fmt.Appendf(nil, `{"by":"writer-%d"}`, i))
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for i := range writers {
				if errs[i] != nil {
					t.Fatalf("writer %d: %v", i, errs[i])
				}
				if created[i] {
					if winner >= 0 {
						t.Fatalf("writers %d and %d were both told they created the document", winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatal("no writer created the document")
			}
			want := fmt.Sprintf(`{"by":"writer-%d"}`, winner)
			for i := range writers {
				if i != winner && string(existing[i]) != want {
					t.Errorf("writer %d lost but was shown %q, not the winner's %q", i, existing[i], want)
				}
			}
			got, err := handles[0].Get(ctx, "approvals/run-1/gate.json")
			if err != nil || string(got) != want {
				t.Fatalf("stored document = %q, %v; want the winner's %q", got, err, want)
			}
			// Once written, it stays: a later writer loses too.
			if ok, old, err := handles[1].PutNew(ctx, "approvals/run-1/gate.json", []byte(`{"by":"late"}`)); err != nil || ok || string(old) != want {
				t.Fatalf("late PutNew = %v, %q, %v; want false and the winner's body", ok, old, err)
			}
		})
	}
}

// A run waiting at an approval step is listed as waiting by another
// process (PostgreSQL's summaries read only some kinds of record: the
// waits must be among them), and no longer once the wait ended.
func TestWaitingApprovalListedByAnotherProcess(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := mk()
			r, err := open(t).Journals(journal.Options{}).Create(journal.RunMeta{Workflow: "canary-rollout", File: "w.yaml", Mode: "run"})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			deadline := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
			if err := r.Waiting("gate", "canary fine?", deadline); err != nil {
				t.Fatal(err)
			}
			other := open(t).Journals(journal.Options{})
			runs, err := other.List()
			if err != nil || len(runs) != 1 || runs[0].Status != journal.StatusRunning || len(runs[0].Waiting) != 1 ||
				runs[0].Waiting[0].Key != "gate" || runs[0].Waiting[0].Message != "canary fine?" || !runs[0].Waiting[0].Deadline.Equal(deadline) {
				t.Fatalf("List from another process: %+v %v", runs, err)
			}
			if one, err := other.Summary(r.ID()); err != nil || one.Status != journal.StatusRunning || len(one.Waiting) != 1 || one.Waiting[0].Key != "gate" {
				t.Fatalf("Summary from another process: %+v %v", one, err)
			}
			if err := r.Waited("gate"); err != nil {
				t.Fatal(err)
			}
			if runs, err := other.List(); err != nil || len(runs[0].Waiting) != 0 {
				t.Fatalf("after the wait: %+v %v", runs, err)
			}
		})
	}
}

// DeleteOlder removes exactly the documents under the folder written more
// than the age ago: newer ones, other folders, a folder whose name merely
// begins the same, and a name that only a LIKE pattern's "_" would match,
// all stay.
func TestDeleteOlderRemovesOnlyExpiredDocumentsOfTheFolder(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk()(t)
			ctx := context.Background()
			put := func(doc string) {
				if err := b.Put(ctx, doc, []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			old := []string{"serve/plans/a.json", "serve/plans/b.json", "serve/x/old.json"}
			keep := []string{"serve/applies/old.json", "serve/plans-2/old.json", "serve/planz/old.json", "serve/x/new.json"}
			for _, d := range append(old, keep[:3]...) {
				put(d)
			}
			put("serve/plans/new.json")
			time.Sleep(400 * time.Millisecond)
			put("serve/plans/new.json") // rewritten: young again
			put("serve/x/new.json")
			n, err := b.DeleteOlder(ctx, "serve/plans/", 200*time.Millisecond)
			if err != nil || n != 2 {
				t.Fatalf("DeleteOlder serve/plans/ = %d, %v; want 2", n, err)
			}
			// "_" is a LIKE wildcard: serve/plan_/ must not reach serve/planz/.
			if n, err := b.DeleteOlder(ctx, "serve/plan_/", 200*time.Millisecond); err != nil || n != 0 {
				t.Fatalf("DeleteOlder serve/plan_/ = %d, %v; want 0", n, err)
			}
			if n, err := b.DeleteOlder(ctx, "serve/x/", 200*time.Millisecond); err != nil || n != 1 {
				t.Fatalf("DeleteOlder serve/x/ = %d, %v; want 1", n, err)
			}
			for _, d := range append(keep, "serve/plans/new.json") {
				if body, err := b.Get(ctx, d); err != nil || body == nil {
					t.Errorf("%s was deleted (%v)", d, err)
				}
			}
			for _, d := range old {
				if body, err := b.Get(ctx, d); err != nil || body != nil {
					t.Errorf("%s is still there (%v)", d, err)
				}
			}
			// A folder never written is no error; a bad one is.
			if n, err := b.DeleteOlder(ctx, "nothing/here/", time.Second); err != nil || n != 0 {
				t.Errorf("an empty folder: %d, %v", n, err)
			}
			for _, bad := range []string{"serve/plans", "../x/", "/"} {
				if _, err := b.DeleteOlder(ctx, bad, time.Second); err == nil {
					t.Errorf("folder %q was accepted", bad)
				}
			}
		})
	}
}
