// Package entrypoint holds what every mover's entry point shares once it runs inside the mover
// container: reading its settings from the environment, logging lines a person can read, retrying
// with a bound, and reporting the outcome as a JSON summary in the container's termination log,
// where the controller reads it into latestMoverStatus.
//
// Secrets never leave the mover: every value of the mover's Secret is masked in everything the
// entry point logs or reports (secrets.go).
//
// The movers' own logic lives in their packages (pkg/mover/rsync, pkg/mover/rsynctls, ...); the
// volsync-mover binary only dispatches to them.
package entrypoint
