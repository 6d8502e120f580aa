// Package cli is frameflow's command line: commands, flags, prompts,
// streams, renderers (plain lines, JSON Lines, JUnit, step summaries) and
// exit codes. The work behind run, plan, apply, resume and runs is the
// application layer's (package runner), which the web server shares; cli
// turns flags into its typed requests and its typed errors into messages
// and exit codes. The live terminal view is package liveview.
//
// May import: runner, liveview and bench, and what they import.
package cli
