package cli_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// simEnv starts a simulator on 127.0.0.1 for one test and returns the
// environment a client needs to reach it.
func simEnv(t *testing.T, o sim.Options) (*sim.Running, map[string]string) {
	t.Helper()
	if o.TaskDuration == 0 {
		o.TaskDuration = 60 * time.Millisecond
	}
	r, err := sim.Start(o, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, map[string]string{
		"FRAME_API_URL":       r.URL(),
		"FRAME_CLIENT_ID":     "sim-client",
		"FRAME_CLIENT_SECRET": "sim-secret",
		"FRAMEFLOW_STATE_DIR": t.TempDir(),
	}
}

type result struct {
	out, err string
	code     int
}

// frameflow runs the CLI in-process with a fake environment, as a user
// would run it in a pipe (no terminal).
func frameflow(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, cli.Streams{
		In:  strings.NewReader(""),
		Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{out: out.String(), err: errb.String(), code: code}
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err
}

// accountID is the id of the simulated account called name ("" if none).
func accountID(st sim.State, name string) string {
	for _, a := range st.Accounts {
		if a.Name == name {
			return a.ID
		}
	}
	return ""
}

// sandboxPool is the id of an account's sandbox pool in a simulator state.
func sandboxPool(st sim.State, accountID string) string {
	for _, p := range st.Pools {
		if p.AccountID == accountID && p.Kind == "sandbox" {
			return p.ID
		}
	}
	return ""
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
