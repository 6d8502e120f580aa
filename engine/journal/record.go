package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/frameflow/frameflow/internal/jsonvalue"
)

// formatVersion is written in every header; a reader refuses a journal of a
// newer version rather than misreading it. 2 added the sent and decision
// records: a reader that ignored them would reconcile a clone proven sent
// again, and might send it twice.
const formatVersion = 2

// Record types, the "t" field of every line. See docs/decisions/journal-format.md.
const (
	recHeader  = "header"   // first line: what was run (RunMeta)
	recAttempt = "attempt"  // a process started (Create) or continued (Resume) the run
	recStep    = "step"     // a step (or one fan-out item of it) ended
	recIntent  = "intent"   // a mutation is about to be sent (durable before sending)
	recResult  = "result"   // the mutation's result (task, ...) after it was sent or reconciled
	recUnknown = "unknown"  // the send failed in a way that may have reached the server
	recFailed  = "failed"   // the server refused it, it never left, or its task failed: safe to send again
	recNotSent = "not_sent" // a reconcile proved it absent, or the admin assumed so
	recSent    = "sent"     // a reconcile proved it sent, but not that its effect finished: never sent again, waits for an operator
	recDecided = "decision" // an operator marked a mutation whose outcome is unknown: sent or not_sent (resume --mark)
	recFinish  = "finish"   // an attempt ended with a status
	recAlive   = "alive"    // the attempt is still running (nothing else written for a while)
	recWaiting = "waiting"  // an approval step (key) waits for a person's decision; informational, so older readers skip it
	recWaited  = "waited"   // that wait ended (decided, timed out or interrupted)
)

// viaTaskFailed is the "via" of a failed record written after a result: the
// mutation's task failed (engine.MutationFailer), so it may be sent again.
const viaTaskFailed = "task_failed"

// record is one line of a journal. One struct for every type keeps the
// reader simple; omitempty keeps the lines short.
type record struct {
	T       string    `json:"t"`
	Time    time.Time `json:"time"`
	Attempt int       `json:"attempt,omitempty"`

	// header
	V        int            `json:"v,omitempty"`
	RunID    string         `json:"run_id,omitempty"`
	Workflow string         `json:"workflow,omitempty"`
	File     string         `json:"file,omitempty"`
	FileHash string         `json:"file_hash,omitempty"`
	Inputs   map[string]any `json:"inputs,omitempty"`
	Mode     string         `json:"mode,omitempty"`
	PlanHash string         `json:"plan_hash,omitempty"`
	Started  *time.Time     `json:"started,omitempty"`

	// attempt
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
	User string `json:"user,omitempty"`
	// header and attempt: who approved the run, or this attempt of it
	Approver string `json:"approver,omitempty"`

	// step
	Step       string          `json:"step,omitempty"`
	Item       string          `json:"item,omitempty"`
	ItemKey    string          `json:"item_key,omitempty"`
	Index      *int            `json:"index,omitempty"`
	Status     string          `json:"status,omitempty"` // step and finish
	Attempts   int             `json:"attempts,omitempty"`
	DurationMS int64           `json:"duration_ms,omitempty"`
	Outputs    json.RawMessage `json:"outputs,omitempty"`

	// mutations
	Key       string            `json:"key,omitempty"`
	Type      string            `json:"type,omitempty"`
	Method    string            `json:"method,omitempty"`
	Path      string            `json:"path,omitempty"`
	Query     map[string]string `json:"query,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"` // intent: headers the step set (http.request), masked
	Body      any               `json:"body,omitempty"`
	Resources []string          `json:"resources,omitempty"`
	Witness   json.RawMessage   `json:"witness,omitempty"`  // intent: what Reconcile compares against
	Identity  string            `json:"identity,omitempty"` // intent: digest of estate, method, path, query, body (the same request in any run)
	Result    json.RawMessage   `json:"result,omitempty"`
	From      string            `json:"from,omitempty"`       // via adopted: the run whose record this copies
	Via       string            `json:"via,omitempty"`        // result: send | reconcile; not_sent: reconcile | assumed; failed: task_failed; sent: reconcile; any: adopted
	Decision  string            `json:"decision,omitempty"`   // decision: sent | not_sent
	By        string            `json:"decided_by,omitempty"` // decision: user@host of the operator

	// waiting: the approval's question, when its wait times out and who
	// may decide (none: anyone who can reach the run)
	Message   string     `json:"message,omitempty"`
	Deadline  *time.Time `json:"deadline,omitempty"`
	Approvers []string   `json:"approvers,omitempty"`

	Error string `json:"error,omitempty"`

	// ownJSON: Outputs and Result are json.Marshal's own output, made by
	// this package (Record, recordResult), so compact and valid; see
	// marshalRecord. Never set for JSON read from elsewhere.
	ownJSON bool
}

// encode renders r as one line, every string (keys and values, nested or
// not) passed through redact so that no secret reaches the disk. It also
// returns the record as written, to be applied to the in-memory state
// without parsing the line again: r itself when nothing was redacted, else
// the redacted copy.
//
// Most records hold no secret, so the line is checked first and the
// redaction round trip (generic decode, redact, back through the struct)
// runs only when some string in it would change.
func encode(r *record, redact func(string) string) ([]byte, *record, error) {
	b, err := marshalRecord(r)
	if err != nil {
		return nil, nil, err
	}
	if redact == nil || !needsRedaction(b, redact) {
		return append(b, '\n'), r, nil
	}
	// Walk the generic form: a secret inside a body or an output is found
	// wherever it sits, and escaping in JSON cannot hide it.
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // keep integers exact
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, nil, err
	}
	if b, err = json.Marshal(redactValue(v, redact)); err != nil {
		return nil, nil, err
	}
	// Back through the struct so the line keeps its field order ("t"
	// first) instead of the generic map's sorted keys.
	clean := new(record)
	d = json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(clean); err != nil {
		return nil, nil, err
	}
	if b, err = json.Marshal(clean); err != nil {
		return nil, nil, err
	}
	return append(b, '\n'), clean, nil
}

// marshalRecord is json.Marshal(r), byte for byte, written field by field
// (appendRecord) rather than by reflection over record's forty fields:
// Marshal was the journal's largest cost, ~5% of a 2,000-store rollout's
// CPU. A value appendRecord does not write (an input or a body that is not
// a generic JSON value, a time Marshal refuses, a malformed raw field)
// takes json.Marshal, which also gives the error.
// TestAppendRecordIsMarshal compares the two on every field.
func marshalRecord(r *record) ([]byte, error) {
	if b, ok := appendRecord(make([]byte, 0, 512), r); ok {
		return b, nil
	}
	return json.Marshal(r)
}

// appendRecord writes r as json.Marshal does: record's fields in order,
// omitempty ones left out when empty, strings HTML-escaped, raw fields
// compacted and HTML-escaped (as they are: with ownJSON, Outputs and
// Result were written by Marshal or jsonvalue already).
func appendRecord(dst []byte, r *record) ([]byte, bool) {
	w := &lineWriter{b: append(dst, '{'), ok: true, first: true}
	w.str("t", r.T, false)
	w.time("time", &r.Time, false)
	w.int("attempt", int64(r.Attempt))
	w.int("v", int64(r.V))
	w.str("run_id", r.RunID, true)
	w.str("workflow", r.Workflow, true)
	w.str("file", r.File, true)
	w.str("file_hash", r.FileHash, true)
	w.value("inputs", r.Inputs, len(r.Inputs) > 0)
	w.str("mode", r.Mode, true)
	w.str("plan_hash", r.PlanHash, true)
	w.time("started", r.Started, true)
	w.int("pid", int64(r.PID))
	w.str("host", r.Host, true)
	w.str("user", r.User, true)
	w.str("approver", r.Approver, true)
	w.str("step", r.Step, true)
	w.str("item", r.Item, true)
	w.str("item_key", r.ItemKey, true)
	if r.Index != nil {
		w.key("index")
		w.b = strconv.AppendInt(w.b, int64(*r.Index), 10)
	}
	w.str("status", r.Status, true)
	w.int("attempts", int64(r.Attempts))
	w.int("duration_ms", r.DurationMS)
	w.raw("outputs", r.Outputs, r.ownJSON)
	w.str("key", r.Key, true)
	w.str("type", r.Type, true)
	w.str("method", r.Method, true)
	w.str("path", r.Path, true)
	w.value("query", r.Query, len(r.Query) > 0)
	w.value("headers", r.Headers, len(r.Headers) > 0)
	w.value("body", r.Body, r.Body != nil)
	w.value("resources", r.Resources, len(r.Resources) > 0)
	w.raw("witness", r.Witness, false)
	w.str("identity", r.Identity, true)
	w.raw("result", r.Result, r.ownJSON)
	w.str("from", r.From, true)
	w.str("via", r.Via, true)
	w.str("decision", r.Decision, true)
	w.str("decided_by", r.By, true)
	w.str("message", r.Message, true)
	w.time("deadline", r.Deadline, true)
	w.value("approvers", r.Approvers, len(r.Approvers) > 0)
	w.str("error", r.Error, true)
	return append(w.b, '}'), w.ok
}

// lineWriter appends the fields of one JSON object; ok turns false when a
// value must be left to json.Marshal.
type lineWriter struct {
	b         []byte
	ok, first bool
}

func (w *lineWriter) key(name string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(append(append(w.b, '"'), name...), '"', ':')
}

func (w *lineWriter) str(name, v string, omitEmpty bool) {
	if v == "" && omitEmpty {
		return
	}
	w.key(name)
	w.b = jsonvalue.AppendString(w.b, v)
}

// int writes an omitempty integer.
func (w *lineWriter) int(name string, v int64) {
	if v != 0 {
		w.key(name)
		w.b = strconv.AppendInt(w.b, v, 10)
	}
}

// time writes t as time.Time's MarshalJSON does; nil is left out.
func (w *lineWriter) time(name string, t *time.Time, omitNil bool) {
	if t == nil && omitNil {
		return
	}
	b, err := t.MarshalJSON()
	if err != nil {
		w.ok = false
		return
	}
	w.key(name)
	w.b = append(w.b, b...)
}

func (w *lineWriter) value(name string, v any, present bool) {
	if !present || !w.ok {
		return
	}
	w.key(name)
	w.b, w.ok = jsonvalue.Append(w.b, v)
}

// raw writes a json.RawMessage as Marshal does (compacted, HTML-escaped);
// own is JSON this package just wrote with Marshal or jsonvalue: as is.
func (w *lineWriter) raw(name string, v json.RawMessage, own bool) {
	if len(v) == 0 || !w.ok {
		return
	}
	w.key(name)
	if own {
		w.b = append(w.b, v...)
		return
	}
	// Compacted straight onto the line, and escaped only when there is
	// something to escape (a witness is Marshal's output already: every
	// intent of a rollout copied it twice through buffers of its own).
	start := len(w.b)
	line := bytes.NewBuffer(w.b)
	if json.Compact(line, v) != nil {
		w.ok = false
		return
	}
	w.b = line.Bytes()
	if compact := w.b[start:]; bytes.ContainsAny(compact, "<>&\u2028\u2029") {
		var escaped bytes.Buffer
		json.HTMLEscape(&escaped, compact)
		w.b = append(w.b[:start], escaped.Bytes()...)
	}
}

// needsRedaction reports whether redact changes any string literal (key or
// value) of line, a JSON text as encoding/json writes it. A literal with
// escapes is checked decoded: JSON may write a secret's characters as \" or
// \u003c, which would hide it from a check of the raw text.
func needsRedaction(line []byte, redact func(string) string) bool {
	// One copy of the line; each literal is a substring of it (no copy
	// per literal: a record has a few dozen, and every record is checked).
	text := string(line)
	for i := 0; i < len(line); i++ {
		if line[i] != '"' {
			continue
		}
		j, escaped := i+1, false
		for ; j < len(line) && line[j] != '"'; j++ {
			if line[j] == '\\' {
				escaped = true
				j++
			}
		}
		if j >= len(line) {
			return true // not JSON as Marshal writes it: take the safe path
		}
		s := text[i+1 : j]
		if escaped {
			// Its own variable: taking s's address would move s to the
			// heap for every literal, escaped or not.
			var dec string
			if err := json.Unmarshal(line[i:j+1], &dec); err != nil {
				return true
			}
			s = dec
		}
		if redact(s) != s {
			return true
		}
		i = j
	}
	return false
}

func redactValue(v any, redact func(string) string) any {
	switch x := v.(type) {
	case string:
		return redact(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[redact(k)] = redactValue(e, redact)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, redact)
		}
		return x
	default:
		return v
	}
}

// readRecords reads a journal file. It returns the records and the length of
// the intact prefix: a last line without its newline is a torn write of a
// crashed process and is dropped (it was never acted upon: nothing is sent
// before its intent's write and fsync returned). A damaged line before the
// end is not a torn write and is an error: skipping it could forget an intent.
func readRecords(rd io.Reader) ([]record, int64, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, 0, err
	}
	var recs []record
	var good int64
	err = eachWholeLine(data, func(line int, raw []byte) error {
		if len(bytes.TrimSpace(raw)) == 0 {
			good += int64(len(raw) + 1)
			return nil
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("line %d is damaged: %v", line, err)
		}
		if r.T == "" {
			return fmt.Errorf("line %d has no record type", line)
		}
		recs = append(recs, r)
		good += int64(len(raw) + 1)
		return nil
	})
	if err == nil {
		err = checkHeader(recs)
	}
	if err != nil {
		return nil, 0, err
	}
	return recs, good, nil
}

// eachWholeLine calls fn with each newline-terminated line of data and its
// 1-based number, stopping at the first error. A last line without its
// newline is a torn write and is not passed on.
func eachWholeLine(data []byte, fn func(line int, raw []byte) error) error {
	for line := 1; len(data) > 0; line++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil // torn tail
		}
		if err := fn(line, data[:i]); err != nil {
			return err
		}
		data = data[i+1:]
	}
	return nil
}

// checkHeader refuses records that do not start with a header this binary
// can read.
func checkHeader(recs []record) error {
	if len(recs) == 0 || recs[0].T != recHeader {
		return errors.New("no header record")
	}
	if recs[0].V > formatVersion {
		return fmt.Errorf("journal format version %d is newer than this frameflow understands (%d)", recs[0].V, formatVersion)
	}
	return nil
}
