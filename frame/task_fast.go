package frame

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Every poll and every mutation answer of a rollout is a task, bare or
// wrapped, and encoding/json's reflection took ~30 µs per answer (0.4 s of
// a 2,000-store rollout's CPU). fastExtractTask reads the shapes Frame
// sends with a small scanner instead. It handles only the plain case (an
// ASCII object; string values without escapes; each known key once and
// spelt exactly; values of the expected types) and says ok=false for
// anything else, which then takes ExtractTask's encoding/json paths: those
// own every error message and every unusual case, and
// FuzzExtractTaskMatchesGeneral holds all of them to the general path.

// taskKeys are frame.Task's JSON names, then the wrappers' (indexes into
// the seen mask).
var taskKeys = []string{"id", "account_id", "customer_id", "organization_id", "pool_id", "kind", "display_name",
	"stage", "duration_sec", "inserted_at", "updated_at", "finished_at", "progress_info", "result_info",
	"external_resource_id", "pending_request", "task"}

const (
	keyStage          = 7
	keyPendingRequest = 15
	keyTask           = 16
)

type taskScan struct {
	b []byte
	i int
}

// fastExtractTask is ExtractTask for the plain case; ok=false: not handled.
func fastExtractTask(body []byte) (*Task, error, bool) {
	s := &taskScan{b: body}
	var top Task
	var wrapped [2]*Task // pending_request, task
	seen, ok := s.object(&top, &wrapped)
	if s.ws(); !ok || s.i != len(s.b) {
		return nil, nil, false
	}
	for i, key := range []string{"pending_request", "task"} {
		if t := wrapped[i]; t != nil {
			if t.ID == "" {
				return nil, fmt.Errorf("%s: %w", key, errNoTaskID), true
			}
			return t, nil, true
		}
	}
	if seen&(1<<keyStage) == 0 || top.ID == "" {
		return nil, nil, false
	}
	return &top, nil, true
}

// object reads an object of task fields into t; with wrapped non-nil (the
// top level) also the wrappers, each an object (or null) of task fields.
func (s *taskScan) object(t *Task, wrapped *[2]*Task) (seen uint32, ok bool) {
	if s.ws(); !s.byte('{') {
		return 0, false
	}
	if s.ws(); s.byte('}') {
		return 0, true
	}
	for {
		key, ok := s.plainBytes()
		if !ok || !s.ws() || !s.byte(':') || !s.ws() {
			return 0, false
		}
		k := keyIndex(key)
		if k == -2 || (k >= keyPendingRequest && wrapped == nil) {
			return 0, false // spelt another way, or a wrapper inside a task
		}
		if k >= 0 {
			if seen&(1<<k) != 0 {
				return 0, false // repeated: the decoders differ on which wins
			}
			seen |= 1 << k
		}
		if !s.field(t, k, wrapped) {
			return 0, false
		}
		if s.ws(); s.byte('}') {
			return seen, true
		}
		if !s.byte(',') || !s.ws() {
			return 0, false
		}
	}
}

// keyIndex is key's index in taskKeys, -1 for another key, -2 for one
// that only encoding/json's case folding would match.
func keyIndex(key []byte) int {
	for i, k := range taskKeys {
		if string(key) == k {
			return i
		}
	}
	for _, k := range taskKeys {
		if bytes.EqualFold(key, []byte(k)) {
			return -2
		}
	}
	return -1
}

// field reads the value of key k into t (or a wrapper, or skips it).
func (s *taskScan) field(t *Task, k int, wrapped *[2]*Task) bool {
	var ok bool
	switch k {
	case -1:
		_, ok = s.rawValue(false)
	case 0:
		t.ID, ok = s.plainString()
	case 1:
		t.AccountID, ok = s.plainString()
	case 2:
		t.CustomerID, ok = s.plainString()
	case 3:
		t.OrganizationID, ok = s.plainString()
	case 4:
		t.PoolID, ok = s.stringOrNull()
	case 5:
		t.Kind, ok = s.plainString()
	case 6:
		t.DisplayName, ok = s.plainString()
	case keyStage:
		t.Stage, ok = s.plainString()
	case 8:
		t.DurationSec, ok = s.numberOrNull()
	case 9:
		t.InsertedAt, ok = s.plainString()
	case 10:
		t.UpdatedAt, ok = s.plainString()
	case 11:
		t.FinishedAt, ok = s.stringOrNull()
	case 12:
		t.ProgressInfo, ok = s.rawValue(true)
	case 13:
		t.ResultInfo, ok = s.rawValue(true)
	case 14:
		t.ExternalResourceID, ok = s.rawValue(true)
	case keyPendingRequest, keyTask:
		if s.null() {
			return true
		}
		inner := new(Task)
		_, ok = s.object(inner, nil)
		wrapped[k-keyPendingRequest] = inner
	}
	return ok
}

func (s *taskScan) ws() bool {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
	return true
}

func (s *taskScan) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *taskScan) null() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes, whose
// value is its text.
func (s *taskScan) plainString() (string, bool) {
	b, ok := s.plainBytes()
	return string(b), ok
}

// plainBytes is plainString's text, not copied.
func (s *taskScan) plainBytes() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

func (s *taskScan) stringOrNull() (*string, bool) {
	if s.null() {
		return nil, true
	}
	v, ok := s.plainString()
	return &v, ok
}

func (s *taskScan) numberOrNull() (*float64, bool) {
	if s.null() {
		return nil, true
	}
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("-+.eE0123456789", s.b[s.i]) >= 0 {
		s.i++
	}
	num := s.b[start:s.i]
	if len(num) == 0 || !json.Valid(num) {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	return &f, err == nil
}

// rawValue reads any JSON value and, with keep, returns a copy of its
// text, as a json.RawMessage field holds it. Its extent is found by
// counting brackets outside strings; json.Valid then checks it.
func (s *taskScan) rawValue(keep bool) (json.RawMessage, bool) {
	start, depth := s.i, 0
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch c {
		case '"':
			for s.i++; s.i < len(s.b) && s.b[s.i] != '"'; s.i++ {
				if s.b[s.i] == '\\' {
					s.i++
				}
			}
			if s.i >= len(s.b) {
				return nil, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.rawEnd(start, keep)
			}
			depth--
		case ',':
			if depth == 0 {
				return s.rawEnd(start, keep)
			}
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			s.i++
			return s.rawEnd(start, keep)
		}
	}
	return s.rawEnd(start, keep)
}

func (s *taskScan) rawEnd(start int, keep bool) (json.RawMessage, bool) {
	v := bytes.TrimRight(s.b[start:s.i], " \t\r\n")
	if len(v) == 0 || !json.Valid(v) {
		return nil, false
	}
	if !keep {
		return nil, true
	}
	return bytes.Clone(v), true
}
