// Package termtext makes text from a server or a workflow safe to show a
// person. It is the one place that decides what a terminal, a CI log, a
// Markdown page or an HTML page may receive: every renderer calls it, so a
// hostile account name or error message cannot set the terminal title, move
// the cursor, forge a line or inject markup.
//
// The rule is escape, never drop: a reader can still see that a name held
// "\x1b]0;pwned\a", which matters more than a tidy line.
package termtext

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s as one safe terminal line: newlines become `\n`, tabs `\t`,
// every other control character (C0, DEL, C1, so ESC and CSI too) and every
// invisible formatting character that can reorder or hide text (bidi
// overrides and isolates, zero-width joiners, BOM) is shown as a Go-style
// escape; bytes that are not UTF-8 are shown as `\xNN`. A backslash is kept
// as is: escapes are for reading, not for round-tripping.
func Line(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += size
		writeRune(&b, r)
	}
	return b.String()
}

// Markdown returns s safe inline in GitHub-flavoured Markdown (a table
// cell, after a list marker or a heading's hashes, never at the start of a
// line, where '#' or '-' would still mean something): Line first, then every character
// Markdown or HTML gives a meaning to is backslash-escaped or written as an
// entity, so a name cannot open a link, an image, a table column, a code
// span, a heading or an HTML tag.
func Markdown(s string) string {
	s = Line(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '|':
			// A pipe ends a table cell even inside a code span in GFM;
			// the entity survives both.
			b.WriteString("&#124;")
		case '\\', '`', '*', '_', '[', ']', '@':
			// '@' would mention a user or team on GitHub.
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// HTML returns s safe as HTML text or a quoted attribute value, after Line.
func HTML(s string) string {
	s = Line(s)
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	return r.Replace(s)
}

// isClean reports whether s needs no escaping at all (the common case: no
// allocation).
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			// Decode the rest properly.
			for _, r := range s[i:] {
				if r == utf8.RuneError || unsafeRune(r) {
					return false
				}
			}
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// unsafeRune reports runes that a terminal acts on or that change how the
// rest of the line reads.
func unsafeRune(r rune) bool {
	if unicode.IsControl(r) {
		return true // C0, DEL, C1 (0x80-0x9f: 0x9b is a one-byte CSI)
	}
	switch {
	case r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069,            // bidi isolates
		r == 0x200e, r == 0x200f, r == 0x061c, // direction marks
		r >= 0x200b && r <= 0x200d, r == 0x2060, r == 0xfeff, // zero-width characters, BOM
		r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

func writeRune(b *strings.Builder, r rune) {
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case 0x1b:
		b.WriteString(`\x1b`)
	case 0x07:
		b.WriteString(`\a`)
	default:
		if !unsafeRune(r) {
			b.WriteRune(r)
			return
		}
		if r < 0x100 {
			fmt.Fprintf(b, `\x%02x`, r)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
}

// JSON returns a JSON document with every rune Line would escape written
// as a \uXXXX escape. Go's encoder already escapes C0 controls, but not DEL,
// C1 (U+009B is a CSI to some terminals), bidi overrides or zero-width
// characters. Such runes can only occur inside JSON strings, where the
// escape decodes to the same value, so the document means the same.
func JSON(doc []byte) []byte {
	clean := true
	for i := 0; i < len(doc); {
		if b := doc[i]; b < utf8.RuneSelf {
			// ASCII without a decode call: every JSON event goes through
			// here, and nearly all of them are ASCII throughout.
			if b == 0x7f {
				clean = false
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(doc[i:])
		if unsafeRune(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return doc
	}
	out := make([]byte, 0, len(doc)+16)
	for i := 0; i < len(doc); {
		r, size := utf8.DecodeRune(doc[i:])
		if r == 0x7f || (r >= 0x80 && r != utf8.RuneError && unsafeRune(r)) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, doc[i:i+size]...)
		}
		i += size
	}
	return out
}

// JSONWriter wraps w so that each write (one JSON document or line) goes
// through JSON.
func JSONWriter(w io.Writer) io.Writer { return jsonWriter{w} }

type jsonWriter struct{ w io.Writer }

func (j jsonWriter) Write(p []byte) (int, error) {
	if _, err := j.w.Write(JSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Message returns a multi-line message (an error with a list under it)
// safe for a terminal: the message's own line breaks are kept, everything
// else is escaped as in Line, and every line after the first is indented,
// so text that slipped in with a newline can never start a line of its own
// that reads like frameflow's ("FAKE-LINE succeeded").
func Message(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = Line(strings.TrimSuffix(l, "\r"))
		if i > 0 && l != "" && !strings.HasPrefix(l, "  ") {
			l = "  " + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
