// Package workflows holds the example playbooks. They are embedded so that
// `frameflow demo` works from any directory; a test validates and runs every
// one of them against the simulator.
//
// May import: nothing of this module.
package workflows
