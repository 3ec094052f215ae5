package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	// Policies name IANA time zones; the database goes into the binary so that the answer does not
	// depend on the files of the workstation.
	_ "time/tzdata"

	"github.com/volsync/volsync/pkg/cli"
)

func main() {
	a := newApp(os.Stdout, os.Stderr, invokedAsPlugin(os.Args[0]))
	// Ctrl-C cancels the command's context, so a command in the middle of a workflow (a drill
	// with its scratch namespaces) cleans up before it exits; a second Ctrl-C kills it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	err := a.root.ExecuteContext(ctx)
	stop()
	if err != nil {
		code, silent := cli.ExitCode(err)
		if !silent {
			cli.PrintError(os.Stderr, err)
		}
		os.Exit(code)
	}
}

// invokedAsPlugin reports whether the binary runs as the kubectl plugin (kubectl-volsync), so that
// help and error texts say `kubectl volsync` as the user typed it.
func invokedAsPlugin(arg0 string) bool {
	name := strings.TrimSuffix(filepath.Base(arg0), ".exe")
	return name == "kubectl-volsync"
}
