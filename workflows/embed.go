package workflows

import "embed"

// FS holds every *.yaml playbook of this folder, and the library
// playbooks they call (lib/*.yaml, run through uses: ./lib/x.yaml, never
// on their own).
//
//go:embed *.yaml lib/*.yaml
var FS embed.FS
