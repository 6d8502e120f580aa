package frame

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// A secret parameter stays masked in the carried request of an outcome-
// unknown error whatever its encoding: bracket keys, a wrapped JSON body.
func TestSecretsMaskedInEveryEncoding(t *testing.T) {
	req := &Request{Method: "POST", Path: "/x",
		Query:  url.Values{"pw[a]": {"q-canary"}, "other": {"fine"}},
		JSON:   map[string]any{"wrap": map[string]any{"pw": "j-canary", "ok": 1}},
		Secret: []string{"pw"},
	}
	c := &Client{}
	err := c.outcomeUnknown(&callState{method: "POST"}, req, []byte(`{"wrap":{"pw":"j-canary","ok":1}}`), errors.New("connection reset"))
	for _, canary := range []string{"q-canary", "j-canary"} {
		if strings.Contains(err.Query+string(err.Body)+err.Error(), canary) {
			t.Errorf("%s leaked: query %q body %s", canary, err.Query, err.Body)
		}
	}
	if !strings.Contains(err.Query, "other=fine") || !strings.Contains(string(err.Body), `"ok":1`) {
		t.Errorf("lost the public values: query %q body %s", err.Query, err.Body)
	}
	if got := secretValues(req); strings.Join(got, ",") != "q-canary,j-canary" {
		t.Errorf("secretValues = %v", got)
	}
}
