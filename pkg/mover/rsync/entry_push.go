package rsync

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// PushRequest is one push of a directory tree to an rsync destination: what a source mover sends
// from its volume, and what `volsyncctl migration rsync` sends from a local directory.
type PushRequest struct {
	// From is the directory whose contents become the destination's image, or the block device.
	From string
	// To is the destination path: the staging area (the default) or DeviceTarget.
	To string
	// Device says From is a block device.
	Device bool
	// Address and Port are where the destination's sshd answers; Login is the ssh user.
	Address string
	Port    int
	Login   string
	// KeysDir holds the relationship's keys as the destination publishes them: source (the
	// private key the destination admits) and destination.pub (its host key).
	KeysDir string
	// ConnectTimeout bounds the wait for the destination to answer and the retries of the transfer.
	ConnectTimeout time.Duration
}

// Push transfers req.From into the destination's staging area and asks the destination to commit
// it as its new image. Until the commit, the destination keeps its previous image: a push that
// fails half-way changes nothing a reader sees.
func Push(ctx context.Context, log *entrypoint.Logger, req PushRequest) (entrypoint.Summary, error) {
	var sum entrypoint.Summary
	work, err := os.MkdirTemp("", "volsync-rsync-source-")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(work)
	ssh, env, err := sshClient(work, req.KeysDir, req.Address, req.Port, req.Login)
	if err != nil {
		return sum, err
	}

	hostPort := net.JoinHostPort(req.Address, strconv.Itoa(req.Port))
	deadline := entrypoint.Clock.Now().Add(req.ConnectTimeout)
	log.Printf("connecting to %s as %s (waiting up to %s for it to answer)", hostPort, req.Login, req.ConnectTimeout)
	if err := WaitForAddress(ctx, log, "the destination", hostPort, deadline); err != nil {
		return sum, err
	}

	stats, err := Transfer(ctx, log, TransferRequest{
		From:      req.From,
		To:        fmt.Sprintf("%s@%s:%s", req.Login, bracketIPv6(req.Address), cmp.Or(req.To, StagingDir+"/")),
		Device:    req.Device,
		Transport: []string{"-e", strings.Join(ssh, " ")},
		Env:       env,
		Deadline:  deadline,
		Permanent: sshFailure,
	})
	if err != nil {
		return sum, err
	}
	sum.Files, sum.Bytes = stats.FilesTransferred, stats.BytesTransferred

	// The commit makes the transfer the destination's image and lets the destination exit.
	commit := append(append([]string{}, ssh[1:]...), req.Address, CommitRequest(sum.Files, sum.Bytes))
	c := RunTool(ctx, log, "commit", env, ssh[0], commit...)
	if c.Failed() {
		if err := sshFailure(c); err != nil {
			return sum, err
		}
		return sum, fmt.Errorf("the destination did not commit the transfer (exit code %d): %s", c.ExitCode, c.StderrTail(3))
	}
	sum.Message = fmt.Sprintf("synchronized %d of %d files (%d bytes transferred) to %s", stats.FilesTransferred, stats.Files, stats.BytesTransferred, hostPort)
	if req.Device {
		sum.Message = DeviceMessage(stats, hostPort)
	}
	return sum, nil
}
