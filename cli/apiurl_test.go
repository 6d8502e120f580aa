package cli_test

import (
	"strings"
	"testing"

	"github.com/frameflow/frameflow/frame/sim"
)

// `api get` takes a full URL under the configured base, refuses one
// elsewhere, and a base URL without /v1 gets a hint instead of a bare 404.
func TestAPIGetFullURLAndBaseHint(t *testing.T) {
	_, env := simEnv(t, sim.Options{Scenario: sim.RetailScenario(1)})
	r := frameflow(t, env, "api", "get", env["FRAME_API_URL"]+"/accounts?name=QA")
	if r.code != 0 || !strings.Contains(r.out, `"name": "QA"`) {
		t.Fatalf("api get with a full URL under the base:\n%s", r)
	}
	r = frameflow(t, env, "api", "get", "https://elsewhere.example/v1/accounts")
	if r.code != 2 || !strings.Contains(r.err, "is not under the configured API base") {
		t.Errorf("api get with a URL elsewhere:\n%s", r)
	}
	env["FRAME_API_URL"] = strings.TrimSuffix(env["FRAME_API_URL"], "/v1")
	r = frameflow(t, env, "api", "get", "/accounts")
	if r.code == 0 || !strings.Contains(r.err, "check that the API URL ends with /v1") {
		t.Errorf("a base URL without /v1:\n%s", r)
	}
}
