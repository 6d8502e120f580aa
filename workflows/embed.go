// Package workflows holds the example playbooks. They are embedded so that
// `frameflow demo` works from any directory; a test validates and runs every
// one of them against the simulator.
package workflows

import "embed"

// FS holds every *.yaml playbook of this folder.
//
//go:embed *.yaml
var FS embed.FS
