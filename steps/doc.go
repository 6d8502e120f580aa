// Package steps holds frameflow's step types: one file per type, one list
// (types, below) of them. Each type declares its inputs, output shapes,
// whether it mutates and what it touches; its Run reads through the frame
// client and sends every mutation through engine.StepContext.Mutate, so
// plans, approvals and the run journal see all of them. A mutation is built
// once, as the catalog request that is sent (mutation.go), and a type's
// inputs are a parameter struct decoded in one place (params.go).
//
// May import: engine and frame (and what they import). Never cli or runner.
package steps
