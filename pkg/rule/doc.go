// Package rule runs the actions of a Rule (Stork's application-consistency hooks) in pods: which
// pods an action runs in, the shell that starts a background action detached from the exec
// stream and ends it later, and the exec itself through the pods/exec subresource.
//
// The choice of pods, the scripts and the reading of their answers are pure functions; only
// Executor talks to an API server.
package rule
