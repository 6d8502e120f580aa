// Package runner is frameflow's application layer: what a person can do
// with a workflow, independent of how they asked. It prepares a workflow
// (load, validate, compile once, bind typed inputs), checks it offline
// (preflight), says what needs approval, plans, runs, applies a saved plan
// and resumes a journaled run, and lists past runs.
//
// The command line (cli) and the web server call the same functions: this
// package reads no flags, no stdin or stdout, and never exits the process.
// Failures are typed errors (WorkflowError, InputError, PreflightError,
// StaleError, ...) that carry their facts as data, so each caller decides
// how to show them and which exit code or HTTP status they mean.
//
// Secrets are handled here, in one place: the API client secret and the
// values of inputs marked secret are registered with Config.Secrets as soon
// as they are known, and inputs are redacted before a journal or plan
// stores them.
//
// May import: engine, engine/journal, plan, schema, frame, steps. Never
// cli, and nothing that draws.
package runner
