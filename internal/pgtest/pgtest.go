// Package pgtest starts a throwaway PostgreSQL server for tests: initdb
// into a temporary directory, a free port on 127.0.0.1 (its unix socket in
// the same directory), stopped and removed at the end. No mock stands in
// for the database.
//
// When the server binaries are not installed the tests that need one skip
// with one line, unless FRAMEFLOW_REQUIRE_POSTGRES=1 (set by .ci/run) or
// CI=true, in which case they fail. Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and in a test: dsn := pgtest.DSN(t) (a fresh database per call).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv turns a missing PostgreSQL into a test failure when "1".
const RequireEnv = "FRAMEFLOW_REQUIRE_POSTGRES"

// Server is a running throwaway server.
type Server struct {
	dir, bin   string
	port       int
	User       string
	Password   string
	asPostgres bool
}

var (
	once     sync.Once
	shared   *Server
	startErr error
	dbSeq    atomic.Int64
)

// Required tells whether a missing PostgreSQL fails the tests: under
// FRAMEFLOW_REQUIRE_POSTGRES=1 (.ci/run) and in CI (CI=true), where a skip
// would hide that nothing was tested.
func Required() bool { return os.Getenv(RequireEnv) == "1" || os.Getenv("CI") == "true" }

// Main runs the package's tests and stops the shared server after them.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// BinDir finds initdb, pg_ctl and postgres: $PG_BINDIR, else the highest
// /usr/lib/postgresql/*/bin (Debian), else the PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	if ds, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(ds) > 0 {
		sort.Slice(ds, func(i, j int) bool { return version(ds[i]) > version(ds[j]) })
		for _, d := range ds {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian package postgresql")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Shared returns the package's server, starting it on first use; it skips
// (or fails, under FRAMEFLOW_REQUIRE_POSTGRES=1) when PostgreSQL is missing.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	once.Do(func() { shared, startErr = Start() })
	if startErr != nil {
		var nf *notFound
		if errors.As(startErr, &nf) && !Required() {
			tb.Skip("skipping: " + startErr.Error())
		}
		tb.Fatalf("PostgreSQL: %v", startErr)
	}
	return shared
}

// DSN creates a fresh database on the shared server and returns its DSN
// (with a password, over TCP to 127.0.0.1).
func DSN(tb testing.TB) string {
	tb.Helper()
	s := Shared(tb)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	return s.url(name)
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", s.User, s.Password, s.port, db)
}

type notFound struct{ err error }

func (n *notFound) Error() string { return n.err.Error() }

// Start initialises and starts a server. Stop it with Stop.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, &notFound{err}
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_ctl")); err != nil {
		return nil, &notFound{fmt.Errorf("pg_ctl not in %s: install the Debian package postgresql", bin)}
	}
	dir, err := os.MkdirTemp("", "pgstate-pg-")
	if err != nil {
		return nil, err
	}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	s := &Server{dir: dir, bin: bin, User: "frameflow", Password: "pw" + hex.EncodeToString(pw[:])}
	// initdb refuses to run as root: run the server as postgres then.
	if os.Geteuid() == 0 {
		s.asPostgres = true
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	fail := func(err error) (*Server, error) { s.Stop(); return nil, err }
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o644); err != nil {
		return fail(err)
	}
	if s.asPostgres {
		_ = exec.Command("chown", "postgres", pwfile).Run()
	}
	data := filepath.Join(dir, "data")
	if out, err := s.cmd("initdb", "-D", data, "-U", s.User, "--pwfile", pwfile, "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	if s.port, err = freePort(); err != nil {
		return fail(err)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", s.port, dir)
	if out, err := s.cmd("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fail(fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log))
	}
	return s, nil
}

func (s *Server) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Stop stops the server (immediate shutdown) and removes its directory.
func (s *Server) Stop() {
	if s == nil || s.dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		_ = s.cmd("pg_ctl", "stop", "-m", "immediate", "-w", "-D", filepath.Join(s.dir, "data")).Run()
	}
	_ = os.RemoveAll(s.dir)
	s.dir = ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
