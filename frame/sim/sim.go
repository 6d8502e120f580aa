package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/frameflow/frameflow/frame"
)

// Options configure a Server. The zero value is a fault-free simulator of
// DefaultScenario with credentials sim-client / sim-secret.
type Options struct {
	Scenario     *Scenario        // nil: DefaultScenario()
	ClientID     string           // "" -> "sim-client"
	ClientSecret string           // "" -> "sim-secret"
	TaskDuration time.Duration    // >0 overrides the scenario's per-kind durations
	Latency      time.Duration    // added to every request
	FailRate     float64          // share of requests answered 503 before acting
	ThrottleRPS  float64          // above this rate: 429 with Retry-After
	TaskFailRate float64          // share of tasks that end in stage "failed"
	DropRate     float64          // share of mutations that act, then drop the connection without answering
	Seed         int64            // for the random faults (0: fixed default)
	Now          func() time.Time // clock (tests may fake it)
	MaxSkew      time.Duration    // accepted timestamp skew, default 5m
	// DurationFromStart makes duration_sec count from the task's start
	// (not_started -> in_progress) instead of its creation (duration.go).
	DurationFromStart bool

	// Hook, when set, is called for every API request (not /_sim/) with
	// phase "received" (body read, nothing done yet; status 0) and, for a
	// request the API answered, "acted" (the estate has changed, the
	// response is not yet written or dropped; status is what it will be).
	// Tests use it to kill a client at an exact moment; while it runs the
	// request waits. It must not call back into the Server's API.
	Hook func(phase string, r *http.Request, status int)

	// Logger receives what net/http logs about the listening server (TLS
	// noise, handler panics). nil discards it: the simulator never writes
	// to stderr on its own.
	Logger *slog.Logger
	// AuditTrails, when set, overrides the scenario's audit-trail behaviour
	// (audit.go).
	AuditTrails *AuditTrailSpec
}

// Default credentials when Options leave them empty.
const (
	DefaultClientID     = "sim-client"
	DefaultClientSecret = "sim-secret"
)

// maxBody bounds what one request may send; Frame bodies are small.
const maxBody = 1 << 20

// Server is the simulator as an http.Handler.
type Server struct {
	opts Options
	mux  *http.ServeMux

	// mu guards the estate and the fault dice.
	mu            sync.Mutex
	lastNow       time.Time // latest instant the state has seen (clockLocked)
	orgs          []*org
	accounts      []*account
	acctByID      map[string]*account
	pools         map[string]*pool
	servers       map[string]*server // by numeric id and by external id
	tasks         []*task
	taskByID      map[string]*task
	pending       taskHeap
	ids, names    map[string]string // taken ids and account names (lower case)
	durations     map[string]time.Duration
	cloudServices map[string]string
	taskSeq       int
	serverSeq     int
	poolSeq       int
	publishSeq    int
	auditSeq      int
	rng           *rand.Rand

	limiter *rate.Limiter // nil: no throttling

	apiUserID string // started_by.id of every task: the API user's id, derived once

	// lastSig is the signature expected for the latest timestamp and
	// client id seen: a client sends thousands of requests per second,
	// all signed alike (authorize).
	lastSig atomic.Pointer[expectedSig]

	placements map[string]*placement // the docs' parameter placement (placement.go)

	logMu  sync.Mutex
	log    []RequestRecord
	logSeq int
}

// RequestRecord is one request the simulator received.
type RequestRecord struct {
	Seq    int       `json:"seq"`
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query"`
	Body   string    `json:"body"`
	// ContentType, ContentLength (the header as sent, "" when absent) and
	// TransferEncoding say how the body was framed: a request without a
	// body must not arrive chunked.
	ContentType      string   `json:"content_type,omitempty"`
	ContentLength    string   `json:"content_length,omitempty"`
	TransferEncoding []string `json:"transfer_encoding,omitempty"`
	Status           int      `json:"status"`
	Dropped          bool     `json:"dropped"`
	Fault            string   `json:"fault,omitempty"` // latency is not a fault; 503, 429, drop are
	DurationMS       float64  `json:"duration_ms"`
}

// New builds a simulator from o.
func New(o Options) (*Server, error) {
	return newServer(o, frame.Catalog())
}

// newServer takes the catalog as an argument so that tests can check the
// fallback against endpoints of their own (and their placements, which the
// docs cannot know).
func newServer(o Options, catalog []frame.Endpoint, extra ...docPlacement) (*Server, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	exp, err := expand(o.Scenario)
	if err != nil {
		return nil, err
	}
	seed := uint64(o.Seed)
	if seed == 0 {
		seed = 0x5eed
	}
	s := &Server{
		opts:          o,
		acctByID:      map[string]*account{},
		pools:         map[string]*pool{},
		servers:       map[string]*server{},
		taskByID:      map[string]*task{},
		ids:           map[string]string{},
		names:         map[string]string{},
		durations:     map[string]time.Duration{},
		cloudServices: map[string]string{},
		rng:           rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		apiUserID:     deriveID("api-user", o.ClientID),
	}
	for k, v := range o.Scenario.TaskDurations {
		s.durations[k] = v
	}
	for k, v := range o.Scenario.CloudServices {
		s.cloudServices[k] = v
	}
	s.seed(exp, o.Now())
	if o.ThrottleRPS > 0 {
		burst := int(math.Ceil(o.ThrottleRPS))
		s.limiter = rate.NewLimiter(rate.Limit(o.ThrottleRPS), burst)
	}
	if s.placements, err = placements(extra...); err != nil {
		return nil, fmt.Errorf("sim: placement table: %w", err)
	}
	s.mux = s.routes(catalog)
	return s, nil
}

// setDefaults fills what o left zero and checks its rates.
func (o *Options) setDefaults() error {
	if o.Scenario == nil {
		o.Scenario = DefaultScenario()
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"fail rate", o.FailRate}, {"task fail rate", o.TaskFailRate}, {"drop rate", o.DropRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("sim: %s %v: want a share between 0 and 1", r.name, r.v)
		}
	}
	if math.IsNaN(o.ThrottleRPS) || o.ThrottleRPS < 0 {
		return fmt.Errorf("sim: throttle rps %v: want 0 (off) or a positive rate", o.ThrottleRPS)
	}
	if o.Latency < 0 || o.TaskDuration < 0 {
		return errors.New("sim: latency and task duration must not be negative")
	}
	return nil
}

// seed creates the scenario's organizations, accounts and pools.
func (s *Server) seed(exp *expanded, now time.Time) {
	for _, eo := range exp.orgs {
		s.orgs = append(s.orgs, &org{id: eo.id, name: eo.name, slug: slugify(eo.name)})
		s.ids[eo.id] = "organization " + eo.name
		for _, a := range eo.accounts {
			s.ids[a.ID] = "account " + a.Name
			s.names[strings.ToLower(a.Name)] = "account " + a.Name
			for _, p := range a.Production.Pools {
				s.ids[p.ID] = "pool " + p.Name
			}
			s.newAccount(a, now)
		}
	}
}

func (s *Server) now() time.Time { return s.opts.Now() }

// chance draws a fault. Callers hold s.mu (or call through dice).
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return s.rng.Float64() < p
}

func (s *Server) dice(p float64) bool {
	if p <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chance(p)
}

// Requests returns every API request received so far, in order.
func (s *Server) Requests() []RequestRecord {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]RequestRecord(nil), s.log...)
}

// maxRecords bounds the request log of a long-running simulator; the
// oldest half goes when it is full (Seq keeps counting).
const maxRecords = 200_000

// maxRecordedBody bounds one logged body.
const maxRecordedBody = 64 << 10

func (s *Server) record(rec RequestRecord) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.logSeq++
	rec.Seq = s.logSeq
	if len(rec.Body) > maxRecordedBody {
		rec.Body = rec.Body[:maxRecordedBody] + "...(truncated)"
	}
	if len(s.log) >= maxRecords {
		s.log = append([]RequestRecord(nil), s.log[len(s.log)/2:]...)
	}
	s.log = append(s.log, rec)
}

// ServeHTTP serves the API under /v1 and the simulator's own endpoints
// under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL == nil || !strings.HasPrefix(r.URL.Path, "/") {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveSim(w, r)
		return
	}
	s.serveAPI(w, r)
}

type ctxKey struct{}

// reqInfo travels with a request through the mux.
type reqInfo struct {
	now  time.Time
	body []byte
}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{now: time.Now()}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	now := s.now()
	rec := RequestRecord{Time: now, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), ContentLength: r.Header.Get("Content-Length"), TransferEncoding: r.TransferEncoding}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			rec.Status = http.StatusBadRequest
			s.finishRecord(&rec, started)
			writeError(w, http.StatusBadRequest, "could not read the request body")
			return
		}
		body = b
	}
	rec.Body = string(body)
	if s.opts.Hook != nil {
		s.opts.Hook("received", r, 0)
	}
	if len(body) > maxBody {
		rec.Status = http.StatusRequestEntityTooLarge
		s.finishRecord(&rec, started)
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}

	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	bw := newBufferedWriter()
	mutation := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
	switch {
	case s.limiter != nil && !s.limiter.AllowN(now, 1):
		// A reservation tells how long until a token is free; cancel it so
		// the refused request does not consume capacity.
		res := s.limiter.ReserveN(now, 1)
		wait := res.DelayFrom(now)
		res.CancelAt(now)
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		bw.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(bw, http.StatusTooManyRequests, fmt.Sprintf("rate limit of %g requests per second exceeded; retry after %d s", s.opts.ThrottleRPS, secs))
		rec.Fault = "throttle"
	case !s.authorize(bw, r, now):
		// authorize wrote the 401
	case s.dice(s.opts.FailRate):
		writeError(bw, http.StatusServiceUnavailable, "service temporarily unavailable (simulated by fail-rate)")
		rec.Fault = "fail"
	default:
		r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, &reqInfo{now: now, body: body}))
		r2.Body = io.NopCloser(bytes.NewReader(body))
		// One trailing slash is tolerated, as the docs write "GET /accounts/".
		if p := r2.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			u := *r2.URL
			u.Path = strings.TrimSuffix(p, "/")
			u.RawPath = ""
			r2.URL = &u
		}
		s.mux.ServeHTTP(bw, r2)
		if s.opts.Hook != nil {
			s.opts.Hook("acted", r, bw.statusOrOK())
		}
		if mutation && s.dice(s.opts.DropRate) {
			rec.Status = bw.status
			rec.Dropped = true
			rec.Fault = "drop"
			s.finishRecord(&rec, started)
			dropConnection(w)
			return
		}
	}
	rec.Status = bw.status
	s.finishRecord(&rec, started)
	bw.flushTo(w)
}

func (s *Server) finishRecord(rec *RequestRecord, started time.Time) {
	rec.DurationMS = float64(time.Since(started).Microseconds()) / 1000
	s.record(*rec)
}

// dropConnection closes the connection without a response: the client
// cannot tell whether the request took effect.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // reset rather than a clean close
			}
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 and recorders cannot be hijacked; aborting the handler makes
	// net/http reset the stream without writing a response.
	panic(http.ErrAbortHandler)
}

// authorize checks the Frame signature headers. It never echoes a
// signature or the secret.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	id := r.Header.Get("X-Frame-ClientId")
	ts := r.Header.Get("X-Frame-Timestamp")
	sig := r.Header.Get("X-Frame-Signature")
	fail := func(msg string) bool {
		writeError(w, http.StatusUnauthorized, msg)
		return false
	}
	if id == "" || ts == "" || sig == "" {
		var missing []string
		for _, h := range []struct{ name, v string }{{"X-Frame-ClientId", id}, {"X-Frame-Timestamp", ts}, {"X-Frame-Signature", sig}} {
			if h.v == "" {
				missing = append(missing, h.name)
			}
		}
		return fail("missing authentication header(s): " + strings.Join(missing, ", "))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fail("X-Frame-Timestamp must be whole seconds since the epoch")
	}
	// Compare in whole seconds: time.Duration would overflow for absurd
	// timestamps (milliseconds sent as seconds) and wrap into "in range".
	maxSkew := int64(s.opts.MaxSkew / time.Second)
	if nowSec := now.Unix(); sec > nowSec+maxSkew || sec < nowSec-maxSkew {
		return fail(fmt.Sprintf("X-Frame-Timestamp is more than %s away from the server's clock", s.opts.MaxSkew))
	}
	// Compare the id in constant time too: it is not secret, but an
	// unknown id and a wrong signature should look alike to a prober.
	idOK := hmac.Equal([]byte(id), []byte(s.opts.ClientID))
	sigOK := hmac.Equal([]byte(sig), []byte(s.expectedSignature(ts+id)))
	if !idOK {
		return fail("unknown client id")
	}
	if !sigOK {
		return fail("invalid signature")
	}
	return true
}

type expectedSig struct{ msg, sig string }

// expectedSignature is the signature of msg (timestamp and client id) under
// the secret: computed once per distinct msg in a row, then compared as
// before for every request.
func (s *Server) expectedSignature(msg string) string {
	if last := s.lastSig.Load(); last != nil && last.msg == msg {
		return last.sig
	}
	mac := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
	mac.Write([]byte(msg))
	sig := hex.EncodeToString(mac.Sum(nil))
	s.lastSig.Store(&expectedSig{msg: msg, sig: sig})
	return sig
}

// bufferedWriter holds a response until the simulator knows whether to
// send it or drop the connection.
type bufferedWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func newBufferedWriter() *bufferedWriter { return &bufferedWriter{header: http.Header{}} }

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufferedWriter) statusOrOK() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}

func (b *bufferedWriter) flushTo(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.buf.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ---- /_sim/ -----------------------------------------------------------------

func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Requests())
	case r.URL.Path == "/_sim/state" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Snapshot())
	case r.URL.Path == "/_sim/reset-log" && r.Method == http.MethodPost:
		s.logMu.Lock()
		s.log, s.logSeq = nil, 0 // numbering restarts so tests can count from 1
		s.logMu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{})
	case r.URL.Path == "/_sim/accounts" && r.Method == http.MethodPost:
		var spec AccountSpec
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			writeError(w, http.StatusBadRequest, "account spec: "+err.Error())
			return
		}
		id, err := s.AddAccount(spec)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	case r.URL.Path == "/_sim/requests" || r.URL.Path == "/_sim/state" || r.URL.Path == "/_sim/reset-log" || r.URL.Path == "/_sim/accounts":
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	default:
		writeError(w, http.StatusNotFound, "unknown simulator endpoint; see /_sim/requests, /_sim/state, /_sim/accounts, /_sim/reset-log")
	}
}

// ---- running on a port ----------------------------------------------------------

// Running is a simulator listening on a TCP address.
type Running struct {
	*Server
	srv  *http.Server
	addr string
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves.
func Start(o Options, addr string) (*Running, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	errLog := log.New(io.Discard, "", 0)
	if o.Logger != nil {
		errLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	go func() { _ = srv.Serve(ln) }()
	return &Running{Server: s, srv: srv, addr: ln.Addr().String()}, nil
}

// URL is the API base URL for clients, e.g. http://127.0.0.1:8080/v1.
func (r *Running) URL() string { return "http://" + r.addr + "/v1" }

// Addr is the address the simulator listens on.
func (r *Running) Addr() string { return r.addr }

// Close stops listening and closes open connections.
func (r *Running) Close() error { return r.srv.Close() }
