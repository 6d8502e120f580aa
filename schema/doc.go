// Package schema loads workflow files: YAML decoded with every node's
// FILE:LINE:COL, checked against the workflow JSON Schema (step `with`
// blocks validated against each step type's schema), and turned into the
// model the engine compiles (Workflow, Step, Value). Problems are returned
// all at once as Diagnostics, sorted by position.
//
// The loader keeps the YAML nodes so later stages can point inside a
// scalar (Value.Quoted, Workflow.ExprShift) without parsing YAML again.
//
// May import: internal/suggest. It knows no step type except through the
// StepTypeInfo schemas it is given.
package schema
