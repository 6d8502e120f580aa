package schema

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports syntax errors as "yaml: line N: message" with no column,
// and N is not always the line a person would point at: for parser errors
// it is the 0-based line of the enclosing construct (an unclosed `{` on
// line 6 reads "line 5"), for scanner errors the 1-based line where the
// token began (a tab on line 5 inside a mapping begun on line 4 reads
// "line 4"), and reader errors (bad UTF-8, NUL) have no line at all. This
// file finds the right line and column for each class; the golden cases
// in testdata/workflows/bad/syntax_*.yaml pin them.

// checkBytes finds what the YAML reader refuses without a position: bytes
// that are not UTF-8, control characters (NUL included) and a byte order
// mark anywhere but at the very start. One diagnostic per offending line,
// so a file with several is reported all at once.
func checkBytes(file string, data []byte) Diagnostics {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		// Every other byte would be reported: say what the file is instead.
		return Diagnostics{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: "cannot read the file: it is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8"}}
	}
	var out Diagnostics
	line, col := 1, 1
	lastLine := 0
	for i := 0; i < len(data); {
		// Fast path: printable ASCII, the whole of most files.
		if c := data[i]; c >= 0x20 && c < 0x7f {
			col++
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		var why string
		switch {
		case r == utf8.RuneError && size <= 1:
			why = fmt.Sprintf("byte 0x%02x is not UTF-8; a workflow file must be UTF-8 text", data[i])
		case r == 0:
			why = "a NUL byte; a workflow file must be text"
		case r == '\ufeff' && i != 0:
			why = "a byte order mark (U+FEFF) inside the file; it is invisible and allowed only as the file's first character"
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f, r >= 0x80 && r < 0xa0 && r != 0x85:
			why = fmt.Sprintf("control character U+%04X; YAML does not allow it (write it as an escape in a double-quoted string)", r)
		case r == 0xfffe || r == 0xffff:
			why = fmt.Sprintf("U+%04X is not a character", r)
		}
		if why != "" && line != lastLine {
			if len(out) == maxByteDiagnostics {
				// A binary file: the first lines say enough.
				out = append(out, Diagnostic{Pos: Pos{File: file, Line: line, Col: col}, Message: "cannot read the file: more lines hold bytes a workflow file cannot; is it a text file?"})
				return out
			}
			out = append(out, Diagnostic{Pos: Pos{File: file, Line: line, Col: col}, Message: "cannot read the file: " + why})
			lastLine = line
		}
		if r == '\n' {
			line, col = line+1, 1
		} else if r != '\ufeff' || i != 0 {
			col++
		}
		i += size
	}
	return out
}

// maxByteDiagnostics bounds checkBytes' report on a binary file.
const maxByteDiagnostics = 20

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors are the yaml.v3 messages that come from its parser, whose
// line is 0-based and names the enclosing construct; the others come from
// its scanner (1-based, where the token began).
var parserErrors = []string{
	"did not find expected node content",
	"did not find expected key",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
	"found undefined tag handle",
}

// yamlErrorDiags turns a yaml.v3 error into diagnostics at the line and
// column a person would point at.
func yamlErrorDiags(file string, data []byte, err error) Diagnostics {
	var te *yaml.TypeError
	var msgs []string
	if ok := asTypeError(err, &te); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	lines := strings.Split(string(data), "\n")
	var out Diagnostics
	for _, m := range msgs {
		line, col, msg := placeYAMLError(data, lines, m)
		out = append(out, Diagnostic{Pos: Pos{File: file, Line: max(line, 1), Col: max(col, 1)}, Message: msg})
	}
	return out
}

// placeYAMLError turns one of yaml.v3's messages into the position of what
// is wrong and our wording of it.
func placeYAMLError(data []byte, lines []string, m string) (line, col int, msg string) {
	sm := yamlLineRe.FindStringSubmatch(m)
	if sm == nil {
		// No line: search for the token, else leave 1:1.
		m = strings.TrimPrefix(m, "yaml: ")
		line, col = locateLineless(data, m)
		return line, col, "YAML syntax error: " + m
	}
	m = sm[2]
	line, err := strconv.Atoi(sm[1])
	if err != nil { // a line number too large for an int
		line, col = locateLineless(data, m)
		return line, col, "YAML syntax error: " + m
	}
	line, col, msg = locateYAMLError(lines, line, m)
	return line, offenderCol(lineAt(lines, line), m, col), msg
}

// locateYAMLError corrects the line yaml.v3 gives for message m (often the
// start of the enclosing block) to where the problem is.
func locateYAMLError(lines []string, line int, m string) (int, int, string) {
	msg := "YAML syntax error: " + m
	col := 1
	switch {
	case m == "did not find expected ',' or '}'" || m == "did not find expected ',' or ']'":
		// The parser's line is the 0-based line of the opening bracket:
		// point at the bracket that is never closed.
		line = line + 1
		open := byte('{')
		if strings.HasSuffix(m, "']'") {
			open = '['
		}
		if col = unclosedOn(lines, line, open); col == 0 {
			col = firstNonSpace(lines, line)
		}
		msg = fmt.Sprintf("YAML syntax error: this '%c' is never closed (%s)", open, m)
	case slices.Contains(parserErrors, m):
		return locateParserError(lines, line+1, m, msg)
	case strings.Contains(m, "tab character"):
		// The line where the token began; the tab is on it or after.
		if l, c, ok := tabIndent(lines, line); ok {
			line, col = l, c
			msg = "YAML syntax error: a tab in the indentation; YAML indents with spaces only"
		}
	case m == "found unexpected end of stream":
		// A quoted string or flow collection runs to the end of the
		// file (a truncated file): point at where it began.
		if c, what := unclosedQuote(lines, line); c > 0 {
			col = c
			msg = fmt.Sprintf("YAML syntax error: this %s is never closed (the file ends inside it; is it truncated?)", what)
		}
	default:
		if l, c, ok := tabIndent(lines, line); ok && l == line {
			return line, c, "YAML syntax error: a tab in the indentation; YAML indents with spaces only (" + m + ")"
		}
		col = firstNonSpace(lines, line)
	}
	return line, col, msg
}

// locateParserError places a parser error given at line, the (1-based)
// line of the enclosing block: where the parser gave up is the first prefix
// of the file that fails the same way.
func locateParserError(lines []string, line int, m, msg string) (int, int, string) {
	col := 1
	l, ok := firstFailingPrefix(lines, m, line)
	if !ok || l >= lastLine(lines) {
		// The parser gave up at the end of the file: a flow collection
		// left open above (a truncated file) is what is wrong.
		if bl, b, c := openBracketAbove(lines, min(line, lastLine(lines))); c > 0 {
			return bl, c, fmt.Sprintf("YAML syntax error: this '%c' is never closed (the file ends inside it; is it truncated?)", b)
		}
	}
	if ok {
		line = l
		col = firstNonSpace(lines, l)
	}
	return line, col, msg
}

// offenderCol points at the offending character on line l when message m
// names a class of character; else it keeps col.
func offenderCol(l, m string, col int) int {
	switch {
	case strings.Contains(m, "cannot start any token"):
		// YAML reserves '`' and '@' to start nothing.
		if i := strings.IndexAny(l, "`@"); i >= 0 {
			return runeCol(l, i)
		}
	case strings.Contains(m, "tag handle"):
		if i := strings.IndexByte(l, '!'); i >= 0 {
			return runeCol(l, i)
		}
	case m == "mapping values are not allowed in this context":
		// "name: a: b": the second key indicator on the line.
		if idx := keyIndicators(l); len(idx) > 1 {
			return runeCol(l, idx[1])
		}
	case m == "did not find expected node content":
		// "steps: ]": a closing bracket with nothing open.
		if i := strings.IndexAny(l, "]}"); i >= 0 && !strings.ContainsAny(l[:i], "[{\"'") {
			return runeCol(l, i)
		}
	}
	return col
}

func asTypeError(err error, te **yaml.TypeError) bool {
	t, ok := err.(*yaml.TypeError)
	if ok {
		*te = t
	}
	return ok
}

func lineAt(lines []string, n int) string {
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

func firstNonSpace(lines []string, n int) int {
	l := lineAt(lines, n)
	return len(l) - len(strings.TrimLeft(l, " \t")) + 1
}

// runeCol is the 1-based column of byte offset i in s.
func runeCol(s string, i int) int { return utf8.RuneCountInString(s[:i]) + 1 }

// unclosedOn finds, on line n, the opening bracket that is still open at
// the end of the line (quotes and comments skipped); 0 when none is.
func unclosedOn(lines []string, n int, open byte) int {
	l := lineAt(lines, n)
	close := byte('}')
	if open == '[' {
		close = ']'
	}
	var stack []int
	eachCodeByte(l, func(i int) {
		switch {
		case l[i] == open:
			stack = append(stack, i)
		case l[i] == close && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	})
	if len(stack) == 0 {
		return 0
	}
	return runeCol(l, stack[0])
}

// keyIndicators are the byte offsets of the ':' on l that end a key (followed
// by a space or the end of the line), outside quotes and comments.
func keyIndicators(l string) []int {
	var out []int
	eachCodeByte(l, func(i int) {
		if l[i] == ':' && (i+1 == len(l) || l[i+1] == ' ') {
			out = append(out, i)
		}
	})
	return out
}

// eachCodeByte calls visit with the offset of each byte of l that is
// neither inside quotes nor in a comment, nor a quote itself.
func eachCodeByte(l string, visit func(i int)) {
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' '):
			return
		default:
			visit(i)
		}
	}
}

// openBracketAbove finds the nearest line at or above n (within 50 lines)
// that leaves a '{' or '[' open.
func openBracketAbove(lines []string, n int) (int, byte, int) {
	for l := n; l >= 1 && l > n-50; l-- {
		for _, b := range []byte{'{', '['} {
			if c := unclosedOn(lines, l, b); c > 0 {
				return l, b, c
			}
		}
	}
	return 0, 0, 0
}

// lastLine is the number of the last line that holds anything.
func lastLine(lines []string) int {
	n := len(lines)
	for n > 1 && strings.TrimSpace(lines[n-1]) == "" {
		n--
	}
	return n
}

// tabIndent finds the first line from n on whose indentation holds a tab.
func tabIndent(lines []string, from int) (line, col int, ok bool) {
	for n := max(from, 1); n <= len(lines); n++ {
		l := lineAt(lines, n)
		ind := len(l) - len(strings.TrimLeft(l, " \t"))
		if i := strings.IndexByte(l[:ind], '\t'); i >= 0 {
			return n, i + 1, true
		}
	}
	return 0, 0, false
}

// unclosedQuote finds the quote on line n that is never closed on it.
func unclosedQuote(lines []string, n int) (int, string) {
	l := lineAt(lines, n)
	var quote byte
	at := -1
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(l) && l[i+1] == '\'' {
					i++
					continue
				}
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '#' && (i == 0 || l[i-1] == ' '):
			i = len(l)
		case c == '"' || c == '\'':
			quote, at = c, i
		}
	}
	if quote == 0 {
		return 0, ""
	}
	return runeCol(l, at), "quoted string"
}

// firstFailingPrefix finds the first line L >= from such that the file cut
// after line L fails to parse with the same message: where the parser gave
// up. Bounded so a huge broken file costs little.
func firstFailingPrefix(lines []string, msg string, from int) (int, bool) {
	const maxTries, maxBytes = 400, 16 << 20
	parsed := 0
	for l, tries := max(from, 1), 0; l <= len(lines) && tries < maxTries && parsed < maxBytes; l, tries = l+1, tries+1 {
		prefix := strings.Join(lines[:l], "\n") + "\n"
		parsed += len(prefix)
		var n yaml.Node
		err := safeDecode([]byte(prefix), &n)
		if err == nil {
			continue
		}
		m := err.Error()
		if sm := yamlLineRe.FindStringSubmatch(m); sm != nil {
			m = sm[2]
		}
		if m == msg {
			return l, true
		}
	}
	return 0, false
}

func safeDecode(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return yaml.NewDecoder(bytes.NewReader(data)).Decode(n)
}

// locateLineless places an error yaml.v3 gave without a line. Bytes the
// reader refuses are caught by checkBytes first; what is left are
// directive and tag problems, on the first line that has one.
func locateLineless(data []byte, msg string) (int, int) {
	lines := strings.Split(string(data), "\n")
	for n := 1; n <= len(lines); n++ {
		l := lineAt(lines, n)
		t := strings.TrimLeft(l, " ")
		switch {
		case strings.Contains(msg, "directive") && strings.HasPrefix(t, "%"):
			return n, len(l) - len(t) + 1
		case strings.Contains(msg, "'>'") || strings.Contains(msg, "tag"):
			if i := strings.Index(l, "!"); i >= 0 {
				return n, runeCol(l, i)
			}
		case strings.Contains(msg, "anchor"):
			// "unknown anchor 'x' referenced": the alias *x.
			name := msg
			if i, j := strings.Index(msg, "'"), strings.LastIndex(msg, "'"); i >= 0 && j > i {
				name = msg[i+1 : j]
			}
			if i := strings.Index(l, "*"+name); i >= 0 {
				return n, runeCol(l, i)
			}
		}
	}
	return 1, 1
}
