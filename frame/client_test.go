package frame_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame"
)

func TestEveryAttemptSignedWithFreshTimestamp(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n < 3 {
			writeJSON(w, http.StatusServiceUnavailable, `{"error":"busy"}`)
			return
		}
		writeJSON(w, 200, `[]`)
	})
	var tick atomic.Int64
	c := newClient(t, srv.URL(), func(cfg *frame.Config) {
		cfg.Now = func() time.Time { return time.Unix(1_700_000_000+7*tick.Add(1), 0) }
	})
	if _, err := c.ListAccounts(context.Background(), "", ""); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	stamps := map[string]bool{}
	for i, r := range reqs {
		if !r.SigOK {
			t.Errorf("attempt %d: bad signature", i+1)
		}
		stamps[r.Timestamp] = true
	}
	if len(stamps) != 3 {
		t.Errorf("timestamps %v: want a fresh one per attempt", stamps)
	}
}

func TestRealClockTimestampIsSeconds(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `[]`) })
	c := newClient(t, srv.URL())
	if _, err := c.ListAccounts(context.Background(), "", ""); err != nil {
		t.Fatal(err)
	}
	ts, _ := strconv.ParseInt(srv.Requests()[0].Timestamp, 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("timestamp %d is not seconds since the epoch (off by %v)", ts, d)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, `{"error":"slow down"}`)
			return
		}
		writeJSON(w, 200, `[{"id":"a","name":"Store-1","active":true}]`)
	})
	c := newClient(t, srv.URL())
	accts, err := c.ListAccounts(context.Background(), "", "")
	if err != nil || len(accts) != 1 {
		t.Fatalf("%v %v", accts, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	// RetryWaitMax is 5ms: only the Retry-After explains a ~1s wait.
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 900*time.Millisecond {
		t.Errorf("retried after %v, Retry-After said 1s", gap)
	}
}

func TestRetryAfterTooLongIsLeftToTheCaller(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, http.StatusTooManyRequests, `{"error":"quota"}`)
	})
	c := newClient(t, srv.URL())
	_, err := c.ListAccounts(context.Background(), "", "")
	noteErr(err)
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 429 {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("%d requests, want 1 (an hour is too long for a transport retry)", n)
	}
	class, ra := frame.Classify(err)
	if class != frame.ClassThrottled || ra != time.Hour {
		t.Errorf("Classify = %s %v", class, ra)
	}
}

func TestGETRetriedOn5xx(t *testing.T) {
	for _, status := range []int{502, 503, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					writeJSON(w, status, `{"error":"gateway"}`)
					return
				}
				writeJSON(w, 200, `{"min_servers":1,"buffer_servers":2,"max_servers":3}`)
			})
			e, err := newClient(t, srv.URL()).GetPoolElasticity(context.Background(), "p1")
			if err != nil || *e != (frame.Elasticity{MinServers: 1, BufferServers: 2, MaxServers: 3}) {
				t.Fatalf("%v %v", e, err)
			}
			if n := srv.Count(); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

func TestGETNotRetriedOn4xx(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 404, `{"error":"account not found"}`)
	})
	_, err := newClient(t, srv.URL()).GetAccount(context.Background(), "nope")
	noteErr(err)
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 404 || api.Method != "GET" || api.Path != "/accounts/nope" || api.Message != "account not found" {
		t.Fatalf("err = %#v", err)
	}
	if srv.Count() != 1 {
		t.Errorf("4xx retried")
	}
	if c, _ := frame.Classify(err); c != frame.ClassClientError {
		t.Errorf("class %s", c)
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 503, `{"message":"maintenance"}`)
	})
	c := newClient(t, srv.URL(), func(cfg *frame.Config) { cfg.RetryMax = 2 })
	_, err := c.ListPools(context.Background(), "acc")
	noteErr(err)
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 503 || api.Message != "maintenance" {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Count(); n != 3 {
		t.Errorf("%d requests, want 1 + 2 retries", n)
	}
	if c, _ := frame.Classify(err); c != frame.ClassServerError {
		t.Errorf("class %s", c)
	}
}

func TestPOSTRetriedWhenServerRefusedBeforeActing(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "0")
					writeJSON(w, status, `{"error":"try again"}`)
					return
				}
				writeJSON(w, 200, taskJSON)
			})
			task, err := newClient(t, srv.URL()).SetPoolElasticity(context.Background(), "pool-1", frame.Elasticity{MinServers: 1, BufferServers: 1, MaxServers: 5})
			if err != nil || task.ID != "t-1" {
				t.Fatalf("%v %v", task, err)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			for _, r := range reqs {
				// The body is re-sent whole on the retry.
				if r.Body != "buffer_servers=1&max_servers=5&min_servers=1" || r.ContentType != "application/x-www-form-urlencoded" {
					t.Errorf("body %q (%s)", r.Body, r.ContentType)
				}
			}
		})
	}
}

func TestPOSTGatewayErrorIsOutcomeUnknown(t *testing.T) {
	for _, status := range []int{502, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, status, `{"error":"upstream"}`)
			})
			f := false
			_, err := newClient(t, srv.URL()).CloneSandbox(context.Background(), "acc-2", "pool-1", &f)
			noteErr(err)
			var ou *frame.OutcomeUnknownError
			if !errors.As(err, &ou) {
				t.Fatalf("err = %v, want OutcomeUnknownError", err)
			}
			if ou.Method != "POST" || ou.Path != "/accounts/acc-2/pools/pool-1/clone" || string(ou.Body) != "join_domain=false" {
				t.Errorf("carried request: %+v", ou)
			}
			var api *frame.APIError
			if !errors.As(err, &api) || api.Status != status {
				t.Errorf("does not wrap the APIError: %v", err)
			}
			if n := srv.Count(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
			if c, _ := frame.Classify(err); c != frame.ClassOutcomeUnknown {
				t.Errorf("class %s", c)
			}
		})
	}
}

func TestPOSTConnectionDroppedAfterRequestIsOutcomeUnknown(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { hangUp(w, r) })
	c := newClient(t, srv.URL())
	_, err := c.Do(context.Background(), &frame.Request{Method: "POST", Path: "/pools/p1/elasticity_settings", Form: url.Values{"max_servers": {"5"}}}, nil)
	noteErr(err)
	var ou *frame.OutcomeUnknownError
	if !errors.As(err, &ou) {
		t.Fatalf("err = %v, want OutcomeUnknownError", err)
	}
	if string(ou.Body) != "max_servers=5" {
		t.Errorf("body %q", ou.Body)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestPOSTTimeoutAfterWriteIsOutcomeUnknown(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-r.Context().Done() // never answers; the client gives up
	})
	c := newClient(t, srv.URL(), func(cfg *frame.Config) { cfg.RequestTimeout = 100 * time.Millisecond })
	_, err := c.Publish(context.Background(), "acc-1")
	noteErr(err)
	var ou *frame.OutcomeUnknownError
	if !errors.As(err, &ou) {
		t.Fatalf("err = %v, want OutcomeUnknownError", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestPOSTContextDeadlineAfterWriteIsOutcomeUnknown(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := newClient(t, srv.URL()).Publish(ctx, "acc-1")
	noteErr(err)
	if c, _ := frame.Classify(err); c != frame.ClassOutcomeUnknown {
		t.Fatalf("class %s (%v)", c, err)
	}
}

func TestGETConnectionDroppedIsRetried(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			hangUp(w, r)
			return
		}
		writeJSON(w, 200, taskJSON)
	})
	task, err := newClient(t, srv.URL()).GetTask(context.Background(), "acc-1", "t-1")
	if err != nil || task.Stage != frame.StageNotStarted {
		t.Fatalf("%v %v", task, err)
	}
	if n := srv.Count(); n != 2 {
		t.Errorf("%d requests", n)
	}
}

// closedURL is a loopback address nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/v1"
}

func TestDialFailureRetriedThenNetworkError(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			var mu sync.Mutex
			var infos []frame.RequestInfo
			c := newClient(t, closedURL(t), func(cfg *frame.Config) {
				cfg.RetryMax = 2
				cfg.OnRequest = func(i frame.RequestInfo) { mu.Lock(); infos = append(infos, i); mu.Unlock() }
			})
			_, err := c.Do(context.Background(), &frame.Request{Method: method, Path: "/accounts/a/publish"}, nil)
			noteErr(err)
			var ne *frame.NetworkError
			if !errors.As(err, &ne) || ne.Attempts != 3 {
				t.Fatalf("err = %#v, want NetworkError after 3 attempts", err)
			}
			if class, _ := frame.Classify(err); class != frame.ClassNetwork {
				t.Errorf("class %s", class)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(infos) != 3 {
				t.Fatalf("OnRequest saw %d attempts", len(infos))
			}
			for i, in := range infos {
				if in.Attempt != i+1 || in.Class != frame.ClassNetwork || in.Method != method || in.Path != "/accounts/a/publish" {
					t.Errorf("attempt info %+v", in)
				}
			}
		})
	}
}

func TestReadOnlyRefusesMutationsLocally(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `[]`) })
	c := newClient(t, srv.URL(), func(cfg *frame.Config) { cfg.ReadOnly = true })
	ctx := context.Background()
	errs := []error{}
	_, err := c.Publish(ctx, "acc-1")
	errs = append(errs, err)
	_, err = c.Do(ctx, &frame.Request{Method: "DELETE", Path: "/accounts/a/publish/t"}, nil)
	errs = append(errs, err)
	_, err = c.Do(ctx, &frame.Request{Method: "PUT", Path: "/x"}, nil)
	errs = append(errs, err)
	_, err = c.Call(ctx, "pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": 3})
	errs = append(errs, err)
	for i, err := range errs {
		noteErr(err)
		if !errors.Is(err, frame.ErrReadOnly) {
			t.Errorf("%d: err = %v, want ErrReadOnly", i, err)
		}
		if c, _ := frame.Classify(err); c != frame.ClassInvalid {
			t.Errorf("%d: class %s", i, c)
		}
	}
	if n := srv.Count(); n != 0 {
		t.Fatalf("a read-only client sent %d requests", n)
	}
	if _, err := c.ListAccounts(ctx, "", ""); err != nil {
		t.Fatalf("reads must work: %v", err)
	}
}

// A client that may mutate refuses to under a WithReadOnly context (a plan
// made with the client that later applies it), and only there.
func TestReadOnlyContextRefusesMutationsLocally(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{}`) })
	c := newClient(t, srv.URL())
	ro := frame.WithReadOnly(context.Background())
	_, err := c.Do(ro, &frame.Request{Method: "POST", Path: "/accounts/a/publish"}, nil)
	noteErr(err)
	if !errors.Is(err, frame.ErrReadOnly) || srv.Count() != 0 {
		t.Fatalf("err = %v, %d requests sent; want ErrReadOnly and none", err, srv.Count())
	}
	if _, err := c.Do(ro, &frame.Request{Method: "GET", Path: "/accounts"}, nil); err != nil {
		t.Fatalf("reads must work: %v", err)
	}
	if _, err := c.Do(context.Background(), &frame.Request{Method: "POST", Path: "/accounts/a/publish"}, nil); err != nil || srv.Count() != 2 {
		t.Fatalf("outside the context the mutation is sent: %v, %d requests", err, srv.Count())
	}
}

func TestInvalidRequestsSendNothing(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `{}`) })
	c := newClient(t, srv.URL())
	ctx := context.Background()
	bad := []*frame.Request{
		{Method: "GET", Path: "accounts"},
		{Method: "GET", Path: "/accounts/../customers"},
		{Method: "GET", Path: "/accounts/%2e%2e/x"},
		{Method: "GET", Path: "/accounts?name=x"},
		{Method: "GET", Path: "/accounts/a b"},
		{Method: "G ET", Path: "/accounts"},
		{Method: "POST", Path: "/x", Form: url.Values{"a": {"1"}}, JSON: map[string]any{"a": 1}},
		{Method: "POST", Path: "/x", JSON: make(chan int)},
	}
	for _, r := range bad {
		_, err := c.Do(ctx, r, nil)
		noteErr(err)
		if c, _ := frame.Classify(err); c != frame.ClassInvalid {
			t.Errorf("%+v: err = %v", r, err)
		}
	}
	_, err := c.GetAccount(ctx, "../customers")
	if c, _ := frame.Classify(err); c != frame.ClassInvalid {
		t.Errorf("GetAccount(../customers): %v", err)
	}
	if n := srv.Count(); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestAPIErrorMessageExcerpt(t *testing.T) {
	long := strings.Repeat("x", 1000)
	cases := []struct{ body, want string }{
		{`{"error":"bad pool"}`, "bad pool"},
		{`{"message":"not allowed"}`, "not allowed"},
		{`{"errors":{"max_servers":["must be at most 1000"]}}`, `{"max_servers":["must be at most 1000"]}`},
		{"plain\ntext\x00 answer", "plain text answer"},
		{`{"error":"signature for ` + testSecret + ` invalid"}`, "signature for [redacted] invalid"},
	}
	for _, cs := range cases {
		srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 400, cs.body) })
		_, err := newClient(t, srv.URL()).GetAccount(context.Background(), "a")
		noteErr(err)
		var api *frame.APIError
		if !errors.As(err, &api) || api.Message != cs.want {
			t.Errorf("body %q: message %q, want %q", cs.body, api.Message, cs.want)
		}
	}
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 400, long) })
	_, err := newClient(t, srv.URL()).GetAccount(context.Background(), "a")
	var api *frame.APIError
	if !errors.As(err, &api) || len([]rune(api.Message)) > 301 {
		t.Errorf("message not cut: %d runes", len([]rune(api.Message)))
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, "https://elsewhere.example/v1/accounts", http.StatusFound)
	})
	_, err := newClient(t, srv.URL()).ListAccounts(context.Background(), "", "")
	noteErr(err)
	var api *frame.APIError
	if !errors.As(err, &api) || api.Status != 302 {
		t.Fatalf("err = %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `[]`) })
	c := newClient(t, srv.URL(), func(cfg *frame.Config) { cfg.RateLimit = 20; cfg.Burst = 1 })
	start := time.Now()
	for i := 0; i < 6; i++ {
		if _, err := c.ListAccounts(context.Background(), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	// 6 requests at 20/s with a burst of 1 need at least 5 intervals of 50ms.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("6 requests took %v at 20 req/s", d)
	}
}

func TestMaxInFlight(t *testing.T) {
	var cur, peak atomic.Int32
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		v := cur.Add(1)
		for {
			p := peak.Load()
			if v <= p || peak.CompareAndSwap(p, v) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		writeJSON(w, 200, `[]`)
	})
	c := newClient(t, srv.URL(), func(cfg *frame.Config) { cfg.MaxInFlight = 2 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ListPools(context.Background(), fmt.Sprint("acc-", i))
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
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency %d, cap 2", p)
	}
}

func TestLogsAndHookPerAttempt(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 503, `{}`)
			return
		}
		writeJSON(w, 200, `[]`)
	})
	var buf strings.Builder
	var mu sync.Mutex
	var infos []frame.RequestInfo
	c := newClient(t, srv.URL(), func(cfg *frame.Config) {
		cfg.Logger = testLoggerTo(&buf, &mu)
		cfg.OnRequest = func(i frame.RequestInfo) { mu.Lock(); infos = append(infos, i); mu.Unlock() }
	})
	if _, err := c.ListAccounts(context.Background(), "Store", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 2 || infos[0].Status != 503 || infos[0].Class != frame.ClassServerError || infos[1].Status != 200 || infos[1].Attempt != 2 || infos[1].Class != "" {
		t.Errorf("infos %+v", infos)
	}
	out := buf.String()
	for _, want := range []string{"method=GET", "path=/accounts", "status=503", "status=200", "attempt=2", "duration="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, banned := range []string{"X-Frame", testSecret, srv.Requests()[0].Signature} {
		if strings.Contains(out, banned) {
			t.Errorf("log contains %q", banned)
		}
	}
	leakWriter{}.Write([]byte(out))
}

func TestBodyEncodingsAndDecoding(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/v1/accounts/a/sandbox/stop":
			writeJSON(w, 202, `{}`)
		case "/v1/empty":
			w.WriteHeader(200)
		default:
			writeJSON(w, 200, `{"echo":true}`)
		}
	})
	c := newClient(t, srv.URL())
	ctx := context.Background()
	if err := c.StopSandbox(ctx, "a"); err != nil {
		t.Fatalf("202 {}: %v", err)
	}
	var out map[string]any
	if _, err := c.Do(ctx, &frame.Request{Method: "GET", Path: "/empty"}, &out); err != nil || out != nil {
		t.Fatalf("empty body: %v %v", out, err)
	}
	resp, err := c.Do(ctx, &frame.Request{Method: "POST", Path: "/json", JSON: map[string]any{"user_profile": map[string]any{"enabled": true, "size": 1}}}, &out)
	if err != nil || resp.Status != 200 || out["echo"] != true {
		t.Fatalf("%v %v", out, err)
	}
	last := srv.Requests()[len(srv.Requests())-1]
	if last.ContentType != "application/json" || last.Body != `{"user_profile":{"enabled":true,"size":1}}` {
		t.Errorf("json body %q %s", last.Body, last.ContentType)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := newAPIServer(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 503, `{}`) })
	c := newClient(t, srv.URL(), func(cfg *frame.Config) {
		cfg.RetryMax = 50
		cfg.RetryWaitMin = 50 * time.Millisecond
		cfg.RetryWaitMax = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	_, err := c.ListAccounts(ctx, "", "")
	noteErr(err)
	if class, _ := frame.Classify(err); class != frame.ClassTimeout && class != frame.ClassServerError {
		t.Errorf("class %s (%v)", class, err)
	}
	if n := srv.Count(); n > 10 {
		t.Errorf("%d attempts after the deadline", n)
	}
}

func testLoggerTo(w io.Writer, mu *sync.Mutex) *slogLogger {
	return newSlogLogger(w, mu)
}

func BenchmarkDoGET(b *testing.B) {
	srv := newAPIServer(b, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, `[]`) })
	c, err := frame.NewClient(frame.Config{BaseURL: srv.URL(), ClientID: testClientID, ClientSecret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.ListAccounts(ctx, "", ""); err != nil {
			b.Fatal(err)
		}
	}
}
