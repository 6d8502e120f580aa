package sim_test

import (
	"testing"
	"time"

	"github.com/frameflow/frameflow/frame/sim"
)

// Audit-trail kinds come from the scenario (or Options): a clone may write
// a kind without "clone" in it, or nothing at all; and audit trails may
// answer 403.
func TestAuditTrailSpec(t *testing.T) {
	clone := func(h *harness) string {
		qa, store := h.accountByName("QA"), h.accountByName("Store-001")
		qaSandbox, _ := h.pools(qa.ID)
		h.must(200, "POST", "/v1/accounts/"+store.ID+"/pools/"+qaSandbox.ID+"/clone", nil, nil)
		return store.ID
	}
	t.Run("kind without clone", func(t *testing.T) {
		h := newHarness(t, func(o *sim.Options) {
			o.Scenario, o.TaskDuration = sim.RetailScenario(2), time.Second
			o.Scenario.AuditTrails = &sim.AuditTrailSpec{Kinds: map[string]string{"clone": "sandboxCopied"}}
		})
		store := clone(h)
		var got []auditEntry
		h.must(200, "GET", "/v1/accounts/"+store+"/audit-trails?kind=clone", nil, &got)
		if len(got) != 0 {
			t.Errorf("kind=clone found %+v", got)
		}
		h.must(200, "GET", "/v1/accounts/"+store+"/audit-trails", nil, &got)
		if len(got) != 1 || got[0].Kind != "sandboxCopied" {
			t.Errorf("entries %+v, want one sandboxCopied", got)
		}
	})
	t.Run("no entry", func(t *testing.T) {
		h := newHarness(t, func(o *sim.Options) {
			o.Scenario, o.TaskDuration = sim.RetailScenario(2), time.Second
			o.AuditTrails = &sim.AuditTrailSpec{Kinds: map[string]string{"clone": ""}}
		})
		store := clone(h)
		var got []auditEntry
		h.must(200, "GET", "/v1/accounts/"+store+"/audit-trails", nil, &got)
		if len(got) != 0 {
			t.Errorf("an API clone left %+v", got)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		h := newHarness(t, func(o *sim.Options) {
			o.Scenario, o.TaskDuration = sim.RetailScenario(2), time.Second
			o.AuditTrails = &sim.AuditTrailSpec{Forbidden: true}
		})
		store := clone(h) // mutations still work
		h.must(403, "GET", "/v1/accounts/"+store+"/audit-trails", nil, nil)
	})
}

// A scenario file says it too: audit_trails with kinds and forbidden.
func TestAuditTrailSpecInScenarioFile(t *testing.T) {
	sc, err := sim.LoadScenario([]byte(`
organizations:
  - name: Org
    accounts:
      - name: QA
audit_trails:
  kinds: {clone: sandboxCopied, publish: ""}
  forbidden: true
`))
	if err != nil {
		t.Fatal(err)
	}
	a := sc.AuditTrails
	if a == nil || !a.Forbidden || a.Kinds["clone"] != "sandboxCopied" {
		t.Fatalf("audit_trails = %+v", a)
	}
	if k, ok := a.Kinds["publish"]; !ok || k != "" {
		t.Errorf("publish: %q %v, want an explicit empty kind (no entry)", k, ok)
	}
}
