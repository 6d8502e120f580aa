package cli

import (
	"bytes"
	"strings"
	"testing"
)

// What Writer writes is what Redactor.String makes of each line, whether
// the line holds a secret (in any of its encoded forms) or not: the check
// that lets a clean line through uncopied must not let a secret through.
func TestRedactWriterMatchesString(t *testing.T) {
	r := &Redactor{}
	var out bytes.Buffer
	w := r.Writer(&out)
	lines := []string{
		`{"type":"request","path":"/accounts/a/task/1"}` + "\n",
		`{"error":"bad s3cr3t<&>"}` + "\n",
		`{"error":"bad s3cr3t\u003c\u0026\u003e"}` + "\n",
		"q=s3cr3t%3C%26%3E and plain\n",
		"\n",
	}
	check := func() {
		t.Helper()
		for _, l := range lines {
			out.Reset()
			if n, err := w.Write([]byte(l)); err != nil || n != len(l) {
				t.Fatalf("Write(%q) = %d, %v", l, n, err)
			}
			if want := r.String(l); out.String() != want {
				t.Errorf("Write(%q) wrote %q, String gives %q", l, out.String(), want)
			}
		}
	}
	check() // no secrets yet: every line as it is
	r.Add("s3cr3t<&>")
	check()
	for _, l := range lines[1:4] {
		out.Reset()
		_, _ = w.Write([]byte(l))
		if strings.Contains(out.String(), "s3cr3t") {
			t.Errorf("secret left in %q", out.String())
		}
	}
}
