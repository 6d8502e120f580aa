package workflows

import "embed"

// FS holds every *.yaml playbook of this folder.
//
//go:embed *.yaml
var FS embed.FS
