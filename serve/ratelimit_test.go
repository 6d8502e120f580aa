package serve

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loginFrom posts a login with token from the client address addr
// (straight into the handler, so that each address is its own peer).
func loginFrom(s *Server, addr, token string, header http.Header) *httptest.ResponseRecorder {
	form := url.Values{"name": {"ann"}, "token": {token}, "next": {"/playbooks"}}
	r := httptest.NewRequest(http.MethodPost, "http://frameflow.example/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		r.Header[k] = v
	}
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

// Wrong tokens are limited per client address (a burst of 5, then one
// every 12 s) and globally (a burst of 30, then one a second): past the
// burst a login is answered 429 with Retry-After, the right token too, and
// the log names the address but never a guessed token. Another address is
// not held back by one guesser, until the global bucket is empty.
func TestLoginGuessesAreRateLimited(t *testing.T) {
	const token = "0123456789abcdef-token"
	logs := &lockedBuffer{}
	s, _, _ := newTestServer(t, Options{Addr: "0.0.0.0:0", Token: token, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	s.auth.wrongTokenDelay = 0 // the second's delay is not what is tested here
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.auth.limiter.now = func() time.Time { return now }

	guess := func(i int) string { return fmt.Sprintf("guess-%04d-xxxxxxxx", i) }
	for i := range loginPerClientBurst {
		if w := loginFrom(s, "203.0.113.7:4000", guess(i), nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d within the burst: %d", i, w.Code)
		}
	}
	w := loginFrom(s, "203.0.113.7:4001", guess(99), nil)
	ra, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	if w.Code != http.StatusTooManyRequests || ra < 1 || ra > int(loginPerClientEvery.Seconds()) || !strings.Contains(w.Body.String(), "Too many wrong tokens") {
		t.Fatalf("past the burst: %d, Retry-After %q\n%s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// The right token does not get through the limit either.
	if w := loginFrom(s, "203.0.113.7:4002", token, nil); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the right token from a limited address: %d, want 429", w.Code)
	}
	// Another address logs in.
	if w := loginFrom(s, "198.51.100.1:5000", token, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("another address: %d, want a login", w.Code)
	}
	// Once the bucket refilled by one, one more try.
	now = now.Add(loginPerClientEvery)
	if w := loginFrom(s, "203.0.113.7:4003", token, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("after %s: %d, want a login", loginPerClientEvery, w.Code)
	}

	// Many addresses, one wrong token each: the global bucket (full again
	// after 12 s) runs out after its burst and then refuses everyone.
	refused := 0
	for i := range loginGlobalBurst + 5 {
		if w := loginFrom(s, fmt.Sprintf("192.0.2.%d:6000", i+1), guess(100+i), nil); w.Code == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("35 addresses guessing: none refused by the global limit")
	}
	if refused != 5 {
		t.Errorf("%d of 35 addresses refused, want the 5 past the global burst", refused)
	}
	if w := loginFrom(s, "198.51.100.2:5000", token, nil); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a new address while the global bucket is empty: %d", w.Code)
	}
	now = now.Add(loginGlobalEvery)
	if w := loginFrom(s, "198.51.100.2:5001", token, nil); w.Code != http.StatusSeeOther {
		t.Fatalf("after the global bucket refilled by one: %d", w.Code)
	}

	out := logs.String()
	if !strings.Contains(out, "too many wrong tokens") || !strings.Contains(out, "client=203.0.113.7") {
		t.Errorf("the refusals are not logged with the address:\n%s", out)
	}
	for _, secret := range []string{"guess-", token} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains a typed token (%q):\n%s", secret, out)
		}
	}
}

// Behind the trusted proxy every request comes from the proxy: the client
// is the address the proxy appended to X-Forwarded-For, so one guesser
// behind it does not lock out everyone. A client's own X-Forwarded-For
// without the proxy is not read.
func TestLoginLimitBehindTrustedProxy(t *testing.T) {
	const token = "0123456789abcdef-token"
	s, _, _ := newTestServer(t, Options{Addr: "0.0.0.0:0", Token: token, TrustedProxy: "10.0.0.5"})
	s.auth.wrongTokenDelay = 0
	via := func(client string) http.Header {
		return http.Header{"X-Forwarded-For": {"6.6.6.6, " + client}}
	}
	for i := range loginPerClientBurst + 1 {
		loginFrom(s, "10.0.0.5:443", fmt.Sprintf("wrong-%d-xxxxxxxxxxx", i), via("203.0.113.7"))
	}
	if w := loginFrom(s, "10.0.0.5:443", token, via("203.0.113.7")); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the guesser behind the proxy: %d, want 429", w.Code)
	}
	if w := loginFrom(s, "10.0.0.5:443", token, via("198.51.100.1")); w.Code != http.StatusSeeOther {
		t.Fatalf("another person behind the proxy: %d, want a login", w.Code)
	}
	// Not from the proxy: the header is the client's claim, ignored.
	for i := range loginPerClientBurst + 1 {
		loginFrom(s, "203.0.113.9:1000", fmt.Sprintf("wrong-%d-xxxxxxxxxxx", i), via(fmt.Sprintf("192.0.2.%d", i)))
	}
	if w := loginFrom(s, "203.0.113.9:1001", token, via("192.0.2.200")); w.Code != http.StatusTooManyRequests {
		t.Fatalf("a client rotating its own X-Forwarded-For escaped the limit: %d", w.Code)
	}
}
