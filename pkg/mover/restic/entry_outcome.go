package restic

import (
	"fmt"
	"os"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// Exit codes of the entry point. The control plane reads them from the Job's pod.
const (
	// ExitSucceeded: the backup or restore finished.
	ExitSucceeded = 0
	// ExitFailed: anything else went wrong; the termination log says what.
	ExitFailed = 1
	// ExitLocked: the repository is locked by another process. Retrying at once cannot help (and
	// burned egress for users of other tools, volsync #1429), so the control plane reports it
	// instead of retrying.
	ExitLocked = 11
)

// Outcome is the summary the entry point writes to the termination log, as every mover does.
type Outcome = entrypoint.Summary

// entryFailure is an error with the exit code the entry point ends with.
type entryFailure struct {
	code int
	msg  string
}

func (f *entryFailure) Error() string { return f.msg }

func failf(format string, args ...any) error {
	return &entryFailure{code: ExitFailed, msg: fmt.Sprintf(format, args...)}
}

// writeOutcome writes o to path. A failure to write is reported but does not change the exit
// code: the exit code alone still tells success from failure.
func writeOutcome(path string, o Outcome) {
	if err := entrypoint.WriteSummaryTo(path, o); err != nil {
		fmt.Fprintf(os.Stderr, "restic mover: %s\n", entrypoint.Mask(err.Error()))
	}
}
