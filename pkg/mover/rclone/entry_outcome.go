package rclone

import (
	"encoding/json"
	"fmt"
	"os"
)

// Exit codes of the entry point. The control plane reads them from the Job's pod.
const (
	// ExitSucceeded: the sync finished.
	ExitSucceeded = 0
	// ExitFailed: anything else went wrong; the termination log says what.
	ExitFailed = 1
)

// Outcome is the summary the entry point writes to the termination log as one JSON object, so
// that the control plane can show it in latestMoverStatus without scraping logs.
type Outcome struct {
	// Result is "Successful" or "Failed".
	Result string `json:"result"`
	// Message says what happened, for a person.
	Message string `json:"message"`
	// Bytes is how many bytes rclone transferred.
	Bytes uint64 `json:"bytes"`
	// Files is how many files rclone transferred.
	Files uint64 `json:"files"`
}

// entryFailure is an error with the exit code the entry point ends with.
type entryFailure struct {
	code int
	msg  string
}

func (f *entryFailure) Error() string { return f.msg }

func failf(format string, args ...any) error {
	return &entryFailure{code: ExitFailed, msg: fmt.Sprintf(format, args...)}
}

// maxMessage bounds Outcome.Message so that the whole summary fits a termination message.
const maxMessage = 3000

// writeOutcome writes o to path. A failure to write is reported but does not change the exit
// code: the exit code alone still tells success from failure.
func writeOutcome(path string, o Outcome) {
	// Kubernetes keeps at most 4096 bytes of a termination message.
	if len(o.Message) > maxMessage {
		o.Message = o.Message[:maxMessage] + "..."
	}
	data, err := json.Marshal(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rclone mover: encoding the outcome: %v\n", err)
		return
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "rclone mover: writing the outcome to %s: %v\n", path, err)
	}
}
