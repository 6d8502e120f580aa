package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
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

	// waiting: the approval's question and when its wait times out
	Message  string     `json:"message,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`

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

// marshalRecord is json.Marshal(r), byte for byte. Marshal re-parses
// every json.RawMessage it writes (to validate and compact it); a step's
// outputs and a mutation's result are most of their record and were just
// made by json.Marshal, so with ownJSON they are put in place of a
// placeholder instead: ~2% of a 2,000-store rollout's CPU.
func marshalRecord(r *record) ([]byte, error) {
	if !r.ownJSON || (len(r.Outputs) == 0 && len(r.Result) == 0) ||
		r.Inputs != nil || r.Query != nil || r.Headers != nil || r.Body != nil || len(r.Witness) > 0 {
		return json.Marshal(r)
	}
	// r is the caller's own, not yet shared: its fields are swapped for
	// the placeholder and back rather than copying the record.
	outputs, result := r.Outputs, r.Result
	if len(outputs) > 0 {
		r.Outputs = placeholder
	}
	if len(result) > 0 {
		r.Result = placeholder
	}
	b, err := json.Marshal(r)
	r.Outputs, r.Result = outputs, result
	if err != nil {
		return nil, err
	}
	// The first "outputs":0 or "result":0 is the field's: every field
	// before it is a scalar, a string or a list of strings (the ones that
	// may hold objects were checked above), and in a string a quote is
	// escaped, so the text cannot occur there. Room for encode's newline.
	out := make([]byte, 0, len(b)+len(outputs)+len(result)+1)
	for _, f := range []struct {
		key string
		raw json.RawMessage
	}{{`"outputs":0`, outputs}, {`"result":0`, result}} {
		if len(f.raw) == 0 {
			continue
		}
		i := bytes.Index(b, []byte(f.key))
		if i < 0 {
			return json.Marshal(r)
		}
		at := i + len(f.key) - 1
		out = append(append(out, b[:at]...), f.raw...)
		b = b[at+1:]
	}
	return append(out, b...), nil
}

var placeholder = json.RawMessage("0")

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
