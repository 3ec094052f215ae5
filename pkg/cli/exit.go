package cli

import (
	"errors"
	"fmt"
)

// ExitError ends the command with Code after the command has already printed what went wrong
// (such as validate's one line per problem), so main adds no "error:" line of its own.
type ExitError struct {
	// Code is the process exit status.
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Exit returns an ExitError with code.
func Exit(code int) error { return &ExitError{Code: code} }

// ExitCode is the exit status for err: the code of an ExitError, else 1; 0 for nil.
func ExitCode(err error) (code int, silent bool) {
	if err == nil {
		return 0, true
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 1, false
}
