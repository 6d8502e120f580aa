package cli

import (
	"errors"
	"fmt"
)

// Exit codes, one table for the whole tool (also printed by --help).
const (
	ExitOK          = 0   // success
	ExitFailed      = 1   // a step or the run failed (or any runtime error)
	ExitInvalid     = 2   // invalid workflow, input or usage
	ExitChanges     = 3   // plan --detailed-exitcode found changes
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM)
)

const exitCodesHelp = `Exit codes:
  0    success
  1    a step or the run failed
  2    invalid workflow, input or usage
  3    plan --detailed-exitcode: changes present
  130  interrupted`

// exitError carries an exit code up to Main. A nil err with a code is a
// silent exit (the command already printed what it had to say).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitInvalid, err: fmt.Errorf(format, a...)}
}

func silentExit(code int) error { return &exitError{code: code} }

func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailed
}
