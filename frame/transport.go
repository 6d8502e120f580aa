package frame

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// The transport layers, outermost first:
//
//	retryablehttp.Client  retries per the policy below (checkRetry, backoff)
//	http.Client           per-attempt timeout, no redirects
//	attemptTransport      rate limit, in-flight cap, signing, httptrace, logs
//	base RoundTripper     the wire
//
// Signing happens in attemptTransport, after the rate limiter and the
// in-flight semaphore let the attempt through, so every attempt (retries
// included) carries a fresh timestamp even after a long wait.

// callState is shared by the attempts of one logical request.
type callState struct {
	method     string
	path       string
	idempotent bool
	attempts   atomic.Int32
	// wrote: the current attempt started writing the request to a
	// connection (httptrace WroteRequest fired, with or without error). Until
	// then the server provably has not seen it.
	wrote atomic.Bool

	// The signatures sent, redacted from what the server echoes: the
	// first in a field of its own, as most requests make one attempt (a
	// slice allocated per request only to be read on errors).
	mu        sync.Mutex
	firstSig  string
	laterSigs []string
}

func (st *callState) addSig(sig string) {
	st.mu.Lock()
	if st.firstSig == "" {
		st.firstSig = sig
	} else {
		st.laterSigs = append(st.laterSigs, sig)
	}
	st.mu.Unlock()
}

func (st *callState) signatures() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.firstSig == "" {
		return nil
	}
	return append([]string{st.firstSig}, st.laterSigs...)
}

type callStateKey struct{}

// attemptTransport wraps the wire for one Client.
type attemptTransport struct {
	base     http.RoundTripper
	clientID string
	secret   []byte
	now      func() time.Time
	limiter  *rate.Limiter
	sem      *semaphore.Weighted
	logger   *slog.Logger
	onReq    func(RequestInfo)
	ua       string
	timeout  time.Duration // per attempt, started after the rate limit and in-flight waits

	// lastSig is the signature of the latest second signed: it depends on
	// nothing but the secret, the client id and the timestamp in seconds,
	// so every request of one second shares it (a 2,000-store rollout sends
	// thousands per second; computing each cost ~2% of the runner's CPU).
	lastSig atomic.Pointer[secondSig]
}

type secondSig struct {
	ts  int64
	sig string
}

// sign returns the signature for timestamp ts.
func (t *attemptTransport) sign(ts int64) string {
	if last := t.lastSig.Load(); last != nil && last.ts == ts {
		return last.sig
	}
	sig := Sign(t.secret, t.clientID, ts)
	t.lastSig.Store(&secondSig{ts: ts, sig: sig})
	return sig
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil {
		// Only Client.Do sends through this transport.
		st = &callState{method: req.Method, path: req.URL.Path, idempotent: isIdempotent(req.Method)}
	}
	st.wrote.Store(false)
	if t.limiter != nil {
		if err := t.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The limiter refuses waits that would outlive the deadline.
			return nil, context.DeadlineExceeded
		}
	}
	if t.sem != nil {
		if err := t.sem.Acquire(ctx, 1); err != nil {
			return nil, err
		}
	}
	attempt := int(st.attempts.Add(1))
	release := func() {}
	if t.sem != nil {
		release = func() { t.sem.Release(1) }
	}
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		semRelease := release
		release = func() { cancel(); semRelease() }
	}

	trace := &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { st.wrote.Store(true) },
	}
	ts := t.now().Unix()
	sig := t.sign(ts)
	st.addSig(sig)
	r2 := withSignedHeaders(req.WithContext(httptrace.WithClientTrace(ctx, trace)), t.clientID, formatInt(ts), sig, t.ua)

	start := time.Now()
	resp, err := t.base.RoundTrip(r2)
	dur := time.Since(start)

	info := RequestInfo{Method: st.method, Path: st.path, Duration: dur, Attempt: attempt}
	if err != nil {
		info.Class = attemptErrorClass(ctx, st, err)
		info.Err = err.Error()
	} else {
		info.Status = resp.StatusCode
		if resp.StatusCode >= 300 {
			info.Class = (&APIError{Status: resp.StatusCode}).Class()
			if !st.idempotent && mayHaveActed(resp.StatusCode) {
				info.Class = ClassOutcomeUnknown
			}
		}
	}
	t.report(ctx, info)

	if err != nil {
		release()
		return nil, err
	}
	// The slot and the attempt's deadline last until the body is closed:
	// reading it is part of the request.
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

func (t *attemptTransport) report(ctx context.Context, info RequestInfo) {
	if t.logger != nil && t.logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("method", info.Method),
			slog.String("path", info.Path),
			slog.Int("status", info.Status),
			slog.Duration("duration", info.Duration),
			slog.Int("attempt", info.Attempt),
		}
		if info.Class != "" {
			attrs = append(attrs, slog.String("class", string(info.Class)))
		}
		if info.Err != "" {
			attrs = append(attrs, slog.String("error", info.Err))
		}
		t.logger.LogAttrs(ctx, slog.LevelDebug, "frame api request", attrs...)
	}
	if t.onReq != nil {
		t.onReq(info)
	}
}

type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// attemptErrorClass classifies a transport error of one attempt.
func attemptErrorClass(ctx context.Context, st *callState, err error) ErrorClass {
	switch {
	case !st.idempotent && st.wrote.Load():
		return ClassOutcomeUnknown
	case ctx.Err() == context.Canceled:
		return ClassCanceled
	case ctx.Err() != nil:
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	return ClassNetwork
}

// mayHaveActed says whether an error status to a mutation leaves open that
// it took effect: 500 (the server failed while handling it), 502 and 504 (a
// gateway may have forwarded it). 503 and 429 are refusals before acting.
func mayHaveActed(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// checkRetry is retryablehttp's CheckRetry; the logical request's state
// comes with its context (Client.Do puts it there).
//
// Reads (GET) retry on 429, 502, 503, 504 and transport errors. Mutations
// retry only when the server provably did not act: 429 and 503 (refused
// before acting) and transport errors before the request was written. A
// mutation that may have reached the server (502/504 from a gateway that may
// have forwarded it, a timeout or reset after writing) is not retried; Do
// turns it into an OutcomeUnknownError. Without that state nothing is
// retried: whether the request was written would be unknown.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	if st == nil || ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		if !st.idempotent && st.wrote.Load() {
			return false, nil
		}
		return retryableTransportError(err), nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > c.maxRetryAfter {
			// Too long for a transport retry: the step's policy decides.
			return false, nil
		}
		return true, nil
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return st.idempotent, nil
	}
	return false, nil
}

// retryableTransportError excludes errors a retry cannot fix.
func retryableTransportError(err error) bool {
	var uae x509.UnknownAuthorityError
	var cve *x509.CertificateInvalidError
	var hne x509.HostnameError
	var tve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uae), errors.As(err, &cve), errors.As(err, &hne), errors.As(err, &tve):
		return false
	case errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// backoff is exponential with jitter, at least the server's Retry-After.
func (c *Client) backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if min <= 0 {
		min = time.Millisecond
	}
	if max < min {
		max = min
	}
	d := max
	if attempt < 32 {
		if e := min << uint(attempt); e > 0 && e < max {
			d = e
		}
	}
	// "Equal jitter": half fixed, half random, so retries from many clients
	// spread out but never collapse to zero.
	d = d/2 + rand.N(d/2+1)
	if resp != nil {
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > d {
			d = ra
		}
	}
	return d
}

// The signing headers' keys as Header.Set would store them (canonical).
var (
	clientIDKey  = http.CanonicalHeaderKey(HeaderClientID)
	timestampKey = http.CanonicalHeaderKey(HeaderTimestamp)
	signatureKey = http.CanonicalHeaderKey(HeaderSignature)
)

// withSignedHeaders gives r (a shallow copy of the caller's request, which
// a RoundTripper must not modify) a header map of its own: the caller's
// entries plus the signing headers and the User-Agent. Not Request.Clone:
// nothing here changes the URL or a caller's header value, so deep copies
// of both were allocation for nothing on every attempt (20,000 per
// 2,000-store rollout), and the four values share one backing array.
func withSignedHeaders(r *http.Request, clientID, timestamp, sig, ua string) *http.Request {
	h := make(http.Header, len(r.Header)+4)
	for k, v := range r.Header {
		h[k] = v
	}
	vals := [4]string{clientID, timestamp, sig, ua}
	h[clientIDKey] = vals[0:1:1]
	h[timestampKey] = vals[1:2:2]
	h[signatureKey] = vals[2:3:3]
	if ua != "" {
		h["User-Agent"] = vals[3:4:4]
	}
	r.Header = h
	return r
}
