//go:build !linux

package rsync

import "golang.org/x/sys/unix"

// syncFS flushes every file system: syncfs(2), one file system only, is Linux's. Movers run on
// Linux; this lets volsyncctl, which shares the package, build for macOS.
func syncFS(string) error {
	unix.Sync()
	return nil
}
