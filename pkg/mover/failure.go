package mover

import (
	"errors"
	"fmt"
)

// FailedError is returned by a Mover's Synchronize when the synchronization ended and failed for
// good (its Job ran out of retries, or the tool reported a failure that retrying cannot fix). It is
// not a transient error: the controller marks the sync Failed, cleans up and tries again at the
// next trigger, after a backoff, instead of calling Synchronize again at once.
type FailedError struct {
	// Reason is a short CamelCase word a person can search for, such as BackoffLimitExceeded or
	// RepositoryLocked.
	Reason string
	// Message says what went wrong and, when known, how to fix it.
	Message string
}

// Error implements error.
func (e *FailedError) Error() string {
	return fmt.Sprintf("sync failed (%s): %s", e.Reason, e.Message)
}

// Failed makes a FailedError.
func Failed(reason, format string, args ...any) error {
	return &FailedError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsFailed reports whether err is, or wraps, a FailedError, and returns it.
func AsFailed(err error) (*FailedError, bool) {
	var f *FailedError
	if errors.As(err, &f) {
		return f, true
	}
	return nil, false
}
