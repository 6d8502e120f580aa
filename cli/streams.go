package cli

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Streams are the process's standard streams and environment. Tests pass
// buffers and a fake environment; whether output is a terminal is decided
// here, in one place.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool // stdout is a terminal: live view, colour, prompts
	InTTY  bool // stdin is a terminal: approvals may be asked
	Getenv func(string) string
	// Width of the terminal (0 when unknown).
	Width int
}

// StdStreams are the real process streams.
func StdStreams() Streams {
	s := Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}
	s.OutTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.InTTY = term.IsTerminal(int(os.Stdin.Fd()))
	if s.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.Width = w
		}
	}
	return s
}

func (s Streams) getenv(k string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(k)
}

// Color reports whether colour may be used: a terminal, and NO_COLOR unset
// (https://no-color.org).
func (s Streams) Color() bool {
	return s.OutTTY && s.getenv("NO_COLOR") == "" && s.getenv("TERM") != "dumb"
}

// Redactor replaces secret values with "***" in everything frameflow writes.
// Secrets are registered as soon as they are known (client secret, inputs
// marked secret).
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	// forms are the secrets as bytes, for Writer's check of a line before
	// it is copied into a string for the replacer.
	forms [][]byte
	r     *strings.Replacer
}

// Add registers secret values; empty and very short values are ignored
// (redacting "1" would mangle every number in the output).
func (r *Redactor) Add(vals ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range r.secrets {
		seen[s] = true
	}
	for _, v := range vals {
		if len(v) < 4 {
			continue
		}
		// A secret with special characters is written escaped wherever it
		// lands: in a URL path or query, a quoted Go or JSON string, XML.
		for _, form := range encodings(v) {
			if !seen[form] {
				seen[form] = true
				r.secrets = append(r.secrets, form)
			}
		}
	}
	// Longest first: where one secret contains another, the whole of it
	// goes (the replacer prefers earlier pairs at a position).
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	pairs := make([]string, 0, 2*len(r.secrets))
	r.forms = r.forms[:0]
	for _, s := range r.secrets {
		pairs = append(pairs, s, "***")
		r.forms = append(r.forms, []byte(s))
	}
	r.r = strings.NewReplacer(pairs...)
}

// holdsSecret reports whether p contains any registered secret form:
// when it does not, the replacer would hand p back unchanged.
func (r *Redactor) holdsSecret(p []byte) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.forms {
		if bytes.Contains(p, f) {
			return true
		}
	}
	return false
}

// encodings are the forms v takes in frameflow's output: as is or
// URL-escaped (a path, a query), inside up to two quoted Go or JSON strings
// or XML (a server's JSON message quoting it, in an error, in a JSON event).
func encodings(v string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		out = append(out, s)
		return true
	}
	level := []string{}
	for _, base := range []string{v, url.PathEscape(v), url.QueryEscape(v)} {
		if add(base) {
			level = append(level, base)
		}
	}
	for range 2 {
		var next []string
		for _, s := range level {
			for _, w := range quoted(s) {
				if add(w) {
					next = append(next, w)
				}
			}
		}
		level = next
	}
	return out
}

// quoted is s as it appears inside a Go-quoted string, a JSON string (HTML
// escaped or not) and XML text.
func quoted(s string) []string {
	q := strconv.Quote(s)
	out := []string{q[1 : len(q)-1]}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			j := strings.TrimSuffix(b.String(), "\n")
			out = append(out, j[1:len(j)-1])
		}
	}
	var x strings.Builder
	if xml.EscapeText(&x, []byte(s)) == nil {
		out = append(out, x.String())
	}
	return out
}

// String redacts s.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Writer wraps w so that everything written through it is redacted. Writes
// are expected to be whole lines or whole documents (all of frameflow's
// output is), so a secret is never split across two writes.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &redactWriter{r: r, w: w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	if !rw.r.holdsSecret(p) {
		// Nothing to replace: p as it is, without a string copy of every
		// line (a 2,000-store rollout writes 32,000 events).
		if _, err := rw.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	s := rw.r.String(string(p))
	if _, err := io.WriteString(rw.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
