// Command volsyncctl is the volsync command-line tool. Installed under the name kubectl-volsync it
// is also the kubectl plugin `kubectl volsync`. Each command is one file here; the shared flags,
// clients, printing and error messages live in pkg/cli.
package main
