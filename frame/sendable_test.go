package frame_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/frame/sim"
)

// sampleValue is a value of the catalog type, objects and lists non-empty
// so that their encoding is exercised.
func sampleValue(p frame.Param) any {
	switch p.Type {
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return false
	case "object":
		return map[string]any{"force": false}
	case "array":
		return []any{"a", "b"}
	}
	return "v-" + p.Name
}

// Every documented endpoint of both APIs, sent with every parameter the
// catalog knows, reaches the strict simulator where the docs put each
// parameter: whatever the simulator then says (404 for the made-up ids, a
// validation 400), it is never a refusal of the placement.
func TestEveryEndpointSendableAsDocumented(t *testing.T) {
	s, err := sim.Start(sim.Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := frame.NewClient(frame.Config{BaseURL: s.URL(), ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	placement := []string{"belongs in the", "unknown parameter", "in the docs, sent as", "wraps the body", "a body of type"}
	n := 0
	for _, api := range frame.APIs {
		for _, ep := range frame.CatalogFor(api) {
			params := map[string]any{}
			for _, p := range ep.Params {
				params[p.Name] = sampleValue(p)
			}
			if ep.Name == "pools.elasticity.set" {
				params["min_servers"], params["buffer_servers"], params["max_servers"] = 1, 1, 2
			}
			_, err := c.CallIn(context.Background(), api, ep.Name, params, frame.Overrides{})
			n++
			var apiErr *frame.APIError
			if errors.As(err, &apiErr) && apiErr.Status == 400 {
				for _, p := range placement {
					if strings.Contains(apiErr.Message, p) {
						t.Errorf("%s %s: the strict simulator refused the placement: %s", api, ep.Name, apiErr.Message)
					}
				}
			}
			var inv *frame.InvalidRequestError
			if errors.As(err, &inv) {
				t.Errorf("%s %s: refused locally: %v", api, ep.Name, err)
			}
		}
	}
	if n != 110 {
		t.Errorf("sent %d endpoints, want 104 v1 + 6 v1alpha", n)
	}
}
