package version

import (
	"fmt"
	"runtime"
)

// Version is the release (a git tag, or `git describe` output). Set with
//
//	-ldflags "-X github.com/volsync/volsync/pkg/version.Version=v0.1.0"
//
// A build without the flag, such as `go run`, reports "dev".
var Version = "dev"

// GitCommit is the commit the binary was built from, set the same way. Empty when unknown.
var GitCommit = ""

// Info is the version of one binary, in the shape printed by `volsyncctl version -o yaml`.
type Info struct {
	// Version is the release or "dev".
	Version string `json:"version"`
	// GitCommit is the source commit, when known.
	GitCommit string `json:"gitCommit,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the version of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		GitCommit: GitCommit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String is the one-line form used at start-up and by `volsyncctl version`:
// "v0.1.0 (commit 1a2b3c4, go1.26.8 linux/amd64)".
func (i Info) String() string {
	commit := i.GitCommit
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, %s %s)", i.Version, commit, i.GoVersion, i.Platform)
}
