package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/frameflow/frameflow/engine"
	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/schema"
)

// http.request calls a non-Frame HTTP service (a chat webhook, a change
// ticket system, an inventory service). Any method but GET and HEAD is a
// mutation: planned, approved, journaled with an intent before sending,
// and never sent again by a resume unless the step declares it idempotent.

const httpStep = "http.request"

// httpMaxBody bounds what a response may hold; more is an error, not a
// silently cut JSON document.
const httpMaxBody = 10 << 20

// httpDefaultTimeout bounds one request when the step has no timeout.
const httpDefaultTimeout = 30 * time.Second

// sensitiveHeader names headers whose values are shown as "(sensitive)" in
// plans, the journal and errors, whatever their origin: they carry
// credentials by convention even when no input was marked secret.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	if n == "authorization" || n == "proxy-authorization" || n == "cookie" {
		return true
	}
	for _, w := range []string{"token", "secret", "key", "signature", "password", "auth"} {
		if strings.Contains(n, w) && !isIdempotencyHeader(n) {
			return true
		}
	}
	return false
}

// isIdempotencyHeader: a request carrying one of these may be sent again,
// because the server promises to apply it once per key.
func isIdempotencyHeader(name string) bool {
	n := strings.ToLower(name)
	return n == "idempotency-key" || n == "x-idempotency-key"
}

var httpMethods = []any{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

func httpReadOnly(method string) bool { return method == "GET" || method == "HEAD" }

func (s *stepsImpl) httpRequest() *engine.StepType {
	return &engine.StepType{
		Name: httpStep,
		Description: "Sends an HTTP request to a non-Frame service (webhook, ticket system, inventory); " +
			"any method but GET/HEAD is a mutation: planned, approved, journaled, not re-sent by resume unless idempotent.",
		Inputs: []engine.InputSpec{
			{Name: "method", Type: "string", Default: "GET", Enum: httpMethods, Description: "HTTP method. Anything but GET and HEAD is a mutation and needs approval."},
			{Name: "url", Type: "string", Required: true, Sensitive: true, Description: "Absolute http(s) URL. Its host must be in the workflow's http.allow when that list is set. Mark an input secret when the URL itself is a credential (webhook URLs)."},
			{Name: "headers", Type: "object", Sensitive: true, Description: "Request headers (name: value). Values of credential-like headers (Authorization, *token*, *key*, *secret*) are never shown; secret inputs never are either."},
			{Name: "query", Type: "object", Description: "Query parameters (name: value), added to the URL's own."},
			{Name: "json", Type: "any", Sensitive: true, Description: "Body, sent as JSON (Content-Type: application/json)."},
			{Name: "form", Type: "object", Sensitive: true, Description: "Body, sent form-encoded (application/x-www-form-urlencoded). Not with json."},
			{Name: "expect_status", Type: "list", Description: "Statuses that mean success (default: any 2xx). Any other status fails the step with the server's message."},
			{Name: "idempotent", Type: "boolean", Default: false, Description: "The server applies this request at most once however often it is sent (PUT of a whole resource, a server-side dedup): resume may send it again when its outcome is unknown. An Idempotency-Key header implies it."},
		},
		Outputs: map[string]*engine.Shape{
			"status":  doc(engine.IntShape(), "the response's HTTP status"),
			"headers": doc(engine.OpenObjectShape(nil), "response headers, lower-case names, first value of each"),
			"body":    doc(engine.AnyShape(), "the response decoded as JSON when it is JSON, else its text"),
			"text":    doc(engine.StringShape(), "the response body as text"),
		},
		Mutates: true,
		// Two mutations of one URL never run at once (a ticket opened and
		// closed by parallel branches); different URLs run in parallel.
		Resources: func(in map[string]any) []string {
			if m, _ := in["method"].(string); m == "" || httpReadOnly(strings.ToUpper(m)) {
				return nil // reads run in parallel
			}
			if u, ok := in["url"].(string); ok && u != "" {
				return []string{"http:" + httpWhere(u)}
			}
			return nil
		},
		NeedsApproval: func(constants map[string]any, dynamic map[string]bool) bool {
			if dynamic["method"] {
				return true // decided at run time: assume a mutation
			}
			m, ok := constants["method"].(string)
			return ok && !httpReadOnly(strings.ToUpper(m))
		},
		Check: func(wf *schema.Workflow, constants map[string]any) []engine.InputProblem {
			u, ok := constants["url"].(string)
			if !ok {
				return nil // an expression: checked before sending
			}
			if err := checkHTTPURL(u, wf.HTTPAllow); err != nil {
				return []engine.InputProblem{{Input: "url", Message: err.Error()}}
			}
			return nil
		},
		Run: s.runHTTPRequest,
	}
}

// checkHTTPURL refuses anything but an absolute http(s) URL whose host is
// in allow (nil allow: any host). Errors never quote the URL: it may be a
// secret (a webhook URL); the host is shown.
func checkHTTPURL(raw string, allow []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("url must be an absolute http:// or https:// URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("url must not carry credentials (user:password@); use a header from a secret input")
	}
	if allow == nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	hostPort := strings.ToLower(u.Host)
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == host || a == hostPort:
			return nil
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]):
			return nil
		}
	}
	return fmt.Errorf("host %q is not in the workflow's http.allow (%s)", u.Host, strings.Join(allow, ", "))
}

// httpRequest is one outgoing request, built once from the step's inputs
// (buildHTTPRequest): the plan, the journal's intent and apply's guard see
// it through mutation(), the sender sends it unchanged. Nothing rebuilds
// the request between the plan and the wire.
type httpRequest struct {
	method string
	url    string            // with the query merged in
	header map[string]string // every header frameflow sets, canonical names
	body   []byte            // encoded; nil: no body
	form   bool              // body is form-encoded (else JSON)
	// How the step judges the answer; not part of the request.
	expect     map[int]bool
	idempotent bool
}

// buildHTTPRequest reads the step's inputs into the request that will be
// sent. In plan modes an input may hold Unknown (known after apply): it is
// built in as "(known after apply)", so the plan shows the request as far
// as it is known, and such a request is never sent (run mode refuses
// unknown inputs before this).
func buildHTTPRequest(in map[string]any, allow []string) (*httpRequest, error) {
	a := args(in)
	r := &httpRequest{header: map[string]string{}, expect: map[int]bool{}}
	var err error
	if r.method, err = httpMethodOf(a); err != nil {
		return nil, err
	}
	if r.url, err = httpURLOf(a, allow); err != nil {
		return nil, err
	}
	if err := r.readHeaders(a); err != nil {
		return nil, err
	}
	if err := r.readBody(a); err != nil {
		return nil, err
	}
	if !a.unknown("idempotent") {
		idem, err := a.boolean("idempotent", false)
		if err != nil {
			return nil, invalid(httpStep, err)
		}
		r.idempotent = r.idempotent || idem
	}
	if err := r.readExpect(a); err != nil {
		return nil, err
	}
	return r, nil
}

// httpMethodOf is the method, upper case, GET when absent.
func httpMethodOf(a args) (string, error) {
	m, err := a.str("method")
	if err != nil {
		return "", invalid(httpStep, err)
	}
	method := strings.ToUpper(m)
	if method == "" {
		return "GET", nil
	}
	for _, x := range httpMethods {
		if x == method {
			return method, nil
		}
	}
	return "", invalidf(httpStep, "method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE", m)
}

// httpURLOf is the checked URL with the query input merged into its own.
func httpURLOf(a args, allow []string) (string, error) {
	if a.unknown("url") {
		return fmt.Sprint(engine.Unknown), nil
	}
	raw, err := a.id("url")
	if err != nil {
		return "", invalid(httpStep, err)
	}
	if err := checkHTTPURL(raw, allow); err != nil {
		return "", invalid(httpStep, err)
	}
	u, _ := url.Parse(raw)
	switch qv := a["query"].(type) {
	case nil:
	case map[string]any:
		if len(qv) == 0 {
			break
		}
		q := u.Query()
		for k, v := range qv {
			s, err := scalarString(v)
			if err != nil {
				return "", invalidf(httpStep, "query %s: %v", k, err)
			}
			q.Set(k, s)
		}
		u.RawQuery = q.Encode()
	default:
		return "", invalidf(httpStep, "query must be an object (name: value)")
	}
	return u.String(), nil
}

func (r *httpRequest) readHeaders(a args) error {
	switch hv := a["headers"].(type) {
	case nil:
	case map[string]any:
		for k, v := range hv {
			s, err := scalarString(v)
			if err != nil {
				return invalidf(httpStep, "header %s: %v", k, err)
			}
			if strings.ContainsAny(k+s, "\r\n") {
				return invalidf(httpStep, "header %s: a name or value must not hold a line break", k)
			}
			r.header[http.CanonicalHeaderKey(k)] = s
			if isIdempotencyHeader(k) && s != "" {
				r.idempotent = true
			}
		}
	default:
		return invalidf(httpStep, "headers must be an object (name: value)")
	}
	if r.header["User-Agent"] == "" {
		r.header["User-Agent"] = "frameflow"
	}
	return nil
}

// readBody encodes the json or form input, and sets its Content-Type
// unless a header gave one.
func (r *httpRequest) readBody(a args) error {
	if a.has("json") && a.has("form") {
		return invalidf(httpStep, "give json or form, not both")
	}
	ctype := ""
	switch {
	case a.has("json"):
		b, err := json.Marshal(a["json"])
		if err != nil {
			return invalidf(httpStep, "json: %v", err)
		}
		r.body, ctype = b, "application/json"
	case a.has("form"):
		fv, ok := a["form"].(map[string]any)
		if !ok {
			return invalidf(httpStep, "form must be an object (name: value)")
		}
		vals := url.Values{}
		for k, v := range fv {
			s, err := scalarString(v)
			if err != nil {
				return invalidf(httpStep, "form %s: %v", k, err)
			}
			vals.Set(k, s)
		}
		r.body, r.form, ctype = []byte(vals.Encode()), true, "application/x-www-form-urlencoded"
	default:
		return nil
	}
	if httpReadOnly(r.method) {
		return invalidf(httpStep, "a %s request has no body; use query", r.method)
	}
	if r.header["Content-Type"] == "" {
		r.header["Content-Type"] = ctype
	}
	return nil
}

func (r *httpRequest) readExpect(a args) error {
	switch ev := a["expect_status"].(type) {
	case nil:
	case []any:
		for _, x := range ev {
			n, ok := asInt(x)
			if !ok || n < 100 || n > 599 {
				return invalidf(httpStep, "expect_status: %v is not an HTTP status", x)
			}
			r.expect[n] = true
		}
	default:
		if !engine.IsUnknown(ev) {
			return invalidf(httpStep, "expect_status must be a list of statuses")
		}
	}
	return nil
}

// mutation describes r as the engine records it: method, URL, headers and
// body exactly as they travel, with credential-like header values masked
// (secret inputs are masked wherever they appear by the run's redaction).
// Send is left to the caller, which sends r itself.
func (r *httpRequest) mutation() *engine.Mutation {
	m := &engine.Mutation{Type: httpStep, Method: r.method, Path: r.url, Headers: make(map[string]string, len(r.header))}
	for k, v := range r.header {
		if sensitiveHeader(k) {
			v = "(sensitive)"
		}
		m.Headers[k] = v
	}
	switch {
	case r.body == nil:
	case r.form:
		vals, _ := url.ParseQuery(string(r.body)) // encoded by readBody
		m.Body = vals
	default:
		m.Body = json.RawMessage(r.body)
	}
	if r.idempotent {
		m.Details = []engine.Detail{{Label: "idempotent", Value: "yes: resume may send it again when its outcome is unknown"}}
	}
	return m
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// scalarString turns a header, query or form value into its text.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, float64, int, int64, json.Number:
		if f, ok := x.(float64); ok && f == float64(int64(f)) {
			return fmt.Sprint(int64(f)), nil
		}
		return fmt.Sprint(x), nil
	case nil:
		return "", nil
	}
	if engine.IsUnknown(v) {
		return fmt.Sprint(engine.Unknown), nil
	}
	return "", fmt.Errorf("want a string, number or boolean, got %s", describe(v))
}

func (s *stepsImpl) runHTTPRequest(ctx context.Context, sc *engine.StepContext, in map[string]any) (map[string]any, error) {
	var allow []string
	if wf := sc.Workflow(); wf != nil {
		allow = wf.HTTPAllow
	}
	// Unknown inputs (plan modes): the request is built and shown as far as
	// it is known; it is never sent.
	unknown := containsUnknown(in)
	if unknown && sc.Mode() == engine.ModeRun {
		return nil, invalidf(httpStep, "an input is not known (known after apply)")
	}
	if args(in).unknown("method") {
		return httpUnknownOutputs(), nil // decided at apply, which its guard checks
	}
	r, err := buildHTTPRequest(in, allow)
	if err != nil {
		return nil, err
	}
	if httpReadOnly(r.method) {
		if unknown || sc.Mode() == engine.ModeOffline {
			return httpUnknownOutputs(), nil
		}
		// A read is made in plan mode too, as Frame reads are: a fan-out
		// over an inventory service's answer is planned item by item.
		out, err := s.sendHTTP(ctx, r)
		if err != nil {
			return nil, err
		}
		// Through JSON like a mutation's result, so status is a number of
		// the same type either way.
		v, err := engine.RoundTrip(out)
		if err != nil {
			return nil, err
		}
		return v.(map[string]any), nil
	}
	return s.mutateHTTP(ctx, sc, r, unknown)
}

// mutateHTTP plans or sends r, a mutation, through the engine (journal,
// apply's guard); unknown: r holds values known only after apply.
func (s *stepsImpl) mutateHTTP(ctx context.Context, sc *engine.StepContext, r *httpRequest, unknown bool) (map[string]any, error) {
	m := r.mutation()
	m.Placeholder = httpUnknownOutputs()
	m.Send = func(ctx context.Context) (any, error) {
		if unknown {
			return nil, errors.New("not sent: an input is not known")
		}
		return s.sendHTTP(ctx, r)
	}
	if r.idempotent {
		// Nothing can be read back from an arbitrary service, but the step
		// declared that the server applies the request once however often it
		// arrives, so sending it again is the safe way to learn its result.
		m.Reconcile = func(context.Context) (any, bool, error) { return nil, false, nil }
	}
	res, err := sc.Mutate(ctx, m)
	if err != nil {
		return nil, err
	}
	if engine.IsUnknown(res) {
		return httpUnknownOutputs(), nil
	}
	out, ok := res.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: unexpected result %s", httpStep, describe(res))
	}
	return out, nil
}

func httpUnknownOutputs() map[string]any {
	return map[string]any{"status": engine.Unknown, "headers": engine.Unknown, "body": engine.Unknown, "text": engine.Unknown}
}

// httpClient does not follow redirects: a redirect could lead outside
// http.allow, and a mutation must not be re-sent to another place.
var httpClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// sendHTTP makes one request. Errors follow the frame client's classes, so
// retry policies and the journal treat them alike: a connection never made
// is a NetworkError (nothing was sent); a mutation that may have reached the
// server and got no clear answer is an OutcomeUnknownError.
func (s *stepsImpl) sendHTTP(ctx context.Context, r *httpRequest) (map[string]any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, httpDefaultTimeout)
		defer cancel()
	}
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { connected.Store(true) },
	})
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, rd)
	if err != nil {
		return nil, invalid(httpStep, err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, r.transportError(ctx, err, connected.Load())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, httpMaxBody+1))
	if err != nil {
		return nil, r.transportError(ctx, err, true)
	}
	return r.outputs(resp, b)
}

// transportError classifies a request that got no answer: sent says the
// request may have reached the server (its headers were written).
func (r *httpRequest) transportError(ctx context.Context, err error, sent bool) error {
	where := httpWhere(r.url)
	if !httpReadOnly(r.method) && sent && !r.idempotent {
		return &frame.OutcomeUnknownError{Method: r.method, Path: where, Err: stripURL(err)}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", r.method, where, ctx.Err())
	}
	return &frame.NetworkError{Method: r.method, Path: where, Attempts: 1, Err: stripURL(err)}
}

// outputs judges an answer by its status and makes the step's outputs.
func (r *httpRequest) outputs(resp *http.Response, b []byte) (map[string]any, error) {
	where := httpWhere(r.url)
	if len(b) > httpMaxBody {
		return nil, fmt.Errorf("%s %s: the response is larger than %d MiB", r.method, where, httpMaxBody>>20)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(r.expect) > 0 {
		ok = r.expect[resp.StatusCode]
	}
	if !ok {
		apiErr := &frame.APIError{Method: r.method, Path: where, Status: resp.StatusCode, Message: excerpt(b), RetryAfter: resp.Header.Get("Retry-After")}
		// A server error to a mutation may come after its effect (a proxy
		// timing out, a crash after the write): only 429 and 503 say the
		// request was refused. The outcome of the others is unknown.
		if !httpReadOnly(r.method) && !r.idempotent && resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			return nil, &frame.OutcomeUnknownError{Method: r.method, Path: where, Err: apiErr}
		}
		return nil, apiErr
	}
	headers := map[string]any{}
	for k, v := range resp.Header {
		if len(v) > 0 {
			headers[strings.ToLower(k)] = v[0]
		}
	}
	out := map[string]any{"status": resp.StatusCode, "headers": headers, "text": string(b), "body": string(b)}
	if len(bytes.TrimSpace(b)) > 0 && strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "json") {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s %s: %d with a Content-Type of JSON but the body does not decode: %v", r.method, where, resp.StatusCode, err)
		}
		out["body"] = v
	}
	return out, nil
}

// httpWhere is how errors name a request: the URL without its query (query
// values are often tokens); secret values left in the path are redacted by
// the run's redactor like every other string.
func httpWhere(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// stripURL keeps net/http's error without the URL it quotes (it holds the
// query string); the caller's message names the URL without it.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return err
}

// excerpt is the start of an error response, for the step's error.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
