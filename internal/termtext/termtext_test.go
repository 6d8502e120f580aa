package termtext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

const hostile = "Store-\u001b]0;pwned\u0007\nFAKE-LINE succeeded"

func TestLineEscapesEverythingATerminalActsOn(t *testing.T) {
	cases := map[string]string{
		"plain name":         "plain name",
		hostile:              `Store-\x1b]0;pwned\a\nFAKE-LINE succeeded`,
		"a\r\nb":             `a\r\nb`,
		"tab\there":          `tab\there`,
		"csi\u009b31m":       `csi\x9b31m`,
		"del\x7f":            `del\x7f`,
		"bad\xffutf8":        `bad\xffutf8`,
		"rtl\u202eevil":      `rtl\u202eevil`,
		"zw\u200bj":          `zw\u200bj`,
		"\ufeffbom":          `\ufeffbom`,
		"ünïcødé ok 日本":      "ünïcødé ok 日本",
		`back\slash`:         `back\slash`,
		"nul\x00":            `nul\x00`,
		"sep\u2028line":      `sep\u2028line`,
		"bell\a and esc\x1b": `bell\a and esc\x1b`,
	}
	for in, want := range cases {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineOutputHasNoControlCharacters(t *testing.T) {
	in := ""
	for r := rune(0); r < 0x300; r++ {
		in += string(r)
	}
	in += "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\u2028\u2029\xff\xfe"
	out := Line(in)
	for _, r := range out {
		if unicode.IsControl(r) || unsafeRune(r) || r == unicode.ReplacementChar {
			t.Fatalf("Line left %U in its output", r)
		}
	}
}

func TestMarkdownCannotOpenMarkup(t *testing.T) {
	in := "x](http://evil) <img src=x onerror=alert(1)> | col `code` *b* # h\n- item"
	got := Markdown(in)
	for _, bad := range []string{"x](", "<img", "| col", " `code`", " *b*", "\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("Markdown(%q) = %q still contains %q", in, got, bad)
		}
	}
	if Markdown("plain name") != "plain name" {
		t.Errorf("Markdown changed plain text: %q", Markdown("plain name"))
	}
}

func TestHTMLEscapes(t *testing.T) {
	if got := HTML(`<a href="x">'&'</a>` + "\x1b"); got != "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\\x1b" {
		t.Errorf("HTML = %q", got)
	}
}

func FuzzLine(f *testing.F) {
	f.Add(hostile)
	f.Add("\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Line(s) {
			if unicode.IsControl(r) || unsafeRune(r) {
				t.Fatalf("Line(%q) left %U", s, r)
			}
		}
		// Escaped backslashes and backticks are inert; nothing else that
		// opens markup may be left.
		md := strings.ReplaceAll(strings.ReplaceAll(Markdown(s), `\\`, ""), "\\`", "")
		for _, r := range md {
			if r == '<' || r == '|' || r == '`' || unicode.IsControl(r) {
				t.Fatalf("Markdown(%q) = %q left %q", s, Markdown(s), r)
			}
		}
	})
}

func TestJSONEscapesWhatTheEncoderLeaves(t *testing.T) {
	in := []byte("{\"name\":\"a\u009b31m\u202eb\x7fc ok ü\"}\n")
	out := JSON(in)
	var a, b map[string]string
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("not JSON any more: %v: %s", err, out)
	}
	if a["name"] != b["name"] {
		t.Errorf("value changed: %q -> %q", a["name"], b["name"])
	}
	for _, r := range string(out) {
		if r >= 0x7f && unsafeRune(r) || r == 0x7f {
			t.Errorf("left %U in %s", r, out)
		}
	}
	if string(JSON([]byte(`{"a":"b"}`))) != `{"a":"b"}` {
		t.Error("changed a clean document")
	}
}

func TestMessageKeepsItsListButNoForgedLine(t *testing.T) {
	got := Message("planning failed:\n  a: bad\n  b: " + hostile)
	want := "planning failed:\n  a: bad\n  b: Store-\\x1b]0;pwned\\a\n  FAKE-LINE succeeded"
	if got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// Line runs on every event line and summary cell: the clean case must not
// allocate.
func BenchmarkLine(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"clean", "12:00:01 succeeded rollout.publish [Store-0042] (1.2s)"},
		{"hostile", hostile},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = Line(c.s)
			}
		})
	}
}

// jsonByDecoding is JSON's check as it was, decoding every rune: the
// reference for the ASCII fast path.
func jsonByDecoding(doc []byte) []byte {
	for i := 0; i < len(doc); {
		r, size := utf8.DecodeRune(doc[i:])
		if r == 0x7f || (r >= 0x80 && unsafeRune(r)) {
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
		i += size
	}
	return doc
}

func TestJSONMatchesDecodingEveryRune(t *testing.T) {
	pieces := []string{"a", "{", "\"", "\x7f", "\x1b", "ü", "\u009b", "\u202e", "\u2028", "\xff", "\xe2\x80", "€", " ", "\n"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b []byte
		for range rng.IntN(16) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if got, want := JSON(b), jsonByDecoding(b); !bytes.Equal(got, want) {
			t.Fatalf("JSON(%q) = %q, want %q", b, got, want)
		}
	}
}

// BenchmarkJSON: a request event as the JSON renderer writes it (ASCII).
func BenchmarkJSON(b *testing.B) {
	line := []byte(`{"type":"request","time":"2026-11-30T15:48:08.481442117Z","attempt":1,"method":"GET","path":"/accounts/3d268d25-dde7-5bc8-9f97-0b50c0f935b1/sandbox/status","http_status":200,"duration":0.021014739}` + "\n")
	for b.Loop() {
		_ = JSON(line)
	}
}
