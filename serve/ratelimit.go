package serve

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Wrong login tokens are limited per client address and for the whole
// server, each a token bucket with a small burst: a person who mistypes
// twice is not slowed, a guesser is held to a few tries a minute per
// address and, however many addresses it has, to one a second in all.
// Only wrong tokens take from the buckets (a right one costs nothing), but
// an empty bucket refuses every login from that address (or, globally,
// from everyone) until it refills, the right token included: otherwise
// the limit would not limit guessing at all.
const (
	loginPerClientBurst = 5
	loginPerClientEvery = 12 * time.Second // 5 a minute
	loginGlobalBurst    = 30
	loginGlobalEvery    = time.Second
	// loginClientsMax bounds the per-address table; past it, the oldest
	// idle entries go first.
	loginClientsMax = 10000
	loginClientIdle = 30 * time.Minute
)

type loginLimiter struct {
	perClient func() *rate.Limiter
	global    *rate.Limiter
	now       func() time.Time

	mu      sync.Mutex
	clients map[string]*clientBucket
}

type clientBucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{
		perClient: func() *rate.Limiter { return rate.NewLimiter(rate.Every(loginPerClientEvery), loginPerClientBurst) },
		global:    rate.NewLimiter(rate.Every(loginGlobalEvery), loginGlobalBurst),
		now:       time.Now,
		clients:   map[string]*clientBucket{},
	}
}

func (l *loginLimiter) bucket(client string) *rate.Limiter {
	now := l.now()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= loginClientsMax {
			l.prune(now)
		}
		b = &clientBucket{lim: l.perClient()}
		l.clients[client] = b
	}
	b.last = now
	return b.lim
}

// prune drops the entries idle long enough to be full again, and if the
// table is still full, the longest idle.
func (l *loginLimiter) prune(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, b := range l.clients {
		if now.Sub(b.last) > loginClientIdle {
			delete(l.clients, k)
			continue
		}
		if oldest == "" || b.last.Before(oldestAt) {
			oldest, oldestAt = k, b.last
		}
	}
	if len(l.clients) >= loginClientsMax {
		delete(l.clients, oldest)
	}
}

// wait is how long client must wait before its next login attempt; 0:
// it may try now.
func (l *loginLimiter) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var d time.Duration
	for _, lim := range []*rate.Limiter{l.bucket(client), l.global} {
		if lim.TokensAt(now) >= 1 {
			continue
		}
		r := lim.ReserveN(now, 1)
		d = max(d, r.DelayFrom(now))
		r.CancelAt(now)
	}
	return d
}

// failed takes a wrong token from client's bucket and the global one.
func (l *loginLimiter) failed(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.bucket(client).AllowN(now, 1)
	l.global.AllowN(now, 1)
}

// retryAfter is d as a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// clientAddr is who is guessing: the peer's address, or, on a request
// from the trusted proxy, the address the proxy appended last to
// X-Forwarded-For (the one before it are the client's own claims). A
// proxy that sends none leaves its own address: then all its users share
// one bucket, which is cautious.
func (a *authenticator) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a.fromProxy(r) {
		xff := r.Header.Values("X-Forwarded-For")
		if len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if ip, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
				return ip.Unmap().String()
			}
		}
	}
	return host
}
