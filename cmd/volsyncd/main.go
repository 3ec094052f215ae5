package main

import (
	"fmt"
	"os"
	"strings"

	// Policies name IANA time zones; the database goes into the binary so that the answer does not
	// depend on the files of the node.
	_ "time/tzdata"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		// One line, so that it reads well in `kubectl logs` and in a terminal alike.
		fmt.Fprintln(os.Stderr, "error: "+strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		os.Exit(1)
	}
}
