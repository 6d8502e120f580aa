package state

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"os/user"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/engine/journal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock classes (the first int4 of pg_try_advisory_lock(int4,
// int4)); the second is a 32-bit FNV hash of the name. Two names sharing a
// hash share a lock: that only serialises more than needed.
const (
	lockClassRun      = 0x66660001 // who drives run ID
	lockClassResource = 0x66660002 // account:ID, pool:ID
	lockClassMigrate  = 0x66660003 // schema migration
)

// Server-side TCP keepalives of every session: a runner whose machine
// vanishes (no FIN, no RST) has its session, and so its advisory locks,
// ended by the server within idle + interval*count = 10 + 5*3 = 25 s. A
// process that dies on a machine that stays up closes its socket at once
// and its locks go with it.
var keepalives = map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}

// Postgres is the PostgreSQL backend. Journal lines go through a pool; all
// locks (run locks and resource locks) are session advisory locks held on
// one dedicated connection, the lock session, so that they end with the
// process however it ends. Every journal write checks, in the same
// statement, that the lock session is still alive: an intent is never
// committed (so nothing is sent) by a process that lost its locks.
type Postgres struct {
	dsn  string // redacted
	pool *pgxpool.Pool

	qmu     sync.Mutex // guards queue and leading
	queue   []*lockOp  // lock ops waiting for the next batch
	leading bool       // a caller is running batches

	lockMu     sync.Mutex // the lock session serves one batch at a time
	lockConn   *pgx.Conn
	lockPID    uint32
	lockSince  time.Time // the lock session's backend_start: pid reuse cannot fool the check
	host, user string
}

//go:embed migrations/*.sql
var migrations embed.FS

// OpenPostgres connects to dsn, migrates the schema and opens the lock
// session.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	red := RedactDSN(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("state %s: %s", red, scrub(err, dsn))
	}
	for k, v := range keepalives {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "frameflow"
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state %s: %s", red, scrub(err, dsn))
	}
	b := &Postgres{dsn: red, pool: pool}
	b.host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		b.user = u.Username
	}
	fail := func(err error) (*Postgres, error) {
		b.Close()
		return nil, fmt.Errorf("state %s: %s", red, scrub(err, dsn))
	}
	if err := migrate(ctx, pool); err != nil {
		return fail(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return fail(err)
	}
	b.lockConn = conn
	if err := conn.QueryRow(ctx, `SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&b.lockPID, &b.lockSince); err != nil {
		return fail(err)
	}
	return b, nil
}

// scrub keeps the DSN's password out of an error text.
func scrub(err error, dsn string) string {
	msg := err.Error()
	if p := DSNPassword(dsn); p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return oneLine(msg)
}

// oneLine folds a multi-line driver error (pgx lists each address it
// tried on its own tab-indented line, often the same one twice) into one
// line without repeats, fit for an error line or a plan note.
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(parts, l) {
			parts = append(parts, l)
		}
	}
	return strings.TrimSuffix(strings.Join(parts, " "), ":")
}

// migrate applies the embedded migrations newer than the database's
// version, in one transaction under an advisory lock: two processes
// starting at once apply them once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	latest := 0
	type mig struct {
		v   int
		sql string
	}
	var all []mig
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: no version number", f)
		}
		b, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		all = append(all, mig{v, string(b)})
		latest = max(latest, v)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockClassMigrate); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS frameflow_schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	cur := 0
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM frameflow_schema_version`).Scan(&cur); err != nil {
		return err
	}
	if cur > latest {
		return fmt.Errorf("the state database has schema version %d, newer than this frameflow knows (%d): upgrade frameflow", cur, latest)
	}
	for _, m := range all {
		if m.v <= cur {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %d: %w", m.v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO frameflow_schema_version (version) VALUES ($1)`, m.v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Describe is the DSN without its password.
func (b *Postgres) Describe() string { return b.dsn }

// Close ends the lock session (releasing every lock) and the pool.
func (b *Postgres) Close() error {
	b.lockMu.Lock()
	defer b.lockMu.Unlock()
	var err error
	if b.lockConn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = b.lockConn.Close(ctx)
		cancel()
		b.lockConn = nil
	}
	b.pool.Close()
	return err
}

func hash32(s string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int32(h.Sum32())
}

// lockOp is one lock or unlock queued for the lock session.
type lockOp struct {
	lock   bool
	class  int32
	name   string
	runID  string
	answer chan lockAnswer
}

type lockAnswer struct {
	ok     bool
	holder holderInfo
	err    error
}

// submit queues op and returns its answer. Ops queued while a batch runs
// go together in the next one (one round trip, two statements at most):
// 500 stores starting at once cost a handful of round trips, not 1,000.
// The caller that finds no batch under way runs the batches itself.
func (b *Postgres) submit(op *lockOp) lockAnswer {
	if op.answer == nil {
		op.answer = make(chan lockAnswer, 1)
	}
	b.qmu.Lock()
	b.queue = append(b.queue, op)
	if b.leading {
		b.qmu.Unlock()
		return <-op.answer
	}
	b.leading = true
	b.drainQueue()
	return <-op.answer
}

// drainQueue runs the queued batches until none is left, then gives up
// leading. Called with qmu held by the leader; returns with it released.
func (b *Postgres) drainQueue() {
	for len(b.queue) > 0 {
		batch := b.queue
		b.queue = nil
		b.qmu.Unlock()
		b.execute(batch)
		b.qmu.Lock()
	}
	b.leading = false
	b.qmu.Unlock()
}

// execute runs a batch of lock ops on the lock session: unlocks first (so
// a release and a new take of the same name in one batch both succeed),
// then tries, each recording the holder of what it took and reading the
// holder of what it did not.
func (b *Postgres) execute(ops []*lockOp) {
	b.lockMu.Lock()
	defer b.lockMu.Unlock()
	if b.lockConn == nil {
		answerLockOps(ops, errors.New("state: closed"))
		return
	}
	lb := splitLockOps(ops)
	answers, err := b.sendLockBatch(lb)
	if err != nil {
		answerLockOps(ops, fmt.Errorf("lock session: %w", err))
		return
	}
	for _, op := range ops {
		if !op.lock {
			op.answer <- lockAnswer{}
		}
	}
	for i, op := range lb.tries {
		op.answer <- answers[i]
	}
}

// answerLockOps gives every op of a batch the same error.
func answerLockOps(ops []*lockOp, err error) {
	for _, op := range ops {
		op.answer <- lockAnswer{err: err}
	}
}

// lockBatch is a batch of lock ops as the two queries' array arguments.
type lockBatch struct {
	unNames             []string
	unClasses, unHashes []int32
	names, runs         []string
	classes, hashes     []int32
	tries               []*lockOp // the ops taking a lock, in the order of names
}

func splitLockOps(ops []*lockOp) *lockBatch {
	lb := &lockBatch{}
	for _, op := range ops {
		if op.lock {
			lb.names, lb.runs = append(lb.names, op.name), append(lb.runs, op.runID)
			lb.classes, lb.hashes = append(lb.classes, op.class), append(lb.hashes, hash32(op.name))
			lb.tries = append(lb.tries, op)
		} else {
			lb.unNames, lb.unClasses, lb.unHashes = append(lb.unNames, op.name), append(lb.unClasses, op.class), append(lb.unHashes, hash32(op.name))
		}
	}
	return lb
}

// Unlocks, then deletes the holder rows of what this process released.
const unlockQuery = `WITH u AS (SELECT name, pg_advisory_unlock(c, h) AS ok FROM unnest($1::text[], $2::int4[], $3::int4[]) AS x(name, c, h))
			DELETE FROM lock_holders l USING u WHERE l.lock_key = u.name AND u.ok AND l.pid = $4 AND l.host = $5`

// Tries each lock, records the holder of what it took and reads the
// holder of what it did not, in the order asked.
const tryLockQuery = `WITH r AS (SELECT o, name, run, pg_try_advisory_lock(c, h) AS ok
				FROM unnest($1::text[], $2::text[], $3::int4[], $4::int4[]) WITH ORDINALITY AS x(name, run, c, h, o)),
			ins AS (INSERT INTO lock_holders (lock_key, run_id, host, pid, username, since)
				SELECT name, run, $5, $6, $7, now() FROM r WHERE ok
				ON CONFLICT (lock_key) DO UPDATE SET run_id = EXCLUDED.run_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
					username = EXCLUDED.username, since = EXCLUDED.since)
			SELECT r.ok, coalesce(h.run_id, ''), coalesce(h.host, ''), coalesce(h.pid, 0), coalesce(h.username, ''), coalesce(h.since, now())
			FROM r LEFT JOIN lock_holders h ON h.lock_key = r.name AND NOT r.ok ORDER BY r.o`

// sendLockBatch runs lb's unlocks and tries in one round trip and returns
// one answer per try.
func (b *Postgres) sendLockBatch(lb *lockBatch) ([]lockAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	batch := &pgx.Batch{}
	if len(lb.unNames) > 0 {
		batch.Queue(unlockQuery, lb.unNames, lb.unClasses, lb.unHashes, os.Getpid(), b.host)
	}
	if len(lb.names) > 0 {
		batch.Queue(tryLockQuery, lb.names, lb.runs, lb.classes, lb.hashes, b.host, os.Getpid(), b.user)
	}
	res := b.lockConn.SendBatch(ctx, batch)
	var err error
	if len(lb.unNames) > 0 {
		_, err = res.Exec()
	}
	answers := make([]lockAnswer, 0, len(lb.tries))
	if err == nil && len(lb.names) > 0 {
		answers, err = readLockAnswers(res, answers)
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err == nil && len(answers) != len(lb.tries) {
		err = fmt.Errorf("%d answers to %d locks", len(answers), len(lb.tries))
	}
	return answers, err
}

func readLockAnswers(res pgx.BatchResults, answers []lockAnswer) ([]lockAnswer, error) {
	rows, err := res.Query()
	for err == nil && rows.Next() {
		var a lockAnswer
		err = rows.Scan(&a.ok, &a.holder.RunID, &a.holder.Host, &a.holder.PID, &a.holder.User, &a.holder.Since)
		answers = append(answers, a)
	}
	if err == nil {
		err = rows.Err()
	}
	rows.Close()
	return answers, err
}

// tryLock takes an advisory lock on the lock session without waiting; it
// returns the holder when another session has it.
func (b *Postgres) tryLock(_ context.Context, class int32, name, runID string) (bool, holderInfo, error) {
	a := b.submit(&lockOp{lock: true, class: class, name: name, runID: runID})
	if a.err != nil {
		return false, holderInfo{}, fmt.Errorf("lock %s: %w", name, a.err)
	}
	return a.ok, a.holder, nil
}

func (b *Postgres) unlock(class int32, name string) error {
	return b.submit(&lockOp{class: class, name: name}).err
}

// unlockLater queues an unlock without waiting for it: a step that ended
// need not wait a round trip to let its dependants start. Queue order
// keeps a later take of the same name after it.
func (b *Postgres) unlockLater(class int32, name string) {
	op := &lockOp{class: class, name: name, answer: make(chan lockAnswer, 1)}
	b.qmu.Lock()
	b.queue = append(b.queue, op)
	if b.leading {
		b.qmu.Unlock()
		return
	}
	b.leading = true
	b.qmu.Unlock()
	go func() {
		b.qmu.Lock()
		b.drainQueue()
	}()
}

// Get reads a document.
func (b *Postgres) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkDocName(name); err != nil {
		return nil, err
	}
	var body []byte
	err := b.pool.QueryRow(ctx, `SELECT body FROM documents WHERE name = $1`, name).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return body, err
}

// Put writes a document (committed when Put returns).
func (b *Postgres) Put(ctx context.Context, name string, body []byte) error {
	if err := checkDocName(name); err != nil {
		return err
	}
	_, err := b.pool.Exec(ctx, `INSERT INTO documents (name, body) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, updated = now()`, name, body)
	return err
}

// DeleteOlder deletes the documents under folder whose last write
// (updated, set by every Put) is more than age ago, in one statement. The
// age is measured on the database's clock, the one that wrote updated:
// a runner whose clock runs ahead deletes nothing early.
func (b *Postgres) DeleteOlder(ctx context.Context, folder string, age time.Duration) (int, error) {
	if err := checkFolder(folder); err != nil {
		return 0, err
	}
	// left() rather than LIKE: "_" in a name is no wildcard.
	tag, err := b.pool.Exec(ctx, `DELETE FROM documents WHERE left(name, length($1)) = $1 AND updated < now() - $2 * interval '1 microsecond'`, folder, age.Microseconds())
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// PutNew inserts a document unless one of that name exists. The primary
// key decides between concurrent writers: ON CONFLICT DO NOTHING inserts
// for exactly one of them, and the others read the winner's row.
func (b *Postgres) PutNew(ctx context.Context, name string, body []byte) (bool, []byte, error) {
	if err := checkDocName(name); err != nil {
		return false, nil, err
	}
	tag, err := b.pool.Exec(ctx, `INSERT INTO documents (name, body) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, body)
	if err != nil {
		return false, nil, err
	}
	if tag.RowsAffected() == 1 {
		return true, nil, nil
	}
	existing, err := b.Get(ctx, name)
	return false, existing, err
}

// Locks are session advisory locks on the lock session, polled while
// another run holds them.
func (b *Postgres) Locks(runID string, timeout time.Duration) engine.ResourceLocker {
	return &pgLocker{b: b, runID: runID, timeout: timeout, poll: 100 * time.Millisecond}
}

type pgLocker struct {
	b       *Postgres
	runID   string
	timeout time.Duration
	poll    time.Duration
}

func (l *pgLocker) Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (func(), error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var held []string
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			l.b.unlockLater(lockClassResource, held[i])
		}
	}
	for _, k := range keys {
		deadline := time.Now().Add(l.timeout)
		last := ""
		for {
			ok, h, err := l.b.tryLock(ctx, lockClassResource, k, l.runID)
			if err != nil {
				release()
				return nil, fmt.Errorf("resource lock: %w", err)
			}
			if ok {
				held = append(held, k)
				break
			}
			if s := h.String(); s != last {
				last = s
				waiting(k, s)
			}
			if !time.Now().Before(deadline) {
				release()
				return nil, &LockTimeoutError{Key: k, Holder: last, Timeout: l.timeout}
			}
			select {
			case <-ctx.Done():
				release()
				return nil, ctx.Err()
			case <-time.After(min(l.poll, time.Until(deadline))):
			}
		}
	}
	return release, nil
}

// Journals keeps journal lines in journal_records.
func (b *Postgres) Journals(o journal.Options) *journal.Store {
	return journal.NewStore(&pgStorage{b: b}, o)
}

type pgStorage struct{ b *Postgres }

func (s *pgStorage) Where() string { return s.b.dsn }

func (s *pgStorage) lockRun(ctx context.Context, id string) error {
	ok, h, err := s.b.tryLock(ctx, lockClassRun, "run:"+id, id)
	if err != nil {
		return err
	}
	if !ok {
		return &journal.LockedError{RunID: id, PID: h.PID, Host: h.Host, Since: h.Since}
	}
	return nil
}

func (s *pgStorage) Create(id string) (journal.Log, error) {
	ctx := context.Background()
	if err := s.lockRun(ctx, id); err != nil {
		return nil, err
	}
	var created time.Time
	err := s.b.pool.QueryRow(ctx, `INSERT INTO runs (id) VALUES ($1) RETURNING created`, id).Scan(&created)
	if err != nil {
		_ = s.b.unlock(lockClassRun, "run:"+id)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil, fmt.Errorf("journal: run %s already exists: %w", id, fs.ErrExist)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &pgLog{b: s.b, id: id, starts: []time.Time{created}, ends: []time.Time{infinity}}, nil
}

// infinity ends the attempt running now.
var infinity = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *pgStorage) Open(id string) (journal.Log, []byte, error) {
	ctx := context.Background()
	var created time.Time
	err := s.b.pool.QueryRow(ctx, `SELECT created FROM runs WHERE id = $1`, id).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("journal: no run %s in %s: %w", id, s.b.dsn, fs.ErrNotExist)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	if err := s.lockRun(ctx, id); err != nil {
		return nil, nil, err
	}
	data, err := s.lines(ctx, id)
	if err != nil {
		_ = s.b.unlock(lockClassRun, "run:"+id)
		return nil, nil, err
	}
	// When each earlier attempt ran (its attempt record to its last
	// record), by the database's clock; the new attempt runs from now.
	l := &pgLog{b: s.b, id: id}
	rows, err := s.b.pool.Query(ctx, `SELECT a.at, coalesce((SELECT max(x.at) FROM journal_records x WHERE x.run_id = a.run_id AND x.seq >= a.seq
			AND x.seq < coalesce((SELECT min(n.seq) FROM journal_records n WHERE n.run_id = a.run_id AND n.kind = 'attempt' AND n.seq > a.seq), 9223372036854775807)), a.at)
		FROM journal_records a WHERE a.run_id = $1 AND a.kind = 'attempt' UNION ALL SELECT now(), $2::timestamptz`, id, infinity)
	if err == nil {
		for rows.Next() {
			var st, en time.Time
			if err = rows.Scan(&st, &en); err != nil {
				break
			}
			l.starts, l.ends = append(l.starts, st), append(l.ends, en)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		_ = s.b.unlock(lockClassRun, "run:"+id)
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	return l, data, nil
}

func (s *pgStorage) lines(ctx context.Context, id string) ([]byte, error) {
	return s.query(ctx, `SELECT line FROM journal_records WHERE run_id = $1 ORDER BY seq`, id)
}

func (s *pgStorage) query(ctx context.Context, sql, id string) ([]byte, error) {
	rows, err := s.b.pool.Query(ctx, sql, id)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var data []byte
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journal: %w", err)
		}
		data = append(append(data, line...), '\n')
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return data, nil
}

func (s *pgStorage) IDs() ([]string, error) {
	rows, err := s.b.pool.Query(context.Background(), `SELECT id FROM runs`)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return ids, nil
}

func (s *pgStorage) Read(id string) ([]byte, bool, error) {
	data, err := s.lines(context.Background(), id)
	if err != nil {
		return nil, false, err
	}
	return s.withLocked(id, data)
}

// ReadSummaries reads the lines run summaries need, for every run at once
// (journal.SummaryReader): `runs` over a database of big rollouts makes two
// queries, not two per run.
func (s *pgStorage) ReadSummaries() (map[string][]byte, map[string]bool, error) {
	ctx := context.Background()
	rows, err := s.b.pool.Query(ctx, `SELECT run_id, line FROM journal_records WHERE kind = ANY($1) ORDER BY run_id, seq`, journal.SummaryKinds)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	data := map[string][]byte{}
	for rows.Next() {
		var id string
		var line []byte
		if err := rows.Scan(&id, &line); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("journal: %w", err)
		}
		data[id] = append(append(data[id], line...), '\n')
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	// A run is locked when the advisory lock its name hashes to is held.
	held := map[uint32]bool{}
	lrows, err := s.b.pool.Query(ctx, `SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objsubid = 2 AND granted`, int64(lockClassRun))
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	for lrows.Next() {
		var objid int64
		if err := lrows.Scan(&objid); err != nil {
			lrows.Close()
			return nil, nil, fmt.Errorf("journal: %w", err)
		}
		held[uint32(objid)] = true
	}
	lrows.Close()
	if err := lrows.Err(); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	locked := map[string]bool{}
	for id := range data {
		locked[id] = held[uint32(hash32("run:"+id))]
	}
	return data, locked, nil
}

// ReadSummary reads one run's summary lines (journal.RunSummaryReader):
// what the web page reads every second while a run waits at a gate,
// without the thousands of other lines of a big rollout.
func (s *pgStorage) ReadSummary(id string) ([]byte, bool, error) {
	ctx := context.Background()
	rows, err := s.b.pool.Query(ctx, `SELECT line FROM journal_records WHERE run_id = $1 AND kind = ANY($2) ORDER BY seq`, id, journal.SummaryKinds)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	var data []byte
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("journal: %w", err)
		}
		data = append(append(data, line...), '\n')
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	if data == nil {
		return nil, false, fmt.Errorf("journal: run %s: %w", id, os.ErrNotExist)
	}
	return s.withLocked(id, data)
}

func (s *pgStorage) withLocked(id string, data []byte) ([]byte, bool, error) {
	ctx := context.Background()
	var locked bool
	err := s.b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::bigint::oid
		AND objid = $2::bigint::oid AND objsubid = 2 AND granted)`, int64(lockClassRun), int64(uint32(hash32("run:"+id)))).Scan(&locked)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	return data, locked, nil
}

// pgLog appends one run's lines: each Append is one INSERT of the whole
// batch, one round trip and one commit, made only while the lock session
// lives.
type pgLog struct {
	b      *Postgres
	id     string
	starts []time.Time // when each attempt of the run ran, by the database's
	ends   []time.Time // clock; the current one ends at infinity
	closed bool

	emu      sync.Mutex     // guards equeue and eleading
	equeue   []*effectQuery // lookups waiting for the next query
	eleading bool           // a caller is running lookups
}

func (l *pgLog) Append(batch *journal.Batch) error {
	n := len(batch.Lines)
	kinds, keys, ids, lines := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	start := 0
	for i, li := range batch.Lines {
		kinds[i], keys[i], ids[i] = li.Kind, li.Key, li.Identity
		lines[i] = string(batch.Data[start : li.End-1]) // without its '\n'
		start = li.End
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tag, err := l.b.pool.Exec(ctx, `INSERT INTO journal_records (run_id, kind, mut_key, identity, line)
		SELECT $1, u.k, NULLIF(u.m, ''), NULLIF(u.i, ''), u.l
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(k, m, i, l, o)
		WHERE EXISTS (SELECT 1 FROM pg_stat_get_activity($6) WHERE backend_start = $7)
		ORDER BY u.o`, l.id, kinds, keys, ids, lines, int32(l.b.lockPID), l.b.lockSince)
	if err != nil {
		return fmt.Errorf("journal: state database: %w", err)
	}
	if tag.RowsAffected() != int64(n) {
		return errors.New("journal: the database session holding this process's locks has ended; nothing more is recorded or sent")
	}
	return nil
}

func (l *pgLog) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	return l.b.unlock(lockClassRun, "run:"+l.id)
}

// Effect finds the same request sent by another run one of whose attempts
// ran while one of this run's did (journal.EffectLedger), by the database's
// clock: mine is ignored. Lookups made while one is under
// way go together in the next query, as journal records and locks do.
func (l *pgLog) Effect(ctx context.Context, identity string, _ []journal.Interval) (string, []byte, []byte, bool, error) {
	q := &effectQuery{identity: identity, answer: make(chan effectAnswer, 1)}
	l.emu.Lock()
	l.equeue = append(l.equeue, q)
	if !l.eleading {
		l.eleading = true
		for len(l.equeue) > 0 {
			batch := l.equeue
			l.equeue = nil
			l.emu.Unlock()
			l.lookup(ctx, batch)
			l.emu.Lock()
		}
		l.eleading = false
	}
	l.emu.Unlock()
	a := <-q.answer
	return a.run, a.intent, a.last, a.found, a.err
}

type effectQuery struct {
	identity string
	answer   chan effectAnswer
}

func (a *effectAnswer) settled() bool {
	return a.kind == "result" || a.kind == "sent" || a.kind == "decision"
}

type effectAnswer struct {
	kind         string // of last
	run          string
	intent, last []byte
	found        bool
	err          error
}

func (l *pgLog) lookup(ctx context.Context, batch []*effectQuery) {
	ids := make([]string, len(batch))
	for i, q := range batch {
		ids[i] = q.identity
	}
	answers, err := l.queryEffects(ctx, ids)
	for _, q := range batch {
		switch a := answers[q.identity]; {
		case err != nil:
			q.answer <- effectAnswer{err: err}
		case a != nil:
			q.answer <- *a
		default:
			q.answer <- effectAnswer{}
		}
	}
}

// effectsQuery finds, for each identity, the records of other runs' mutations
// with that identity whose attempts overlapped this run's, newest first.
const effectsQuery = `WITH hits AS (
				SELECT j.identity, j.run_id, j.mut_key, max(j.seq) AS intent_seq FROM journal_records j
				WHERE j.identity = ANY($1) AND j.kind = 'intent' AND j.run_id <> $2
				GROUP BY j.identity, j.run_id, j.mut_key),
			runs_hit AS (SELECT DISTINCT run_id FROM hits),
			-- each attempt of those runs: from its attempt record to the last
			-- record before the next attempt record
			spans AS (
				SELECT a.run_id, a.at AS s,
					(SELECT x.at FROM journal_records x WHERE x.run_id = a.run_id
						AND x.seq < coalesce((SELECT min(n.seq) FROM journal_records n WHERE n.run_id = a.run_id AND n.kind = 'attempt' AND n.seq > a.seq), 9223372036854775807)
						ORDER BY x.seq DESC LIMIT 1) AS e
				FROM runs_hit r JOIN journal_records a ON a.run_id = r.run_id AND a.kind = 'attempt'),
			-- runs one of whose attempts ran while one of this run's did
			-- (each end taken a heartbeat's slack later, as journal.Overlaps does)
			overlapping AS (
				SELECT DISTINCT sp.run_id FROM spans sp, unnest($3::timestamptz[], $4::timestamptz[]) AS m(s, e)
				WHERE sp.s <= m.e + $5::interval AND sp.e + $5::interval >= m.s)
			SELECT h.identity, h.run_id, i.line, last.kind, last.line
			FROM hits h
			JOIN overlapping o ON o.run_id = h.run_id
			JOIN journal_records i ON i.seq = h.intent_seq
			JOIN LATERAL (SELECT kind, line, seq FROM journal_records j
				WHERE j.run_id = h.run_id AND j.mut_key = h.mut_key ORDER BY seq DESC LIMIT 1) last ON true
			ORDER BY last.seq DESC`

// queryEffects answers, for each of ids, what another overlapping run
// recorded of a mutation with that identity.
func (l *pgLog) queryEffects(ctx context.Context, ids []string) (map[string]*effectAnswer, error) {
	answers := map[string]*effectAnswer{}
	rows, err := l.b.pool.Query(ctx, effectsQuery, ids, l.id, l.starts, l.ends, 2*journal.HeartbeatEvery)
	if err != nil {
		return answers, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, run, kind string
		var intent, last []byte
		if err := rows.Scan(&id, &run, &intent, &kind, &last); err != nil {
			return answers, err
		}
		// Newest first: the newest settled record wins (a result, a
		// proven send waiting for an operator, an operator's decision),
		// else the newest intent whose outcome is unknown.
		a := answers[id]
		settled := kind == "result" || kind == "sent" || kind == "decision"
		switch {
		case settled && (a == nil || !a.settled()),
			(kind == "intent" || kind == "unknown") && a == nil:
			answers[id] = &effectAnswer{kind: kind, run: run, intent: intent, last: last, found: true}
		}
	}
	return answers, rows.Err()
}
