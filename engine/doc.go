// Package engine compiles a loaded workflow into a Program and runs it: a
// DAG per graph (the top level and each group's body), fan-outs, retries,
// timeouts, resource locks, and the three modes (run sends mutations; plan
// reads live and records mutations; offline sends nothing). It knows no
// concrete step and no API: step types register into a Registry, and every
// mutation goes through StepContext.Mutate to the recorder the caller gives
// (the journal, a plan guard), so plans, approvals and resume are
// properties of the engine rather than of each step type.
//
// It reports progress as Events to a sink, and approval needs as data
// (Program.Approvals).
//
// May import: schema and engine/expr (and what they import). Never frame,
// steps, runner, cli, or the YAML library (positions come from schema).
package engine
