// Package dataplane tests the movers' entry points for real: the volsync-mover binary runs as
// separate source and destination processes on loopback with the real tools (rsync, sshd, ssh,
// stunnel), and the trees on both sides are compared by checksum: content, mode bits, ownership
// where the run is privileged, hard links, symlinks, sparse files, ACLs and extended attributes.
//
// The tools come from hack/dataplane-tools.sh (make dataplane-tools); restic, rclone and the S3
// server the restic and rclone movers talk to (versitygw, on loopback) from hack/mover-tools.sh
// (make mover-tools). The benchmarks (go test -bench, or make bench-dataplane) compare each entry
// point with its raw tool run by hand and with cp -a.
//
// tree_test.go holds the tree building and checksumming helpers; other movers' tests reuse them.
package dataplane
