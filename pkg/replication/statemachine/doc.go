// Package statemachine is the trigger -> sync -> cleanup cycle shared by ReplicationSource and
// ReplicationDestination.
//
// It knows nothing about Kubernetes clients: the reconcilers wrap their object in a Machine (a few
// accessors and the mover's Synchronize and Cleanup), ask pkg/schedule for the Trigger, and call Run
// with the time. Run changes the object's status in place; the reconciler writes it. Where the cycle
// stands lives in the Synchronizing condition, so any reconcile, after any restart, picks up where
// the last one stopped.
package statemachine
