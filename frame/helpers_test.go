package frame_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

const (
	testClientID = "test-client"
	testSecret   = "s3cr3t-DO-NOT-LEAK-7f9a"
)

// leaks collects every log line and error string the tests produce, and
// every signature the test servers saw; TestMain asserts that neither the
// secret nor any signature appears in them.
var leaks struct {
	mu   sync.Mutex
	text bytes.Buffer
	sigs map[string]bool
}

type leakWriter struct{}

func (leakWriter) Write(p []byte) (int, error) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	return leaks.text.Write(p)
}

// noteErr records how an error prints, in every common verb.
func noteErr(err error) {
	if err == nil {
		return
	}
	fmt.Fprintf(leakWriter{}, "%v\n%+v\n%#v\n%s\n", err, err, err, err.Error())
}

func noteSig(sig string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if leaks.sigs == nil {
		leaks.sigs = map[string]bool{}
	}
	leaks.sigs[sig] = true
}

func TestMain(m *testing.M) {
	code := m.Run()
	leaks.mu.Lock()
	text := leaks.text.String()
	if strings.Contains(text, testSecret) {
		fmt.Fprintln(os.Stderr, "FAIL: the client secret appears in logs or errors")
		code = 1
	}
	for sig := range leaks.sigs {
		if strings.Contains(text, sig) {
			fmt.Fprintf(os.Stderr, "FAIL: a request signature appears in logs or errors\n")
			code = 1
			break
		}
	}
	if code == 0 && len(leaks.sigs) == 0 && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "FAIL: leak check saw no signatures (test servers not recording?)")
		code = 1
	}
	leaks.mu.Unlock()
	os.Exit(code)
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(leakWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newClient builds a client for a test server, with tiny backoffs.
func newClient(t *testing.T, baseURL string, mods ...func(*frame.Config)) *frame.Client {
	t.Helper()
	cfg := frame.Config{
		BaseURL:      baseURL,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RetryMax:     3,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		Logger:       testLogger(),
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := frame.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// seen is one request as a test server received it.
type seen struct {
	Method      string
	Path        string // escaped path, without the /v1 prefix
	Query       string
	Body        string
	ContentType string
	Timestamp   string
	Signature   string
	SigOK       bool
	At          time.Time
}

// apiServer is an httptest server under /v1 that records and checks the
// signature of every request, then hands it to the handler.
type apiServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func (s *apiServer) URL() string { return s.Server.URL + "/v1" }

func (s *apiServer) Requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func (s *apiServer) Count() int { return len(s.Requests()) }

// verifySig is an independent check of the documented signature.
func verifySig(ts, id, sig string) bool {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(ts + id))
	return hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(sig))
}

func newAPIServer(t testing.TB, h func(w http.ResponseWriter, r *http.Request, n int)) *apiServer {
	t.Helper()
	s := &apiServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sig := r.Header.Get(frame.HeaderSignature)
		ts := r.Header.Get(frame.HeaderTimestamp)
		noteSig(sig)
		rec := seen{
			Method:      r.Method,
			Path:        strings.TrimPrefix(r.URL.EscapedPath(), "/v1"),
			Query:       r.URL.RawQuery,
			Body:        string(body),
			ContentType: r.Header.Get("Content-Type"),
			Timestamp:   ts,
			Signature:   sig,
			SigOK:       r.Header.Get(frame.HeaderClientID) == testClientID && verifySig(ts, testClientID, sig),
			At:          time.Now(),
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		n := len(s.reqs)
		s.mu.Unlock()
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil || !rec.SigOK {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"bad signature"}`)
			return
		}
		h(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// hangUp reads the request and closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

const taskJSON = `{"id":"t-1","account_id":"acc-1","stage":"not_started","kind":"power_on","display_name":"Powering on"}`

type slogLogger = slog.Logger

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newSlogLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
