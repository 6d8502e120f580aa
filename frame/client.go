package frame

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// maxResponseBytes bounds what is read of one response.
const maxResponseBytes = 32 << 20

// maxMessageRunes bounds the server message kept in an APIError.
const maxMessageRunes = 300

// Client talks to the Frame Admin API: it signs every attempt, retries what
// is safe to retry, limits its rate and concurrency, and never re-sends a
// mutation that may have reached the server. It is safe for concurrent use.
type Client struct {
	base          *url.URL
	alphaBase     *url.URL // v1alpha requests (Request.API)
	clientID      string
	creds         *secretHolder // behind a pointer so %#v of a Client prints an address, not the secret
	readOnly      bool
	retryMax      int
	waitMin       time.Duration
	waitMax       time.Duration
	maxRetryAfter time.Duration
	now           func() time.Time
	http          *http.Client
	// retrying sends every request: one for the Client, not one per
	// request (its settings never change, and each request's state
	// reaches checkRetry through the request's context).
	retrying *retryablehttp.Client
}

// NewClient checks cfg and builds a Client. It sends nothing.
func NewClient(cfg Config) (*Client, error) {
	base, err := checkConfig(&cfg)
	if err != nil {
		return nil, err
	}
	alphaBase, err := checkBaseURL(V1AlphaURLFor(base.String()))
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:          base,
		alphaBase:     alphaBase,
		clientID:      cfg.ClientID,
		creds:         &secretHolder{secret: cfg.ClientSecret},
		readOnly:      cfg.ReadOnly,
		retryMax:      cfg.RetryMax,
		waitMin:       cfg.RetryWaitMin,
		waitMax:       cfg.RetryWaitMax,
		maxRetryAfter: cfg.MaxRetryAfter,
		now:           cfg.Now,
	}
	c.setRetryDefaults()
	c.http = newHTTPClient(cfg, c.now)
	c.retrying = &retryablehttp.Client{
		HTTPClient:   c.http,
		RetryMax:     c.retryMax,
		RetryWaitMin: c.waitMin,
		RetryWaitMax: c.waitMax,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		// Hand back the last response or error as is: Do builds the typed
		// errors (retryablehttp's own would wrap them in prose).
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// checkConfig fills cfg's base URL and checks the base URL, the
// credential and the limits.
func checkConfig(cfg *Config) (*url.URL, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("frame client: missing client id (%s)", EnvClientID)
	}
	if cfg.ClientSecret == "" {
		return nil, fmt.Errorf("frame client: missing client secret (%s)", EnvClientSecret)
	}
	if strings.ContainsAny(cfg.ClientID, "\r\n") {
		return nil, errors.New("frame client: client id contains a line break")
	}
	if cfg.RateLimit < 0 || cfg.Burst < 0 || cfg.MaxInFlight < 0 {
		return nil, errors.New("frame client: RateLimit, Burst and MaxInFlight must not be negative")
	}
	return base, nil
}

// setRetryDefaults fills the retry settings the config left zero.
func (c *Client) setRetryDefaults() {
	switch {
	case c.retryMax == 0:
		c.retryMax = DefaultRetryMax
	case c.retryMax < 0:
		c.retryMax = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	if c.waitMax < c.waitMin {
		c.waitMax = c.waitMin
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	if c.now == nil {
		c.now = time.Now
	}
}

// newHTTPClient is the client's HTTP client: every attempt signed, rate-
// and in-flight-limited and timed out by attemptTransport.
func newHTTPClient(cfg Config, now func() time.Time) *http.Client {
	ua := cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}

	var baseRT http.RoundTripper
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
		baseRT = cfg.HTTPClient.Transport
	}
	if baseRT == nil {
		t := cleanhttp.DefaultPooledTransport()
		// Keep as many idle connections as requests may be in flight: the
		// default (GOMAXPROCS+1) made every burst of a large fan-out dial
		// hundreds of new connections (BENCHMARKS.md).
		idle := max(cfg.MaxInFlight, 256)
		t.MaxIdleConns, t.MaxIdleConnsPerHost = idle, idle
		baseRT = t
	}
	at := &attemptTransport{
		base:     baseRT,
		clientID: cfg.ClientID,
		secret:   []byte(cfg.ClientSecret),
		now:      now,
		logger:   cfg.Logger,
		onReq:    cfg.OnRequest,
		ua:       ua,
	}
	if cfg.RateLimit > 0 {
		burst := cfg.Burst
		if burst == 0 {
			burst = 1
		}
		at.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), burst)
	}
	if cfg.MaxInFlight > 0 {
		at.sem = semaphore.NewWeighted(int64(cfg.MaxInFlight))
	}
	hc.Transport = at
	hc.Jar = nil
	// A redirect would carry a fresh signature to wherever it points; the
	// Admin API does not redirect, so a 3xx is reported, not followed.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The per-attempt timeout is applied by attemptTransport, after the
	// rate-limit and in-flight waits, so queueing never eats into it.
	switch {
	case cfg.RequestTimeout > 0:
		at.timeout = cfg.RequestTimeout
	case cfg.RequestTimeout == 0:
		at.timeout = DefaultRequestTimeout
	}
	return hc
}

// String describes the client without its secret.
func (c *Client) String() string {
	return fmt.Sprintf("frame.Client{BaseURL: %q, ClientID: %q, ReadOnly: %t}", c.base.String(), c.clientID, c.readOnly)
}

// GoString keeps %#v from printing internals.
func (c *Client) GoString() string { return c.String() }

type secretHolder struct{ secret string }

func (*secretHolder) String() string   { return redacted }
func (*secretHolder) GoString() string { return redacted }

// BaseURL is the API base URL requests are sent under.
func (c *Client) BaseURL() string { return c.base.String() }

// ReadOnly reports whether the client refuses anything but reads.
func (c *Client) ReadOnly() bool { return c.readOnly }

// Request is one Admin API request. Path is already built and escaped (see
// PathFor); Form and JSON are mutually exclusive bodies.
type Request struct {
	Method string
	Path   string     // e.g. /accounts/abc/publish, relative to the base URL
	Query  url.Values // may be nil
	Form   url.Values // application/x-www-form-urlencoded body
	JSON   any        // application/json body
	// Header holds parameters the docs send as request headers. It never
	// overrides the signature, Accept or Content-Type headers.
	Header http.Header
	// API selects the base URL: "" for v1, "v1alpha" for the older web API.
	API string
	// Secret names parameters (form, query or top-level JSON keys) whose
	// values must never be echoed: errors carry "[redacted]" in their place.
	// BuildRequest fills it from the catalog.
	Secret []string
}

// Body returns the encoded body and its content type ("" and nil for none).
func (r *Request) Body() (contentType string, body []byte, err error) {
	switch {
	case r.Form != nil && r.JSON != nil:
		return "", nil, errors.New("both a form and a JSON body")
	case r.Form != nil:
		return "application/x-www-form-urlencoded", []byte(r.Form.Encode()), nil
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return "", nil, fmt.Errorf("encoding the JSON body: %v", err)
		}
		return "application/json", b, nil
	}
	return "", nil, nil
}

// Response is a successful (2xx) answer, or the answer that an APIError
// describes.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Attempts int
}

// Do sends req and, for a 2xx answer, decodes its JSON body into out (when
// out is non-nil and the body is not empty). Errors:
//   - *InvalidRequestError: refused locally, nothing sent (bad path, read-only);
//   - *APIError: a non-2xx answer (the Response is returned too);
//   - *OutcomeUnknownError: a mutation that may have reached the server;
//   - *NetworkError: transport failure of a read, or of a mutation that
//     provably never reached the server;
//   - the context's error.
func (c *Client) Do(ctx context.Context, req *Request, out any) (*Response, error) {
	if req == nil {
		return nil, &InvalidRequestError{Reason: "nil request"}
	}
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	if method == "" {
		method = http.MethodGet
	}
	// Only errors name the endpoint: not one string per request sent.
	endpoint := func() string { return method + " " + req.Path }
	if !validMethod(method) {
		return nil, &InvalidRequestError{Endpoint: quoteShort(req.Method), Reason: "bad HTTP method"}
	}
	if err := checkRequestPath(req.Path); err != nil {
		return nil, &InvalidRequestError{Reason: err.Error()}
	}
	if (c.readOnly || readOnlyContext(ctx)) && method != http.MethodGet && method != http.MethodHead {
		return nil, &InvalidRequestError{Endpoint: endpoint(), Err: ErrReadOnly}
	}
	ctype, body, err := req.Body()
	if err != nil {
		return nil, &InvalidRequestError{Endpoint: endpoint(), Reason: err.Error()}
	}
	base := c.base
	switch req.API {
	case "", APIv1:
	case APIv1Alpha:
		base = c.alphaBase
	default:
		return nil, &InvalidRequestError{Endpoint: endpoint(), Reason: fmt.Sprintf("unknown API %q", req.API)}
	}
	for k := range req.Header {
		if reservedHeader(k) {
			return nil, &InvalidRequestError{Endpoint: endpoint(), Reason: fmt.Sprintf("header %s is set by the client, not by a parameter", k)}
		}
	}
	u := *base
	u.RawPath = base.EscapedPath() + req.Path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, &InvalidRequestError{Endpoint: endpoint(), Reason: "bad percent escape in path"}
	}
	u.Path = p
	u.RawQuery = req.Query.Encode()

	st := &callState{method: method, path: req.Path, idempotent: isIdempotent(method)}
	ctx = context.WithValue(ctx, callStateKey{}, st)
	// An empty body is no body: handing retryablehttp a zero-length reader
	// makes net/http send "Transfer-Encoding: chunked" with an empty chunk,
	// which servers may misread; nil makes a POST say Content-Length: 0.
	var rawBody any
	if len(body) > 0 {
		rawBody = body
	} else {
		ctype = ""
	}
	rreq, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), rawBody)
	if err != nil {
		return nil, &InvalidRequestError{Endpoint: endpoint(), Reason: err.Error()}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			rreq.Header.Add(k, v)
		}
	}
	rreq.Header.Set("Accept", "application/json")
	if ctype != "" {
		rreq.Header.Set("Content-Type", ctype)
	}
	resp, err := c.retrying.Do(rreq)
	attempts := int(st.attempts.Load())
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, c.transportError(ctx, st, req, body, attempts, err)
	}
	defer resp.Body.Close()
	data, rerr := readBody(resp.Body, resp.ContentLength)
	if rerr == nil && len(data) > maxResponseBytes {
		rerr = fmt.Errorf("response larger than %d bytes", maxResponseBytes)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: data, Attempts: attempts}
	if rerr != nil {
		if !st.idempotent {
			// The server answered, so it acted (or refused); what it said is lost.
			return nil, c.outcomeUnknown(st, req, body, fmt.Errorf("reading the %d response: %w", resp.StatusCode, stripURLError(rerr)))
		}
		return nil, &NetworkError{Method: method, Path: req.Path, Attempts: attempts, Err: stripURLError(rerr)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{
			Method:     method,
			Path:       req.Path,
			Status:     resp.StatusCode,
			Message:    c.excerpt(data, append(secretValues(req), st.signatures()...)),
			RetryAfter: resp.Header.Get("Retry-After"),
		}
		if !st.idempotent && mayHaveActed(resp.StatusCode) {
			// A gateway error to a mutation: the gateway may have forwarded
			// it before timing out or failing; a 500: the server failed
			// somewhere in handling it, maybe after acting. Never re-sent;
			// reconcile.
			return r, c.outcomeUnknown(st, req, body, apiErr)
		}
		return r, apiErr
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			if !st.idempotent {
				return r, c.unreadable(req, resp.StatusCode, err)
			}
			return r, fmt.Errorf("%s %s: decoding the %d response: %w", method, req.Path, resp.StatusCode, err)
		}
	}
	return r, nil
}

// reservedHeader names the headers only the client sets.
func reservedHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Accept", "Content-Type", "Content-Length", "Transfer-Encoding", "Host", "User-Agent", "Connection":
		return true
	}
	return strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Frame-")
}

// unreadable is the error for a mutation the server accepted (2xx) whose
// answer cannot be understood: it took effect, but what it started (a task
// id) is lost. It is an *OutcomeUnknownError, so it is neither retried nor
// re-sent but reconciled, like an answer lost on the wire.
func (c *Client) unreadable(req *Request, status int, err error) error {
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	if method == "" {
		method = http.MethodGet
	}
	if isIdempotent(method) {
		return fmt.Errorf("%s %s: decoding the %d response: %w", method, req.Path, status, err)
	}
	_, body, _ := req.Body()
	return c.outcomeUnknown(&callState{method: method, path: req.Path}, req, body,
		fmt.Errorf("the server accepted it (%d) but its answer cannot be read: %w", status, err))
}

func (c *Client) transportError(ctx context.Context, st *callState, req *Request, body []byte, attempts int, err error) error {
	err = stripURLError(err)
	if !st.idempotent && st.wrote.Load() {
		return c.outcomeUnknown(st, req, body, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", st.method, req.Path, ctxErr)
	}
	return &NetworkError{Method: st.method, Path: req.Path, Attempts: attempts, Err: err}
}

func (c *Client) outcomeUnknown(st *callState, req *Request, body []byte, err error) *OutcomeUnknownError {
	q := req.Query
	if len(req.Secret) > 0 {
		q = redactValues(q, req.Secret)
		switch {
		case req.Form != nil:
			body = []byte(redactValues(req.Form, req.Secret).Encode())
		case req.JSON != nil:
			if m, ok := req.JSON.(map[string]any); ok {
				if b, err := json.Marshal(redactJSON(m, req.Secret, true)); err == nil {
					body = b
				}
			}
		}
	}
	return &OutcomeUnknownError{
		Method: st.method,
		Path:   req.Path,
		Query:  q.Encode(),
		Body:   append([]byte(nil), body...),
		Err:    err,
	}
}

func redactValues(v url.Values, names []string) url.Values {
	if v == nil {
		return nil
	}
	cp := make(url.Values, len(v))
	for k, vs := range v {
		cp[k] = vs
	}
	for k := range cp {
		for _, n := range names {
			if isParamKey(k, n) {
				cp[k] = []string{redacted}
			}
		}
	}
	return cp
}

// redactJSON copies a JSON object body with the secret keys masked, at the
// top level and, for a body wrapped in one key ({"session_settings": {...}}),
// one level down.
func redactJSON(m map[string]any, names []string, descend bool) map[string]any {
	cp := make(map[string]any, len(m))
	for k, v := range m {
		cp[k] = v
	}
	for _, name := range names {
		if _, ok := cp[name]; ok {
			cp[name] = redacted
		}
	}
	if descend && len(cp) == 1 {
		for k, v := range cp {
			if inner, ok := v.(map[string]any); ok {
				cp[k] = redactJSON(inner, names, false)
			}
		}
	}
	return cp
}

// isParamKey reports whether a query or form key carries parameter name:
// the name itself or its bracket notation (name[], name[k]).
func isParamKey(key, name string) bool {
	return key == name || strings.HasPrefix(key, name+"[")
}

// secretValues lists the values of req's secret parameters, so an echo of
// them in a server message can be redacted.
func secretValues(req *Request) []string {
	var out []string
	m, _ := req.JSON.(map[string]any)
	var inner map[string]any // a body wrapped in one key ({"session_settings": {...}})
	if len(m) == 1 {
		for _, v := range m {
			inner, _ = v.(map[string]any)
		}
	}
	for _, n := range req.Secret {
		for _, vals := range []url.Values{req.Form, req.Query} {
			for k, vs := range vals {
				if isParamKey(k, n) {
					out = append(out, vs...)
				}
			}
		}
		out = append(out, req.Header.Values(n)...)
		for _, obj := range []map[string]any{m, inner} {
			if s, ok := obj[n].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// stripURLError drops *url.Error's "Get \"https://...\":" prefix: the typed
// errors already name the method and path.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// excerpt is the server's message: the JSON "error", "message", "errors" or
// "detail" field when there is one, else the raw text; cut to 300
// characters, control characters removed, and any echo of the secret
// redacted.
func (c *Client) excerpt(data []byte, secrets []string) string {
	msg := ""
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		for _, k := range []string{"error", "message", "errors", "detail", "error_description"} {
			v, ok := m[k]
			if !ok || v == nil {
				continue
			}
			if s, ok := v.(string); ok {
				msg = s
			} else if b, err := json.Marshal(v); err == nil {
				msg = string(b)
			}
			break
		}
	}
	if msg == "" {
		msg = string(data)
	}
	for _, s := range append(secrets, c.creds.secret) {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return shorten(msg, maxMessageRunes)
}

// shorten collapses whitespace, drops control characters and cuts s to n
// runes.
func shorten(s string, n int) string {
	var b strings.Builder
	count := 0
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			count++
			space = false
		}
		if count >= n {
			b.WriteString("…")
			return b.String()
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

type readOnlyKey struct{}

// WithReadOnly returns a context under which the client refuses anything
// but reads, as a read-only client does. A plan made with the client that
// will later apply it (one client per prepared workflow) keeps the same
// guarantee: nothing it does can reach the API as a mutation.
func WithReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyKey{}, true)
}

func readOnlyContext(ctx context.Context) bool {
	ro, _ := ctx.Value(readOnlyKey{}).(bool)
	return ro
}

// readBody reads at most maxResponseBytes+1 bytes of a response body (one
// more than allowed, so that the caller sees a body that is too long). A
// body whose length the server announced is read into one buffer of that
// size; io.ReadAll would grow one from 512 bytes, copying at each doubling,
// for every one of a rollout's requests.
func readBody(body io.Reader, announced int64) ([]byte, error) {
	limited := io.LimitReader(body, maxResponseBytes+1)
	if announced <= 0 || announced > maxResponseBytes {
		return io.ReadAll(limited)
	}
	// bytes.Buffer.ReadFrom keeps MinRead bytes free to read into: with
	// them reserved it reads the announced body and its EOF without
	// growing (a longer body than announced still grows it).
	buf := bytes.NewBuffer(make([]byte, 0, announced+bytes.MinRead))
	_, err := buf.ReadFrom(limited)
	return buf.Bytes(), err
}
