package frame

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// checkRequestPathBySplit is checkRequestPath as it was before it stopped
// splitting the path: the reference the current one must agree with.
func checkRequestPathBySplit(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %s must start with '/'", quoteShort(p))
	}
	if strings.ContainsAny(p, "?#\\") {
		return fmt.Errorf("path %s contains '?', '#' or '\\' (use Request.Query)", quoteShort(p))
	}
	for _, s := range strings.Split(p[1:], "/") {
		dec, err := url.PathUnescape(s)
		if err != nil {
			return fmt.Errorf("path %s: bad percent escape", quoteShort(p))
		}
		if dec == "." || dec == ".." {
			return fmt.Errorf("path %s contains a dot segment", quoteShort(p))
		}
		for _, r := range s {
			if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
				return fmt.Errorf("path %s contains whitespace or a control character", quoteShort(p))
			}
		}
	}
	return nil
}

func sameCheck(t *testing.T, p string) {
	t.Helper()
	got, want := fmt.Sprint(checkRequestPath(p)), fmt.Sprint(checkRequestPathBySplit(p))
	if got != want {
		t.Errorf("checkRequestPath(%q) = %s, want %s", p, got, want)
	}
}

func TestCheckRequestPathMatchesSplit(t *testing.T) {
	for _, p := range []string{
		"", "/", "//", "/accounts", "/accounts/", "/accounts/abc/publish", "/a/./b", "/a/../b", "/a/%2e/b",
		"/a/%2E%2e", "/a/%zz", "/a/%", "/a b", "/a\tb", "/a\x00", "/a\x7f", "/é", "/a\u00a0b", "/a\u200bb",
		"/\xff", "/a?b", "/a#b", `/a\b`, "accounts", "/./", "/..", "/.../x", "/%2F", "/a%20b",
	} {
		sameCheck(t, p)
	}
	alphabet := []string{"/", "a", "Z", "0", ".", "%", "2", "e", "E", "f", " ", "\t", "\x00", "\x7f", "é", "\u00a0", "\u2028", "\xff", "-", "_", "~", "+"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		b.WriteByte('/')
		for range rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		sameCheck(t, b.String())
	}
}

func FuzzCheckRequestPath(f *testing.F) {
	for _, s := range []string{"/accounts/abc", "/a/../b", "/a%zz", "/a b", "/é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) { sameCheck(t, p) })
}
