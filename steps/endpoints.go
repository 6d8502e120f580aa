package steps

import (
	"strings"

	"github.com/frameflow/frameflow/frame"
)

// EndpointUse is one catalog endpoint a step type calls, and why: what
// `frameflow doctor` checks before a playbook runs.
type EndpointUse struct {
	Endpoint string // catalog name, e.g. sandbox.status
	// Role: "read" (the step cannot work without it), "mutation" (the
	// change itself; doctor never sends it), "wait" (polling a task),
	// "witness" (best-effort evidence for reconciling a lost answer: the
	// step runs without it, but a lost answer then needs an operator).
	Role string
}

// Roles of EndpointUse.
const (
	RoleRead     = "read"
	RoleMutation = "mutation"
	RoleWait     = "wait"
	RoleWitness  = "witness"
)

// stepEndpoints lists what each built-in step type calls; TestEndpointsOf
// keeps it complete and every name in the catalog.
var stepEndpoints = map[string][]EndpointUse{
	"accounts.list": {{"accounts.list", RoleRead}},
	"accounts.get":  {{"accounts.get", RoleRead}},
	"pools.list":    {{"pools.list", RoleRead}},
	"sandbox.clone": {
		{"sandbox.status", RoleRead}, {"pools.list", RoleRead}, // the source's sandbox pool
		{"accounts.audit_trails.list", RoleWitness},
		{"sandbox.clone", RoleMutation}, {"tasks.get", RoleWait},
	},
	"sandbox.publish": {
		{"publish.tasks", RoleRead}, // the ids listed before the POST
		{"sandbox.publish", RoleMutation}, {"tasks.get", RoleWait}, {"publish.status", RoleWait},
	},
	"sandbox.start": {{"sandbox.status", RoleWitness}, {"sandbox.start", RoleMutation}, {"tasks.get", RoleWait}},
	"sandbox.stop":  {{"sandbox.status", RoleWitness}, {"sandbox.stop", RoleMutation}},
	"elasticity.set": {
		{"pools.list", RoleRead}, {"pools.elasticity.get", RoleRead},
		{"pools.elasticity.set", RoleMutation}, {"tasks.get", RoleWait},
	},
	"persistent_desktop.capacity.set": {
		{"persistent_desktop.capacity.get", RoleRead},
		{"persistent_desktop.capacity.set", RoleMutation}, {"tasks.get", RoleWait},
	},
	"task.wait": {{"tasks.get", RoleWait}, {"publish.status", RoleWait}},
}

// callsNoFrame are the step types that never call the Frame API
// (http.request calls other services; approval waits for a person):
// EndpointsOf returns nothing for them, and doctor has nothing to check.
var callsNoFrame = map[string]bool{"http.request": true, "approval": true}

// CallsNoFrame reports whether a step type never calls the Frame API.
func CallsNoFrame(stepType string) bool { return callsNoFrame[stepType] }

// EndpointsOf returns the endpoints a step type calls. For api.call the
// endpoint is an input: pass it as endpoint (empty when not a constant).
// api.<name> steps call <name>. Unknown types return nil.
func EndpointsOf(stepType, endpoint string) []EndpointUse {
	if uses, ok := stepEndpoints[stepType]; ok {
		return uses
	}
	name := endpoint
	if stepType != "api.call" {
		name = strings.TrimPrefix(stepType, "api.")
		if name == stepType {
			return nil
		}
	}
	ep, ok := frame.LookupEndpoint(name)
	if !ok {
		return nil
	}
	if !ep.Mutates {
		return []EndpointUse{{ep.Name, RoleRead}}
	}
	out := []EndpointUse{{ep.Name, RoleMutation}}
	if ep.Response == frame.RespTask {
		out = append(out, EndpointUse{"tasks.get", RoleWait})
	}
	return out
}
