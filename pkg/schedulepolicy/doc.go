// Package schedulepolicy runs the SchedulePolicy controller: it checks each policy with the same
// rules as admission (for policies stored before a rule existed), reports a Valid condition that
// names the bad field, and publishes the next trigger time of every type, so an admin sees when a
// policy fires without reading its owners.
package schedulepolicy
