// Package migration runs the ClusterPair and Migration controllers.
//
// The ClusterPair controller keeps a pair's Ready condition true to the destination: it reads the
// kubeconfig Secret, asks the destination for its version and checks that the kubeconfig's user
// may do what a migration does there; it re-checks on a timer and at once when the Secret changes.
//
// The Migration controller runs one Migration through its stages, Volumes -> Applications ->
// Final, and then never touches it again. The Applications stage copies the namespaces' objects
// kind by kind in the order of package copier, with server-side apply under the field owner
// "volsync", and checkpoints the status after every kind: volsyncd stopped in the middle picks the
// run up where the status says, and applying again is harmless, so a restart finishes the run
// with no duplicate object. A destination that cannot be reached, or refuses, is retried with a
// bounded exponential backoff (RetryPolicy) before the run is marked Failed; every attempt shows in
// the DestinationReady condition and in an Event.
//
// spec.namespaceMapping puts a namespace under another name on the destination, which may be this
// very cluster; a run that would write a namespace onto one of its own sources is refused before
// its first write (selfoverwrite.go).
//
// What to copy and how to shape it lives in package copier (pure), how to reach the destination in
// package remote; this package glues them to the API.
package migration
