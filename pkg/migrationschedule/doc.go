// Package migrationschedule runs the MigrationSchedule controller: each time a type of the
// schedule's SchedulePolicy comes due it creates the dated Migration for it, keeps a per-type
// history in status (trimmed to the policy's retain, deleting the older Migrations), and raises
// Events for every outcome a person wants to see.
//
// When to run is not decided here: package schedule answers "what is due, and when next?" from
// the policy, the schedule's creation time and the last trigger of each type kept in status. This
// package only glues that answer to the API, in a way that survives restarts:
//
//   - Children are named from the scheduled time (schedule.ChildName), so a crash between creating
//     a Migration and recording it makes the next pass find it (AlreadyExists is success), never a
//     second one.
//   - Only one Migration of a schedule runs at a time, because two runs to the same destination
//     would race each other. A type that comes due while one is running is kept in status.pending
//     (one entry per type, the newest scheduled time wins) and runs after it, once. Stork drops such
//     a trigger after an hour; here it is never lost.
//   - When several types are pending, the rarest runs first (Monthly, Weekly, Daily, Interval): a
//     delayed interval run is replaced by the next one within minutes, a delayed monthly run is not,
//     and the rarer types are the ones kept longest by retain.
//   - A suspended schedule creates nothing. Triggers that pass while it is suspended, and the
//     queue it had, are recorded as handled and counted as missed, not caught up on resume: a
//     person who suspends a schedule does not expect a burst of runs when resuming it.
//   - Deleting a schedule deletes its Migrations, through the finalizer
//     volsync.backube/migration-schedule, rather than relying on the garbage collector, so that
//     the clean-up is explicit and visible.
//
// The controller requeues at the next trigger time of the policy (plus a second), never on a fixed
// poll; child status changes and policy edits wake it through watches.
package migrationschedule
