package runner_test

import (
	"testing"

	"github.com/frameflow/frameflow/frame"
	"github.com/frameflow/frameflow/runner"
)

// Runs reach v1alpha (api.call with api: v1alpha) under the base derived
// from FRAME_API_URL, or FRAME_API_V1ALPHA_URL when it is set.
func TestClientV1AlphaBase(t *testing.T) {
	env := map[string]string{"FRAME_API_URL": "http://127.0.0.1:9/v1", "FRAME_CLIENT_ID": "id", "FRAME_CLIENT_SECRET": "s"}
	svc := runner.New(runner.Config{Getenv: func(k string) string { return env[k] }})
	c, err := svc.Client(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.V1AlphaURL(); got != "http://127.0.0.1:9/v1alpha" {
		t.Errorf("derived v1alpha base %q", got)
	}
	env[frame.EnvV1AlphaURL] = "http://127.0.0.1:9/alpha"
	if c, err = svc.Client(true, nil); err != nil || c.V1AlphaURL() != "http://127.0.0.1:9/alpha" {
		t.Errorf("FRAME_API_V1ALPHA_URL: %v %v", c, err)
	}
	env[frame.EnvV1AlphaURL] = "ftp://nope"
	if _, err := svc.Client(true, nil); err == nil {
		t.Error("a bad FRAME_API_V1ALPHA_URL was accepted")
	}
}
