// Package mover is the contract between the replication controllers and the data movers.
//
// Each mover (rsync, rsync-tls, rclone, restic) lives in its own sub-package and registers a
// Builder with the Catalog at start-up. When a ReplicationSource or ReplicationDestination is
// reconciled, every Builder is asked to build a Mover for it; exactly one must answer, else the
// object gets ErrNoMoverFound or ErrMultipleMoversFound in a condition. Adding a mover therefore
// touches one new package and one registration line.
//
// A Mover's Synchronize and Cleanup are called on every reconcile until they report completion, so
// both must be idempotent: any call may be the first after a crash.
package mover
