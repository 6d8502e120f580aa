package frame_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

func TestPathFor(t *testing.T) {
	const tmpl = "/accounts/{account_id}/pools/{pool_id}/clone"
	ok := []struct{ acc, pool, want string }{
		{"acc-1", "pool-2", "/accounts/acc-1/pools/pool-2/clone"},
		{"31cbf42c-8767-486c-9ed3-d6a804q7cfe1", "gateway-prod.535675", "/accounts/31cbf42c-8767-486c-9ed3-d6a804q7cfe1/pools/gateway-prod.535675/clone"},
		{"Köln-Store", "p", "/accounts/K%C3%B6ln-Store/pools/p/clone"},
		{"a:b@c", "p;q", "/accounts/a:b@c/pools/p%3Bq/clone"},
		{"...", "p", "/accounts/.../pools/p/clone"},
	}
	for _, c := range ok {
		got, err := frame.PathFor(tmpl, map[string]string{"account_id": c.acc, "pool_id": c.pool, "extra": "ignored"})
		if err != nil || got != c.want {
			t.Errorf("PathFor(%q, %q) = %q, %v; want %q", c.acc, c.pool, got, err, c.want)
		}
	}
	bad := map[string]string{
		"empty":       "",
		"slash":       "a/b",
		"backslash":   `a\b`,
		"dotdot":      "..",
		"dot":         ".",
		"escaped":     "%2F",
		"percent":     "100%",
		"query":       "x?y",
		"fragment":    "x#y",
		"space":       "a b",
		"tab":         "a\tb",
		"newline":     "a\n",
		"nul":         "a\x00b",
		"del":         "a\x7fb",
		"nbsp":        "a\u00a0b",
		"zero-width":  "a\u200bb",
		"bidi":        "a\u202eb",
		"invalid-utf": "a\xffb",
	}
	for name, v := range bad {
		_, err := frame.PathFor(tmpl, map[string]string{"account_id": "ok", "pool_id": v})
		var ie *frame.InvalidRequestError
		if !errors.As(err, &ie) {
			t.Errorf("%s: PathFor(%q) err = %v, want *InvalidRequestError", name, v, err)
			continue
		}
		if ie.Param != "pool_id" || !strings.Contains(err.Error(), `"pool_id"`) {
			t.Errorf("%s: error does not name the parameter: %v", name, err)
		}
		if c, _ := frame.Classify(err); c != frame.ClassInvalid {
			t.Errorf("%s: class %q", name, c)
		}
	}
	if _, err := frame.PathFor(tmpl, map[string]string{"account_id": "a"}); err == nil || !strings.Contains(err.Error(), "pool_id") {
		t.Errorf("missing parameter: %v", err)
	}
	for _, tm := range []string{"accounts/{id}", "/accounts/{id", "/accounts/{}", "/a/}"} {
		if _, err := frame.PathFor(tm, map[string]string{"id": "x"}); err == nil {
			t.Errorf("template %q accepted", tm)
		}
	}
}

func TestCleanAPIPath(t *testing.T) {
	ok := map[string]string{
		"/accounts":                 "/accounts",
		"accounts":                  "/accounts",
		"/accounts/":                "/accounts/",
		"//accounts//abc":           "/accounts/abc",
		"/accounts/K%C3%B6ln/pools": "/accounts/K%C3%B6ln/pools",
		"/accounts/Köln":            "/accounts/K%C3%B6ln",
		"/accounts/...":             "/accounts/...",
	}
	for in, want := range ok {
		if got, err := frame.CleanAPIPath(in); err != nil || got != want {
			t.Errorf("CleanAPIPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "/accounts/../customers", "/./accounts", "..", "/accounts/%2e%2E",
		"/accounts?name=x", "/accounts#x", "/accounts/a b", "/accounts/\n", "/a\\b", "/accounts/%zz", "/accounts/a%2Fb", "/a%00"} {
		if got, err := frame.CleanAPIPath(in); err == nil {
			t.Errorf("CleanAPIPath(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzPathFor(f *testing.F) {
	for _, s := range []string{"acc-1", "a/b", "..", "%2F", "x?y", "x#y", "a b", "\n", "Köln", "\u202e", "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := frame.PathFor("/accounts/{id}/publish", map[string]string{"id": v})
		if err != nil {
			return
		}
		// An accepted value stays one segment and decodes back to itself.
		rest := strings.TrimSuffix(strings.TrimPrefix(p, "/accounts/"), "/publish")
		if strings.ContainsAny(rest, "/?#\\ ") || rest == "." || rest == ".." {
			t.Fatalf("PathFor(%q) = %q escapes its segment", v, p)
		}
		dec, err := url.PathUnescape(rest)
		if err != nil || dec != v {
			t.Fatalf("PathFor(%q) = %q does not round-trip (%q, %v)", v, p, dec, err)
		}
		if _, err := frame.CleanAPIPath(p); err != nil {
			t.Fatalf("CleanAPIPath refuses PathFor's output %q: %v", p, err)
		}
	})
}
