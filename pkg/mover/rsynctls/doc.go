// Package rsynctls is the rsync-over-TLS mover: the Job specs the controller builds, and the entry
// points that run inside the mover container (files entry*.go).
//
// The data plane, as the entry points implement it: the destination runs stunnel on port 8000,
// authenticating with the relationship's pre-shared key (psk.txt, "volsync:<64 hex digits>").
// For each connection stunnel starts `volsync-mover rsync-tls serve`, which reads one request
// line and carries it out with the TLS stream as its standard input and output, exactly as the
// rsync mover's forced ssh command does: either rsync receiving into the volume's staging area,
// or the commit of that area as the volume's image. The source runs a stunnel client on localhost
// and rsync with `volsync-mover rsync-tls connect` as its remote shell, which sends the request
// line and then pipes rsync's protocol through the tunnel. After one commit the destination exits
// 0.
//
// Why not an rsync daemon behind stunnel: unprivileged, a daemon cannot chroot, and without a
// chroot it rewrites absolute symlinks (/etc/x becomes etc/x), so the destination would not be
// an exact copy. Neither side needs privilege or a user database entry.
//
// A sync killed half-way leaves the previous image intact, as for the rsync mover (see package
// rsync).
package rsynctls
