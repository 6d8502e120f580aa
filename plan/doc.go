// Package plan is frameflow's plan model: what a dry run found it would do,
// its renderings (text, JSON, Markdown), saved plan files bound to a hash,
// the staleness check that apply runs before sending anything, and the guard
// that lets through exactly the planned mutations.
//
// The JSON form is a stable, documented format (docs/plan-format.md).
//
// May import: engine (and what it imports).
package plan
