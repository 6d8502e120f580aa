package sim

import (
	"fmt"
	"net/http"
)

// AuditTrailSpec changes how the simulator keeps audit trails. The docs
// never say whether a clone or a publish writes an audit-trail entry, nor
// with which kind (their only examples are createLaunchpad and
// updateLaunchpad), nor which roles may read them; these settings let tests
// play the estates frameflow must stay safe on.
type AuditTrailSpec struct {
	// Kinds maps an operation (clone, publish) to the kind of the entry it
	// writes, instead of the default (cloneSandbox, publishSandbox). An
	// empty kind writes no entry at all (an API clone that leaves no trace).
	Kinds map[string]string `yaml:"kinds" json:"kinds,omitempty"`
	// Forbidden makes GET /accounts/:id/audit-trails answer 403, as for a
	// credential whose role cannot read audit trails.
	Forbidden bool `yaml:"forbidden" json:"forbidden,omitempty"`
}

// auditSpec is the audit-trail behaviour in force: Options.AuditTrails,
// else the scenario's.
func (s *Server) auditSpec() *AuditTrailSpec {
	if s.opts.AuditTrails != nil {
		return s.opts.AuditTrails
	}
	return s.opts.Scenario.AuditTrails
}

// auditOp appends the entry operation op writes (kind def unless the spec
// says otherwise, nothing when it says ""). Callers hold s.mu.
func (s *Server) auditOp(a *account, op, def string, c *call) {
	kind := def
	if sp := s.auditSpec(); sp != nil {
		if k, ok := sp.Kinds[op]; ok {
			kind = k
		}
	}
	if kind != "" {
		s.audit(a, kind, c.now)
	}
}

// auditForbidden answers 403 when audit trails may not be read; it
// reports whether it did.
func (s *Server) auditForbidden(c *call) bool {
	if sp := s.auditSpec(); sp != nil && sp.Forbidden {
		c.fail(http.StatusForbidden, "%s", fmt.Sprintf("the credential %s may not read audit trails", s.opts.ClientID))
		return true
	}
	return false
}
