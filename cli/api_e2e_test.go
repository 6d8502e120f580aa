package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/cli"
	"github.com/frameflow/frameflow/frame/sim"
)

// runBinary runs the built frameflow binary with env, over real HTTP.
func runBinary(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(frameflowBinary(t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out: out.String(), err: errb.String(), code: code}
}

// A POST without -f or --json has no body: Content-Length: 0, never an
// empty chunked body (issue 15 item 7). Checked on what the simulator
// received from the real binary.
func TestAPIPostWithoutBodySendsContentLengthZero(t *testing.T) {
	s, env := simEnv(t, sim.Options{})
	acct := accountID(s.Snapshot(), "QA")
	r := runBinary(t, env, "--log-format", "json", "api", "post", "/accounts/"+acct+"/sandbox/start")
	if r.code != 0 || r.err != "" {
		t.Fatalf("api post: %s", r)
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.Method != "POST" || last.ContentLength != "0" || len(last.TransferEncoding) != 0 || last.Body != "" || last.ContentType != "" {
		t.Fatalf("received %+v, want a POST with Content-Length: 0 and no body", last)
	}

	// With a body: form fields, or JSON as given (-q adds to the query).
	r = runBinary(t, env, "api", "post", "/accounts/"+acct+"/servers/reboot", "--json", `{"id": "1", "account_server_reboot": {"force": false}}`, "-q", "trace=1")
	last = s.Requests()[len(s.Requests())-1]
	if last.ContentType != "application/json" || last.Query != "trace=1" || !strings.Contains(last.Body, `"account_server_reboot":{"force":false}`) {
		t.Fatalf("--json sent %+v (%s)", last, r)
	}
	// The strict simulator refused the unknown query parameter, and the
	// error says method, path, status and the server's message.
	if r.code == 0 || !strings.Contains(r.err, "POST /accounts/"+acct+"/servers/reboot: 400") || !strings.Contains(r.err, `unknown parameter \"trace\"`) && !strings.Contains(r.err, `unknown parameter "trace"`) {
		t.Fatalf("misplaced parameter: %s", r)
	}
	if r := runBinary(t, env, "api", "post", "/x", "-f", "a=1", "--json", "{}"); r.code != 2 {
		t.Fatalf("-f with --json: %s", r)
	}
}

// frameflow api list/get --api v1alpha reach the v1alpha catalog and base
// URL (derived from FRAME_API_URL, or FRAME_API_V1ALPHA_URL).
func TestAPIV1AlphaCommands(t *testing.T) {
	s, env := simEnv(t, sim.Options{})
	r := runBinary(t, env, "api", "list", "--api", "v1alpha")
	if r.code != 0 || !strings.Contains(r.out, "accounts.team_members.list") || !strings.Contains(r.out, "6 endpoints") {
		t.Fatalf("api list --api v1alpha: %s", r)
	}
	r = runBinary(t, env, "api", "get", "--api", "v1alpha", "/accounts")
	var accounts []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.out), &accounts) != nil || len(accounts) == 0 || accounts[0]["account_id"] == nil {
		t.Fatalf("api get --api v1alpha /accounts: %s", r)
	}
	id := accounts[0]["account_id"].(string)
	r = runBinary(t, env, "api", "get", "--api", "v1alpha", "/accounts/"+id+"/recent_sessions")
	if r.code != 0 || !strings.HasPrefix(r.out, `"username"`) {
		t.Fatalf("CSV answer: %s", r)
	}
	if last := s.Requests()[len(s.Requests())-1]; last.Path != "/v1alpha/accounts/"+id+"/recent_sessions" {
		t.Fatalf("sent to %s", last.Path)
	}
	env["FRAME_API_V1ALPHA_URL"] = "http://" + s.Addr() + "/elsewhere"
	r = runBinary(t, env, "api", "get", "--api", "v1alpha", "/accounts")
	if last := s.Requests()[len(s.Requests())-1]; r.code == 0 || last.Path != "/elsewhere/accounts" {
		t.Fatalf("FRAME_API_V1ALPHA_URL not used: %s, last %s", r, last.Path)
	}
	if r := runBinary(t, env, "api", "list", "--api", "v2"); r.code != 2 {
		t.Fatalf("--api v2: %s", r)
	}
}

// syncBuffer is a bytes.Buffer safe for the transport's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A server that sends a second, unsolicited response makes net/http log
// "Unsolicited response received on idle HTTP channel" through the global
// log package; with --log-format json it arrives as a JSON log line, never
// as raw text on stderr.
func TestHTTPLibraryLogGoesThroughLogger(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				// The answer and an unsolicited second one in one write.
				_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
					"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
				time.Sleep(2 * time.Second)
			}()
		}
	}()
	env := map[string]string{"FRAME_API_URL": "http://" + ln.Addr().String() + "/v1", "FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": "secret-value"}
	var out bytes.Buffer
	errb := &syncBuffer{}
	code := cli.Main([]string{"--log-format", "json", "api", "post", "/accounts/a/sandbox/start"}, cli.Streams{
		In: strings.NewReader(""), Out: &out, Err: errb, Getenv: func(k string) string { return env[k] },
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(errb.String(), "Unsolicited") {
		time.Sleep(20 * time.Millisecond)
	}
	got := errb.String()
	if !strings.Contains(got, "Unsolicited response") {
		t.Fatalf("net/http did not log the unsolicited response (stderr %q)", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["level"] != "WARN" {
			t.Errorf("stderr line is not a JSON warn log line: %q", line)
		}
	}
}

func TestSimTaskStageFlagChecked(t *testing.T) {
	for _, bad := range []string{"finished=x", "done", "failed="} {
		if r := frameflow(t, nil, "sim", "--addr", "127.0.0.1:0", "--task-stage", bad); r.code != 2 || !strings.Contains(r.err, "--task-stage") {
			t.Errorf("--task-stage %s: %s", bad, r)
		}
	}
}
