package frame

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// This file is the contract shared by the client, the catalog, the steps and
// the CLI. Change it only with care: several packages are written against it.

// ParamIn says where a catalog parameter travels.
type ParamIn string

const (
	InPath  ParamIn = "path"
	InQuery ParamIn = "query"
	InForm  ParamIn = "form" // application/x-www-form-urlencoded body
	InJSON  ParamIn = "json" // a key of a JSON object body
	// InHeader is a request header; only where a documented example sends a
	// parameter that way (the account usage call's resolution_type).
	InHeader ParamIn = "header"
)

// ResponseKind is the documented shape of an endpoint's response.
type ResponseKind string

const (
	RespObject        ResponseKind = "object"         // a JSON object
	RespList          ResponseKind = "list"           // a JSON array
	RespTask          ResponseKind = "task"           // any of the documented task shapes (see ExtractTask)
	RespEmpty         ResponseKind = "empty"          // no body, or {}
	RespPublishStatus ResponseKind = "publish_status" // {"status": "in_progress"|"completed", "id": ...}
	RespText          ResponseKind = "text"           // not JSON (v1alpha recent_sessions answers text/csv)
)

// Param is one documented request parameter.
type Param struct {
	Name        string  `json:"name"`
	In          ParamIn `json:"in"`
	Type        string  `json:"type"` // string, integer, number, boolean, object, array
	Required    bool    `json:"required"`
	Description string  `json:"description,omitempty"`
	// Secret marks a value that must never be logged, planned or echoed
	// (e.g. a domain service account password).
	Secret bool `json:"secret,omitempty"`
	// Minimum and Maximum bound a number (a server count cannot be -1);
	// BuildRequest refuses a value outside them before anything is sent.
	Minimum *float64 `json:"minimum,omitempty"`
	Maximum *float64 `json:"maximum,omitempty"`
}

// Endpoint is one entry of the Admin API catalog. The catalog is data
// (catalog.json, embedded) used by the client, the steps, the workflow schema,
// the simulator and the docs.
type Endpoint struct {
	Name        string       `json:"name"`  // stable, e.g. "accounts.list", "sandbox.clone", "pools.elasticity.set"
	Group       string       `json:"group"` // account, organization, customer, infrastructure
	Method      string       `json:"method"`
	Path        string       `json:"path"` // template with {param} placeholders, e.g. /accounts/{account_id}/publish
	Summary     string       `json:"summary"`
	Params      []Param      `json:"params"`
	Mutates     bool         `json:"mutates"`
	Destructive bool         `json:"destructive,omitempty"` // overwrites or deletes data: needs approval
	Response    ResponseKind `json:"response"`
	// Example is the documented response example, made valid JSON (nil when
	// the docs show none). The simulator answers with it for endpoints it
	// does not model.
	Example json.RawMessage `json:"example,omitempty"`
	Status  int             `json:"status,omitempty"` // documented success status, 200 when 0
	// Notes records where the docs are inconsistent and which reading the
	// catalog follows (the curl example over the table, ...).
	Notes string `json:"notes,omitempty"`
	// DocNote quotes the docs' own wording where the parameter table and
	// the curl example disagree, so the choice in Notes can be checked
	// against the source without opening it.
	DocNote string `json:"doc_note,omitempty"`
	// JSONWrap, when set, nests the JSON parameters under this one key of
	// the body ({"session_settings": {...}}), as the curl example sends them.
	JSONWrap string `json:"json_wrap,omitempty"`
	// API is the API version the endpoint belongs to: "" for the Admin API
	// v1, "v1alpha" for the older web API (its own catalog and base URL).
	API string `json:"api,omitempty"`
}

// Task stages as documented.
const (
	StageNotStarted = "not_started"
	StageInProgress = "in_progress"
	StageDone       = "done"
	StageFailed     = "failed"
)

// Task is a Frame asynchronous task ("pending request").
type Task struct {
	ID                 string          `json:"id"`
	AccountID          string          `json:"account_id,omitempty"`
	CustomerID         string          `json:"customer_id,omitempty"`
	OrganizationID     string          `json:"organization_id,omitempty"`
	PoolID             *string         `json:"pool_id,omitempty"`
	Kind               string          `json:"kind,omitempty"`
	DisplayName        string          `json:"display_name,omitempty"`
	Stage              string          `json:"stage"`
	DurationSec        *float64        `json:"duration_sec,omitempty"`
	InsertedAt         string          `json:"inserted_at,omitempty"`
	UpdatedAt          string          `json:"updated_at,omitempty"`
	FinishedAt         *string         `json:"finished_at,omitempty"`
	ProgressInfo       json.RawMessage `json:"progress_info,omitempty"`
	ResultInfo         json.RawMessage `json:"result_info,omitempty"`
	ExternalResourceID json.RawMessage `json:"external_resource_id,omitempty"`
}

// Finished reports whether the task reached a final stage.
func (t *Task) Finished() bool { return t.Stage == StageDone || t.Stage == StageFailed }

// Account as returned by GET /accounts and GET /accounts/:id.
type Account struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Active      bool    `json:"active"`
	Description *string `json:"description"`
	LastPublish *string `json:"last_publish"`
	Kind        string  `json:"kind,omitempty"`
	URLSlug     string  `json:"url_slug,omitempty"`
	InsertedAt  string  `json:"inserted_at,omitempty"`
	Website     *string `json:"website"`
	Notes       *string `json:"notes,omitempty"`
}

// Pool as returned by GET /accounts/:id/pools.
type Pool struct {
	ID           string `json:"id"`
	ExternalID   string `json:"external_id,omitempty"`
	Kind         string `json:"kind"` // sandbox, production, ...
	Name         string `json:"name"`
	DiskSize     int    `json:"disk_size,omitempty"`
	ImageFamily  string `json:"image_family,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
}

// Elasticity is a pool's (or an account's overall) capacity settings.
type Elasticity struct {
	MinServers    int `json:"min_servers"`
	BufferServers int `json:"buffer_servers"`
	MaxServers    int `json:"max_servers"`
}

func (e Elasticity) String() string {
	return fmt.Sprintf("%d/%d/%d", e.MinServers, e.BufferServers, e.MaxServers)
}

// SandboxStatus as returned by GET /accounts/:id/sandbox/status.
type SandboxStatus struct {
	PoolID              string `json:"pool_id"`
	Status              string `json:"status"`
	ActiveServers       int    `json:"active_servers"`
	ActiveSessions      int    `json:"active_sessions"`
	AvailableServers    int    `json:"available_servers"`
	BufferServers       int    `json:"buffer_servers"`
	MaxServers          int    `json:"max_servers"`
	MaxUsers            int    `json:"max_users"`
	MinServers          int    `json:"min_servers"`
	RunningServers      int    `json:"running_servers"`
	TotalRunningServers int    `json:"total_running_servers"`
	TotalServers        int    `json:"total_servers"`
}

// PublishStatus as returned by GET /accounts/:id/publish/:task_id and the
// items of GET /accounts/:id/publish/tasks.
type PublishStatus struct {
	ID                json.RawMessage `json:"id"`
	Status            string          `json:"status"` // in_progress, completed
	LastChange        string          `json:"last_change,omitempty"`
	NumberOfInstances int             `json:"number_of_instances,omitempty"`
	RequestID         json.RawMessage `json:"request_id,omitempty"`
}

// PublishID is the id the publish task list names a publish by
// ("gateway-prod.57186"); for a status answer, the id it carries.
func (p PublishStatus) PublishID() string { return jsonID(p.ID) }

// StatusID is what GET /accounts/:id/publish/:request_id is addressed by:
// the entry's integer request_id, as the docs' curl example writes it, or
// its id when the entry has no request_id.
func (p PublishStatus) StatusID() string {
	if id := jsonID(p.RequestID); id != "" {
		return id
	}
	return jsonID(p.ID)
}

// jsonID renders a JSON id that may be a string or a number ("" for none).
func jsonID(r json.RawMessage) string {
	r = json.RawMessage(strings.TrimSpace(string(r)))
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(r, &n); err == nil {
		return n.String()
	}
	return string(r)
}

// ErrorClass names why a call failed, for retry policies (the `on:` list of a
// step's retry) and for reports.
type ErrorClass string

const (
	ClassThrottled      ErrorClass = "throttled"       // 429
	ClassServerError    ErrorClass = "server_error"    // 5xx
	ClassNetwork        ErrorClass = "network"         // the request provably did not reach the server
	ClassOutcomeUnknown ErrorClass = "outcome_unknown" // a mutation may or may not have happened
	ClassClientError    ErrorClass = "client_error"    // 4xx other than 429 (never retried by default)
	ClassConflict       ErrorClass = "conflict"        // 409: another operation on the resource is running
	ClassTaskFailed     ErrorClass = "task_failed"     // a Frame task ended in stage "failed"
	ClassTimeout        ErrorClass = "timeout"
	ClassInvalid        ErrorClass = "invalid" // refused locally before sending
)

// APIError is a non-2xx answer. Message is a short excerpt of the server's
// message; it never contains credentials.
type APIError struct {
	Method     string
	Path       string // the path as sent, without the query string's secrets (there are none)
	Status     int
	Message    string
	RetryAfter string // the Retry-After header, when present
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), msg)
}

// Class maps the status to an ErrorClass.
func (e *APIError) Class() ErrorClass {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return ClassThrottled
	case e.Status == http.StatusConflict:
		return ClassConflict
	case e.Status >= 500:
		return ClassServerError
	default:
		return ClassClientError
	}
}

// OutcomeUnknownError says a mutating request may have reached the server but
// no answer was read (timeout after writing, connection reset). It is never
// re-sent automatically; callers reconcile through a read.
type OutcomeUnknownError struct {
	Method string
	Path   string
	Query  string
	Body   []byte // the body that was sent (form or JSON); never holds credentials
	Err    error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("%s %s: outcome unknown (the request may have reached the server; not re-sent): %v", e.Method, e.Path, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// TaskFailedError is returned when a waited-on task ends in stage "failed".
type TaskFailedError struct {
	Task *Task
}

// Error puts the reason first (the task's result_info message), then which
// task: a person scanning 68 failures reads why before an id.
func (e *TaskFailedError) Error() string {
	return e.Reason() + " (" + taskLabel(e.Task) + " failed)"
}

// taskLabel is `task "display name" ID`, leaving out what the server did
// not say (a failed task read back without its id read "task  (...)").
func taskLabel(t *Task) string {
	s := "task"
	if t == nil {
		return s
	}
	if t.DisplayName != "" {
		s += " " + strconv.Quote(t.DisplayName)
	}
	if t.ID != "" {
		s += " " + t.ID
	}
	return s
}

// Reason is the task's result_info as a person reads it: its message when
// it is an object with one ("message", "error", "reason", "detail"), the
// string when it is one, else the compact JSON; "no reason given: ..." when
// there is none.
func (e *TaskFailedError) Reason() string {
	info := bytes.TrimSpace(e.Task.ResultInfo)
	if len(info) == 0 || string(info) == "null" {
		return "no reason given: the task has no result_info"
	}
	var s string
	if json.Unmarshal(info, &s) == nil && strings.TrimSpace(s) != "" {
		return s
	}
	var obj map[string]any
	if json.Unmarshal(info, &obj) == nil {
		for _, k := range []string{"message", "error", "reason", "detail", "details"} {
			if m, ok := obj[k].(string); ok && strings.TrimSpace(m) != "" {
				return m
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, info) == nil {
		return buf.String()
	}
	return string(info)
}
