package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/syncthing"
)

// movers maps a mover's name, as Jobs name it, to its entry point: Main(role, args) returns the
// process exit code. One line per mover.
var movers = map[string]func(role string, args []string) int{
	"rsync":     rsync.Main,
	"rsync-tls": rsynctls.Main,
	"restic":    restic.Main,
	"rclone":    rclone.Main,
	"syncthing": syncthing.Main,
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == debugCommand {
		os.Exit(debug(os.Args[2:]))
	}
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

// debugCommand runs instead of the mover when its owner carries the enable-debug-mover
// annotation: `volsync-mover debug rsync source` says how to run the mover, then waits, with the
// mover's environment and volumes in place, until the pod is deleted. A person runs the mover
// by hand with kubectl exec, as VolSync's debug movers allow.
const debugCommand = "debug"

func debug(args []string) int {
	fmt.Printf("volsync-mover: debug mode (annotation volsync.backube/enable-debug-mover): the mover does not run by itself.\n")
	fmt.Printf("volsync-mover: run it with: kubectl exec -it <this pod> -- volsync-mover %s\n", strings.Join(args, " "))
	fmt.Printf("volsync-mover: this pod waits until it is deleted; remove the annotation and delete the Job to sync normally.\n")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	// Only a mover run by hand that succeeded makes this pod a sync: otherwise a deleted or
	// evicted debug pod would end Succeeded and be recorded as a sync that moved no data.
	path := entrypoint.TerminationLog(os.Getenv)
	if s, err := entrypoint.ReadSummary(path); err == nil && s.Result == entrypoint.ResultSuccessful {
		return 0
	}
	msg := "the debug mover was stopped before a mover run by hand succeeded; no data was synced"
	if err := entrypoint.WriteSummaryTo(path, entrypoint.Summary{Result: entrypoint.ResultFailed, Message: msg}); err != nil {
		fmt.Fprintf(os.Stderr, "volsync-mover: %v\n", err)
	}
	fmt.Fprintf(os.Stderr, "volsync-mover: %s\n", msg)
	return 1
}
