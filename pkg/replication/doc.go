// Package replication holds the ReplicationSource and ReplicationDestination reconcilers.
//
// They glue; they do not compute. Each reconcile asks the mover catalog for the object's Mover,
// pkg/schedule for its Trigger (fetching the SchedulePolicy it names), and hands both to
// statemachine.Run, which moves the object through trigger -> sync -> cleanup and edits its status.
// The reconciler then writes the status, when it changed, and requeues at the time Run asked for:
// the next trigger, never a polling interval. Policy-triggered syncs are recorded as dated
// ReplicationSync children, their history trimmed to the policy's retain.
package replication
