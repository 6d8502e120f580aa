package frame_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
)

func TestBuildRequestEncodesAsTheDocsShow(t *testing.T) {
	// A list in the query: skip_user_idps[]=a&skip_user_idps[]=b, in order.
	req, err := frame.BuildRequest("accounts.user_activities.list", map[string]any{
		"account_id": "a1", "from_date": "2026-01-01", "to_date": "2026-01-31", "skip_user_idps": []any{"okta-b", "okta-a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Query["skip_user_idps[]"]; strings.Join(got, ",") != "okta-b,okta-a" || req.Query.Get("skip_user_idps") != "" {
		t.Errorf("query %v", req.Query)
	}
	// Objects in a JSON body stay nested JSON.
	req, err = frame.BuildRequest("servers.reboot", map[string]any{"account_id": "a1", "id": "42", "account_server_reboot": map[string]any{"force": false}})
	if err != nil {
		t.Fatal(err)
	}
	if m := req.JSON.(map[string]any); m["id"] != "42" || m["account_server_reboot"].(map[string]any)["force"] != false || req.Query != nil {
		t.Errorf("reboot body %v query %v", req.JSON, req.Query)
	}
	// The session settings are wrapped, as the curl example sends them.
	req, err = frame.BuildRequestIn("v1", "accounts.session_settings.update", sessionSettings(), frame.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if m := req.JSON.(map[string]any); len(m) != 1 || m["session_settings"].(map[string]any)["yuv444"] != false {
		t.Errorf("session settings body %v", req.JSON)
	}
	// resolution_type is a header on the account usage call.
	req, err = frame.BuildRequest("accounts.usage.get", map[string]any{"account_id": "a1", "from_date": "x", "to_date": "y", "resolution_type": "by_day"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("resolution_type") != "by_day" || req.Query.Has("resolution_type") {
		t.Errorf("usage header %v query %v", req.Header, req.Query)
	}
	// v1alpha endpoints carry their API.
	req, err = frame.BuildRequestIn("v1alpha", "accounts.usage.get", map[string]any{"account_id": "a1", "date_from": "2026-01-01", "date_to": "2026-01-02"}, frame.Overrides{})
	if err != nil || req.API != "v1alpha" || req.Path != "/accounts/a1/usage" || req.Query.Get("date_from") != "2026-01-01" {
		t.Errorf("v1alpha usage %+v %v", req, err)
	}
}

func sessionSettings() map[string]any {
	m := map[string]any{"account_id": "a1", "clipboard_integration": map[string]any{"is_enabled": true, "direction": "bidirectional"}, "scale_video": 1.0}
	ep, _ := frame.LookupEndpoint("accounts.session_settings.update")
	for _, p := range ep.Params {
		if _, ok := m[p.Name]; ok || !p.Required {
			continue
		}
		switch p.Type {
		case "boolean":
			m[p.Name] = false
		case "integer":
			m[p.Name] = 1
		}
	}
	return m
}

// Nested objects and lists in a query or form use brackets all the way
// down; keys are sorted so the wire form (and so a plan) is stable.
func TestOverridesEncodeNestedBrackets(t *testing.T) {
	req, err := frame.BuildRequestIn("v1", "accounts.get", map[string]any{"account_id": "a1"}, frame.Overrides{
		Query: map[string]any{"filter": map[string]any{"tags": []any{"x", "y"}, "a": map[string]any{"b": 1}}, "list": []any{map[string]any{"k": true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"filter[a][b]": {"1"}, "filter[tags][]": {"x", "y"}, "list[][k]": {"true"}}
	if req.Query.Encode() != want.Encode() {
		t.Errorf("query %s, want %s", req.Query.Encode(), want.Encode())
	}
}

func TestOverridesRefusedBeforeSending(t *testing.T) {
	cases := []struct {
		name   string
		ep     string
		params map[string]any
		ov     frame.Overrides
		want   string
	}{
		{"twice", "accounts.get", map[string]any{"account_id": "a"}, frame.Overrides{Query: map[string]any{"account_id": "b"}}, "given both as a parameter and in query"},
		{"two places", "accounts.get", map[string]any{"account_id": "a"}, frame.Overrides{Query: map[string]any{"x": 1}, JSON: map[string]any{"x": 1}}, "given in both query: and json:"},
		{"two bodies", "pools.elasticity.set", map[string]any{"pool_id": "p", "max_servers": 1}, frame.Overrides{JSON: map[string]any{"x": 1}}, "one body"},
		{"a scalar for a list", "accounts.user_activities.list", map[string]any{"account_id": "a", "from_date": "x", "to_date": "y", "skip_user_idps": "okta"}, frame.Overrides{}, "want a list"},
		{"a list for a scalar", "accounts.list", map[string]any{"name": []any{"a"}}, frame.Overrides{}, "want a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := frame.BuildRequestIn("v1", c.ep, c.params, c.ov)
			var inv *frame.InvalidRequestError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want an InvalidRequestError mentioning %q", err, c.want)
			}
		})
	}
}

func TestV1AlphaURLFor(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    frame.DefaultV1AlphaURL,
		frame.DefaultBaseURL:                  frame.DefaultV1AlphaURL,
		frame.DefaultBaseURL + "/":            frame.DefaultV1AlphaURL,
		"http://127.0.0.1:8080/v1":            "http://127.0.0.1:8080/v1alpha",
		"https://proxy.example/frame/v1":      "https://proxy.example/frame/v1alpha",
		"https://proxy.example/frame-gateway": "https://proxy.example/frame-gateway/v1alpha",
	} {
		if got := frame.V1AlphaURLFor(in); got != want {
			t.Errorf("V1AlphaURLFor(%q) = %q, want %q", in, got, want)
		}
	}
}

// A header parameter never overrides what the client sets itself.
func TestReservedHeadersRefused(t *testing.T) {
	c, err := frame.NewClient(frame.Config{BaseURL: "http://127.0.0.1:1/v1", ClientID: "id", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"X-Frame-Signature", "content-type", "Accept"} {
		_, err := c.Do(t.Context(), &frame.Request{Method: "GET", Path: "/accounts", Header: map[string][]string{h: {"x"}}}, nil)
		var inv *frame.InvalidRequestError
		if !errors.As(err, &inv) {
			t.Errorf("header %s: err = %v, want refused before sending", h, err)
		}
	}
}
