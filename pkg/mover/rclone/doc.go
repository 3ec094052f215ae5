// Package rclone is the rclone mover: a volume is synchronized to an object store (or any other
// rclone remote) by the source and from it by one or more destinations, so one source feeds many
// destinations.
//
// The control plane (the Builder and Mover) turns a ReplicationSource or ReplicationDestination
// into a Job that runs `volsync-mover rclone source|destination`; the entry point (entry*.go) is
// what that Job runs: it drives the rclone binary over the volume mounted at /data and reports the
// outcome in the container's termination log.
package rclone
