// Package rsync is the rsync-over-ssh mover: the Job specs the controller builds, and the entry
// points that run inside the mover container (files entry*.go).
//
// The data plane, as the entry points implement it:
//
//   - The destination runs an unprivileged sshd on port 8022 whose host key is the relationship's
//     destination key and which admits only the source's public key, with a forced command that
//     can do exactly two things: run rsync as a receiver into the volume's staging area, and
//     commit that staging area as the volume's new image. After one commit it exits 0: each sync
//     is one Job run.
//   - The source waits (bounded, CONNECT_TIMEOUT, default 5m) for the destination to answer, runs
//     rsync over ssh as SSH_USER (default root), then asks the destination to commit. A refused key
//     or an unexpected host key fails at once, with a message that says which.
//
// Privilege: movers run unprivileged by default, and an unprivileged sshd admits only the login
// name of the user that runs it. So the destination runs sshd under libnss_wrapper with a user
// database in which root, SSH_USER (when the Job sets it) and its own name all stand for its own
// user id; the source does the same for ssh when its user id has no entry (random user ids).
// Unprivileged, ownership is not carried (every file belongs to the mover's user), and of the
// extended attributes only user.* ones; ACLs are, on files the mover owns. Where the destination's
// file system cannot store ACLs or extended attributes at all, the source retries without them and
// says so in its log.
//
// Nothing lost: rsync never writes into the live tree. It receives into <volume>/.volsync-staging
// with --link-dest to the live tree, so unchanged files are hard links and changed or new files
// are new inodes; the live tree is not modified until the commit, which swaps the staged tree in
// through a journal that a restarted destination finishes (or, before the commit began, discards).
// A sync killed half-way therefore leaves the previous image intact and readable, and the next sync
// resumes from what the staging area already holds.
package rsync
