package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
	"github.com/frameflow/frameflow/state"
)

// storedFindings reads the findings doctor stored in the local state
// backend of stateDir for the test credential (sim-client), without the
// old doctor.json fallback.
func storedFindings(t *testing.T, stateDir, apiURL string) (*frame.Findings, error) {
	t.Helper()
	b, err := state.OpenLocal(stateDir, true)
	if err != nil {
		t.Fatal(err)
	}
	return frame.LoadFindings(context.Background(), b, "", apiURL, frame.CredentialID("sim-client"))
}

// saveFindings stores f in the local state backend of stateDir, for the
// test credential (sim-client) unless f names another.
func saveFindings(stateDir string, f *frame.Findings) error {
	b, err := state.OpenLocal(stateDir, true)
	if err != nil {
		return err
	}
	if f.CredentialID == "" {
		f.CredentialID = frame.CredentialID("sim-client")
	}
	_, err = frame.SaveFindings(context.Background(), b, f)
	return err
}

// doctorRig is a simulator behind a real HTTP server on 127.0.0.1, an
// optional middleware that refuses some reads the way a credential's role
// would, and the real frameflow binary.
type doctorRig struct {
	t     *testing.T
	srv   *httptest.Server
	state string
	bin   string
	env   []string // more environment for every exec
}

func newDoctorRig(t *testing.T, stores int, forbid func(r *http.Request) bool) *doctorRig {
	t.Helper()
	var wrap func(http.Handler) http.Handler
	if forbid != nil {
		wrap = func(s http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.URL.Path, "/_sim/") && forbid(r) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(`{"error":"forbidden: this API credential's role may not read this"}`))
					return
				}
				s.ServeHTTP(w, r)
			})
		}
	}
	return newSimRig(t, sim.Options{Scenario: sim.RetailScenario(stores), TaskDuration: 200 * time.Millisecond}, wrap)
}

// newSimRig serves a simulator, wrapped by wrap when given, on 127.0.0.1.
func newSimRig(t *testing.T, o sim.Options, wrap func(http.Handler) http.Handler) *doctorRig {
	t.Helper()
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	srv := httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(srv.Close)
	return &doctorRig{t: t, srv: srv, state: t.TempDir(), bin: frameflowBinary(t)}
}

func (r *doctorRig) exec(args ...string) exitResult {
	r.t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(os.Environ(),
		"FRAME_API_URL="+r.srv.URL+"/v1", "FRAME_CLIENT_ID=sim-client", "FRAME_CLIENT_SECRET=sim-secret",
		"FRAMEFLOW_STATE_DIR="+r.state, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, r.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return exitResult{args: args, code: code, out: out.String(), err: errb.String()}
}

// requests reads the simulator's request log over HTTP.
func (r *doctorRig) requests() []sim.RequestRecord {
	r.t.Helper()
	resp, err := http.Get(r.srv.URL + "/_sim/requests")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []sim.RequestRecord
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		r.t.Fatal(err)
	}
	return recs
}

func (r *doctorRig) doctor(args ...string) (exitResult, *cli.DoctorReport, []sim.RequestRecord) {
	r.t.Helper()
	before := len(r.requests())
	res := r.exec(append([]string{"doctor", "--format", "json"}, args...)...)
	var rep cli.DoctorReport
	if err := json.Unmarshal([]byte(res.out), &rep); err != nil {
		r.t.Fatalf("doctor --format json: %v\n%s", err, res)
	}
	return res, &rep, r.requests()[before:]
}

func onlyGets(t *testing.T, recs []sim.RequestRecord) {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("doctor sent nothing")
	}
	for _, r := range recs {
		if r.Method != http.MethodGet {
			t.Errorf("doctor sent %s %s: doctor must only read", r.Method, r.Path)
		}
	}
}

func check(rep *cli.DoctorReport, name string) cli.DoctorCheck {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return cli.DoctorCheck{}
}

// TestDoctorConfirmsAuditKindsReadOnly: before any rollout no audit kind
// is confirmed; after one, doctor correlates the journaled clones and
// publishes with the audit trail and records the kinds it saw, in the
// state directory, where runs read them. Only GETs are sent.
func TestDoctorConfirmsAuditKindsReadOnly(t *testing.T) {
	rig := newDoctorRig(t, 3, nil)

	res, rep, recs := rig.doctor(rolloutFile)
	if res.code != 0 || !rep.OK {
		t.Fatalf("doctor before a rollout: %s", res)
	}
	onlyGets(t, recs)
	if c := check(rep, "credentials"); c.Status != "ok" {
		t.Errorf("credentials: %+v", c)
	}
	if c := check(rep, "clock skew"); c.Status != "ok" || rep.ClockSkewSec == nil {
		t.Errorf("clock skew: %+v", c)
	}
	for _, n := range []string{"accounts.list", "pools.list", "sandbox.status", "publish.tasks", "tasks.get", "accounts.audit_trails.list"} {
		if c := check(rep, n); c.Status != "ok" {
			t.Errorf("%s: %+v", n, c)
		}
	}
	if c := check(rep, "sandbox.clone"); c.Status != "skip" || len(c.NeededBy) != 1 {
		t.Errorf("sandbox.clone (a mutation the playbook needs, not sent): %+v", c)
	}
	f, err := storedFindings(t, rig.state, rig.srv.URL+"/v1")
	if err != nil || f == nil || !f.AuditTrailsReadable || f.ConfirmedAuditKinds("clone") != nil {
		t.Fatalf("findings before a rollout: %+v %v", f, err)
	}

	if run := rig.exec("run", rolloutFile, "--yes"); run.code != 0 {
		t.Fatalf("rollout: %s", run)
	}
	res, rep, recs = rig.doctor(rolloutFile)
	if res.code != 0 || !rep.OK {
		t.Fatalf("doctor after a rollout: %s", res)
	}
	onlyGets(t, recs)
	f, err = storedFindings(t, rig.state, rig.srv.URL+"/v1")
	if err != nil || f == nil {
		t.Fatalf("findings: %v", err)
	}
	// The simulator writes cloneSandbox and publishSandbox; the elasticity
	// update that follows each publish within seconds must not pass for a
	// publish's entry.
	if got := f.ConfirmedAuditKinds("clone"); len(got) != 1 || got[0] != "cloneSandbox" {
		t.Errorf("clone kinds %v, want [cloneSandbox]", got)
	}
	if got := f.ConfirmedAuditKinds("publish"); len(got) != 1 || got[0] != "publishSandbox" {
		t.Errorf("publish kinds %v, want [publishSandbox]", got)
	}
	if c := check(rep, "tasks.get"); c.Status != "ok" || !strings.Contains(c.Detail, "journaled task decodes") {
		t.Errorf("tasks.get after a rollout: %+v", c)
	}
	// The documented shape: the status call is addressed by request_id.
	if c := check(rep, "publish.status"); c.Status != "ok" || !strings.Contains(c.Detail, "request_id") {
		t.Errorf("publish.status after a rollout (a journaled publish to read): %+v", c)
	}

	// The table fits 100 columns and says where the findings went.
	table := rig.exec("doctor", rolloutFile)
	if table.code != 0 {
		t.Fatalf("doctor: %s", table)
	}
	for _, l := range strings.Split(table.out, "\n") {
		if len(l) > 100 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
	if !strings.Contains(table.out, "needs met") || !strings.Contains(table.out, "\n  "+rig.state+"\n  as doctor/findings-") ||
		!strings.Contains(table.out, frame.CredentialID("sim-client")) || strings.Contains(table.out, "old findings file") {
		t.Errorf("table:\n%s", table.out)
	}
	// An old <state>/doctor.json left from before findings moved to the
	// backend: doctor says it is superseded.
	old := filepath.Join(rig.state, frame.FindingsFile)
	if err := os.WriteFile(old, []byte(`{"api_url":"`+rig.srv.URL+`/v1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if table := rig.exec("doctor", rolloutFile); !strings.Contains(table.out, "the old findings file, no longer read for this API URL and credential:\n  "+old) {
		t.Errorf("doctor does not say the old file is superseded:\n%s", table.out)
	}
}

// TestDoctorAuditKindsAsWritten: doctor confirms the kinds the estate
// actually writes, whatever their names (the docs name none for clones),
// and nothing for an operation that leaves no entry.
func TestDoctorAuditKindsAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name         string
		kinds        map[string]string
		clone, pub   string // confirmed kind, "" for none
		cloneWarning bool
	}{
		{"a clone kind without clone in it", map[string]string{"clone": "sandboxCopied", "publish": "sandboxPublished"}, "sandboxCopied", "sandboxPublished", false},
		{"a clone that writes no entry", map[string]string{"clone": ""}, "", "publishSandbox", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(3), TaskDuration: 200 * time.Millisecond,
				AuditTrails: &sim.AuditTrailSpec{Kinds: tc.kinds}}, nil)
			if run := rig.exec("run", rolloutFile, "--yes"); run.code != 0 {
				t.Fatalf("rollout: %s", run)
			}
			res, rep, recs := rig.doctor(rolloutFile)
			if res.code != 0 {
				t.Fatalf("doctor: %s", res)
			}
			onlyGets(t, recs)
			f, err := storedFindings(t, rig.state, rig.srv.URL+"/v1")
			if err != nil || f == nil {
				t.Fatalf("findings: %v", err)
			}
			for op, want := range map[string]string{"clone": tc.clone, "publish": tc.pub} {
				got := f.ConfirmedAuditKinds(op)
				if (want == "" && got != nil) || (want != "" && (len(got) != 1 || got[0] != want)) {
					t.Errorf("%s kinds %v, want %q", op, got, want)
				}
			}
			if c := check(rep, "audit kind: clone"); (c.Status == "warn") != tc.cloneWarning {
				t.Errorf("clone row: %+v", c)
			}
		})
	}
}

// TestDoctorAuditTrails403: a credential whose role cannot read audit
// trails (the simulator's forbidden mode). The clone's witness is
// best-effort, so the rollout's needs are met, but doctor says that a lost
// answer will need an operator, and the findings confirm nothing.
func TestDoctorAuditTrails403(t *testing.T) {
	rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(2), TaskDuration: 200 * time.Millisecond,
		AuditTrails: &sim.AuditTrailSpec{Forbidden: true}}, nil)
	res, rep, recs := rig.doctor(rolloutFile)
	if res.code != 0 {
		t.Fatalf("doctor: %s", res)
	}
	onlyGets(t, recs)
	if c := check(rep, "accounts.audit_trails.list"); c.Status != "fail" || !strings.Contains(c.Detail, "403") {
		t.Errorf("audit trails: %+v", c)
	}
	if len(rep.Playbooks) != 1 || !rep.Playbooks[0].Met || len(rep.Playbooks[0].Degraded) != 1 {
		t.Errorf("verdict: %+v", rep.Playbooks)
	}
	f, err := storedFindings(t, rig.state, rig.srv.URL+"/v1")
	if err != nil || f == nil || f.AuditTrailsReadable || f.ConfirmedAuditKinds("clone") != nil {
		t.Errorf("findings: %+v %v", f, err)
	}
	table := rig.exec("doctor", rolloutFile)
	if !strings.Contains(table.out, "a lost answer stops for an operator") {
		t.Errorf("table does not say what the 403 costs:\n%s", table.out)
	}
}

// TestDoctorUnmetNeeds: a read the playbook cannot work without is refused:
// doctor exits 1 and names it. Bad credentials exit 1 too, with a hint.
func TestDoctorUnmetNeeds(t *testing.T) {
	rig := newDoctorRig(t, 2, func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/pools") && r.Method == http.MethodGet
	})
	res, rep, recs := rig.doctor(rolloutFile)
	if res.code != 1 || rep.OK {
		t.Fatalf("doctor with pools refused: %s", res)
	}
	onlyGets(t, recs)
	if len(rep.Playbooks) != 1 || rep.Playbooks[0].Met || !strings.Contains(strings.Join(rep.Playbooks[0].Unmet, " "), "pools.list") {
		t.Errorf("verdict: %+v", rep.Playbooks)
	}
	table := rig.exec("doctor", rolloutFile)
	if table.code != 1 || !strings.Contains(table.out, "needs unmet: pools.list") {
		t.Errorf("table:\n%s", table)
	}

	bad := exec.Command(rig.bin, "doctor")
	bad.Env = append(os.Environ(), "FRAME_API_URL="+rig.srv.URL+"/v1", "FRAME_CLIENT_ID=sim-client", "FRAME_CLIENT_SECRET=wrong-secret", "FRAMEFLOW_STATE_DIR="+rig.state)
	out, err := bad.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "credentials") || strings.Contains(string(out), "wrong-secret") {
		t.Errorf("bad secret: %v\n%s", err, out)
	}
}

// TestDoctorInvalidPlaybook: a bad playbook is reported as FILE:LINE:COL
// and nothing is sent.
func TestDoctorInvalidPlaybook(t *testing.T) {
	rig := newDoctorRig(t, 1, nil)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nname: bad\nsteps:\n  - id: x\n    uses: nope.nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := rig.exec("doctor", bad)
	if res.code != 2 || !strings.Contains(res.err, bad+":5:") {
		t.Errorf("invalid playbook: %s", res)
	}
	if n := len(rig.requests()); n != 0 {
		t.Errorf("%d requests sent for an invalid playbook", n)
	}
}

// TestDoctorClockSkew: a server whose Date is two minutes ahead: doctor
// warns (the docs give no tolerance) and measures the skew.
func TestDoctorClockSkew(t *testing.T) {
	rig := newSimRig(t, sim.Options{Scenario: sim.RetailScenario(1), MaxSkew: time.Hour}, func(s http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat))
			s.ServeHTTP(w, r)
		})
	})
	res, rep, _ := rig.doctor()
	if res.code != 0 {
		t.Fatalf("doctor: %s", res)
	}
	c := check(rep, "clock skew")
	if c.Status != "warn" || rep.ClockSkewSec == nil || *rep.ClockSkewSec < 115 || *rep.ClockSkewSec > 125 || !strings.Contains(c.Detail, "do not say how much skew") {
		t.Errorf("clock skew: %+v (%v s)", c, rep.ClockSkewSec)
	}
}

// A playbook's needs include those of the playbooks it calls (uses:
// ./lib/x.yaml): the composed rollout reads pools only in its library.
func TestDoctorSeesTheNeedsOfCalledPlaybooks(t *testing.T) {
	rig := newDoctorRig(t, 2, func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/pools") && r.Method == http.MethodGet
	})
	res, rep, recs := rig.doctor(composedDir(t))
	if res.code != 1 || rep.OK {
		t.Fatalf("doctor with pools refused: %s", res)
	}
	onlyGets(t, recs)
	if len(rep.Playbooks) != 1 || rep.Playbooks[0].Met || !strings.Contains(strings.Join(rep.Playbooks[0].Unmet, " "), "pools.list") {
		t.Errorf("verdict: %+v", rep.Playbooks)
	}
}

// TestDoctorUnreachableSaysSoOnce: when the API cannot be reached doctor
// says so once, does not claim findings were stored, and leaves the
// findings an earlier doctor stored as they were.
func TestDoctorUnreachableSaysSoOnce(t *testing.T) {
	rig := newDoctorRig(t, 1, nil)
	if res := rig.exec("doctor"); res.code != 0 {
		t.Fatalf("doctor against the simulator: %s", res)
	}
	before, err := storedFindings(t, rig.state, rig.srv.URL+"/v1")
	if err != nil || before == nil {
		t.Fatalf("findings after a good doctor: %+v %v", before, err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/v1"
	l.Close()
	rig.env = []string{"FRAME_API_URL=" + closed}
	res := rig.exec("doctor")
	if res.code != 1 {
		t.Fatalf("doctor against a closed port: %s", res)
	}
	const says = "the API could not be reached with this credential"
	if n := strings.Count(res.out, says); n != 1 {
		t.Errorf("%q said %d times, want once:\n%s", says, n, res.out)
	}
	if strings.Contains(res.out, "findings stored") {
		t.Errorf("claims findings were stored:\n%s", res.out)
	}
	if f, err := storedFindings(t, rig.state, closed); err != nil || f != nil {
		t.Errorf("findings stored for an unreachable API: %+v %v", f, err)
	}
}
