// Package cli is the plumbing that every volsyncctl command shares: the global flags
// (--kubeconfig, --context, --namespace, --output), building clients from a kubeconfig, printing
// objects as a table, YAML or JSON, and turning errors into the one-line messages a person can act
// on. A command file under cmd/volsyncctl only parses its own arguments, calls the API and prints.
package cli
