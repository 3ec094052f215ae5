package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
)

// movers maps a mover's name, as Jobs name it, to its entry point: Main(role, args) returns the
// process exit code. One line per mover.
var movers = map[string]func(role string, args []string) int{
	"rsync":     rsync.Main,
	"rsync-tls": rsynctls.Main,
	"restic":    restic.Main,
	"rclone":    rclone.Main,
}

func main() {
	if len(os.Args) < 3 {
		names := make([]string, 0, len(movers))
		for n := range movers {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: volsync-mover <%s> <source|destination>\n", strings.Join(names, "|"))
		os.Exit(2)
	}
	run, ok := movers[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "volsync-mover: unknown mover %q\n", os.Args[1])
		os.Exit(2)
	}
	os.Exit(run(os.Args[2], os.Args[3:]))
}
