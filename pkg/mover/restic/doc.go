// Package restic is the restic mover: backups of a volume into a restic repository (the source)
// and restores of one of its snapshots into a volume (the destination).
//
// The control plane (the Builder and Mover) turns a ReplicationSource or ReplicationDestination
// into a Job that runs `volsync-mover restic source|destination`; the entry point (entry*.go) is
// what that Job runs: it drives the restic binary over the volume mounted at /data and reports
// the outcome in the container's termination log.
package restic
