// Package chaos runs volsync on the single-node cluster while the leading volsyncd is killed with
// SIGKILL at random moments, and then checks that no scheduled run was lost, doubled or left
// behind: `make chaos` brings the cluster up, deploys volsyncd (two replicas with leader election,
// specs/manager) and runs TestChaos here. Every mover (rsync, rsync-tls, rclone, restic) and a
// MigrationSchedule run on one-minute SchedulePolicies for CHAOS_DURATION (10m by default); the
// data of every destination is compared with its source by checksum from pods that mount them.
//
// Without CHAOS=1 the test is skipped, so `go test ./...` and `make test` never run it: it needs
// the cluster, root (it kills a process of the node) and about 20 minutes.
package chaos
