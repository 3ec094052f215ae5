package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SchedulePolicyType names one section of a policy. The value is used in status maps and, lower-cased,
// in the names of dated children.
// +kubebuilder:validation:Enum=Interval;Daily;Weekly;Monthly
type SchedulePolicyType string

// The four policy types, in the order a controller checks them.
const (
	SchedulePolicyTypeInterval SchedulePolicyType = "Interval"
	SchedulePolicyTypeDaily    SchedulePolicyType = "Daily"
	SchedulePolicyTypeWeekly   SchedulePolicyType = "Weekly"
	SchedulePolicyTypeMonthly  SchedulePolicyType = "Monthly"
)

// SchedulePolicyTypes lists every policy type in the order they are checked.
var SchedulePolicyTypes = []SchedulePolicyType{
	SchedulePolicyTypeInterval, SchedulePolicyTypeDaily, SchedulePolicyTypeWeekly, SchedulePolicyTypeMonthly,
}

// Default retain counts per policy type (how many dated children of that type are kept).
const (
	DefaultIntervalRetain = 10
	DefaultDailyRetain    = 30
	DefaultWeeklyRetain   = 7
	DefaultMonthlyRetain  = 12
)

// SchedulePolicy says when something runs. It holds no action: ReplicationSources and
// MigrationSchedules point at it by name. Cluster-scoped so that an admin writes it once for every
// namespace, like a StorageClass.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sp;schedpol
// +kubebuilder:printcolumn:name="Interval-Minutes",type=integer,JSONPath=`.policy.interval.intervalMinutes`
// +kubebuilder:printcolumn:name="Daily",type=string,JSONPath=`.policy.daily.time`
// +kubebuilder:printcolumn:name="Weekly-Day",type=string,JSONPath=`.policy.weekly.day`
// +kubebuilder:printcolumn:name="Weekly-Time",type=string,JSONPath=`.policy.weekly.time`
// +kubebuilder:printcolumn:name="Monthly-Date",type=integer,JSONPath=`.policy.monthly.date`
// +kubebuilder:printcolumn:name="Monthly-Time",type=string,JSONPath=`.policy.monthly.time`
// +kubebuilder:printcolumn:name="TimeZone",type=string,JSONPath=`.policy.timeZone`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Next-Trigger",type=string,format=date-time,JSONPath=`.status.nextTriggerTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SchedulePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Policy holds the trigger sections. It sits at the top level (no spec), as Stork's does, so that
	// policies written for Stork apply with only the apiVersion changed.
	Policy SchedulePolicyItem `json:"policy"`

	// Status is written by the controller.
	// +optional
	Status SchedulePolicyStatus `json:"status,omitempty"`
}

// SchedulePolicyItem is the set of trigger sections of a policy. Each is optional; at least one must
// be present.
//
// +kubebuilder:validation:XValidation:rule="has(self.interval) || has(self.daily) || has(self.weekly) || has(self.monthly)",message="policy must have at least one of interval, daily, weekly, monthly"
type SchedulePolicyItem struct {
	// Interval triggers every intervalMinutes.
	// +optional
	Interval *IntervalPolicy `json:"interval,omitempty"`
	// Daily triggers once a day at a wall-clock time.
	// +optional
	Daily *DailyPolicy `json:"daily,omitempty"`
	// Weekly triggers once a week on a weekday at a wall-clock time.
	// +optional
	Weekly *WeeklyPolicy `json:"weekly,omitempty"`
	// Monthly triggers once a month on a date at a wall-clock time. A date the month lacks rolls over
	// into the next month by the number of missing days.
	// +optional
	Monthly *MonthlyPolicy `json:"monthly,omitempty"`

	// TimeZone is the IANA time zone in which daily, weekly and monthly times are read, such as
	// "Europe/Berlin". Defaults to UTC. The time zone database is built into volsync, so the name
	// does not depend on the nodes' files. "Local" is refused: it would mean the zone of whichever
	// host reads the policy.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == 'UTC' || (self != 'Local' && self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$') && timestamp('2000-01-01T00:00:00Z').getFullYear(self) >= 1999)",message="timeZone must be an IANA time zone name such as Europe/Berlin or UTC"
	TimeZone string `json:"timeZone,omitempty"`

	// StartingDeadlineMinutes is how late a missed trigger may still fire. A trigger missed by more
	// (the controller was down, or the previous run went on) is counted as missed and skipped. When
	// unset, a missed trigger is always caught up, once.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=527040
	StartingDeadlineMinutes *int32 `json:"startingDeadlineMinutes,omitempty"`
}

// IntervalPolicy triggers every IntervalMinutes. The first trigger fires at once.
type IntervalPolicy struct {
	// IntervalMinutes is the period between triggers, in minutes, at most 366 days.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=527040
	IntervalMinutes int32 `json:"intervalMinutes"`
	// Retain is how many dated children of this type are kept. Unset or 0 means the default, 10,
	// as in Stork (whose exports write retain: 0 for "not set").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retain *int32 `json:"retain,omitempty"`
	// Options are accepted and kept as written, so that policies written for Stork (which passes
	// them to the storage driver of what the trigger runs) apply unchanged. Here they are
	// informational: they change nothing about what the trigger runs.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// DailyPolicy triggers every day at Time.
type DailyPolicy struct {
	// Time is the wall-clock time in 3:04PM form, any case (10:14PM, 10:14pm).
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^(1[0-2]|0?[1-9]):[0-5][0-9][AaPp][Mm]$')",message="time must be in 3:04PM form, such as 10:14PM or 1:02am"
	Time string `json:"time"`
	// ForceFullSnapshotDay is, in Stork, the weekday on which a daily backup takes a full snapshot
	// instead of an incremental one; storkctl writes it into every daily policy. It is accepted and
	// kept so that such policies apply unchanged, and is informational here: a migration always
	// copies the whole of what it selects. A weekday, long or short, any case, or empty.
	// +optional
	// +kubebuilder:validation:MaxLength=9
	// +kubebuilder:validation:XValidation:rule="self == '' || self.lowerAscii() in ['sunday','sun','monday','mon','tuesday','tue','tues','wednesday','wed','thursday','thu','thur','thurs','friday','fri','saturday','sat']",message="forceFullSnapshotDay must be a weekday, long or short, such as Monday or Mon"
	ForceFullSnapshotDay string `json:"forceFullSnapshotDay,omitempty"`
	// Retain is how many dated children of this type are kept. Unset or 0 means the default, 30,
	// as in Stork (whose exports write retain: 0 for "not set").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retain *int32 `json:"retain,omitempty"`
	// Options are accepted and kept as written, so that policies written for Stork (which passes
	// them to the storage driver of what the trigger runs) apply unchanged. Here they are
	// informational: they change nothing about what the trigger runs.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// WeeklyPolicy triggers every week on Day at Time.
type WeeklyPolicy struct {
	// Day is the weekday, long or short, any case: Sunday, Sun, thursday, Thu.
	// +kubebuilder:validation:MaxLength=9
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() in ['sunday','sun','monday','mon','tuesday','tue','tues','wednesday','wed','thursday','thu','thur','thurs','friday','fri','saturday','sat']",message="day must be a weekday, long or short, such as Sunday or Sun"
	Day string `json:"day"`
	// Time is the wall-clock time in 3:04PM form, any case.
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^(1[0-2]|0?[1-9]):[0-5][0-9][AaPp][Mm]$')",message="time must be in 3:04PM form, such as 10:14PM or 1:02am"
	Time string `json:"time"`
	// Retain is how many dated children of this type are kept. Unset or 0 means the default, 7,
	// as in Stork (whose exports write retain: 0 for "not set").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retain *int32 `json:"retain,omitempty"`
	// Options are accepted and kept as written, so that policies written for Stork (which passes
	// them to the storage driver of what the trigger runs) apply unchanged. Here they are
	// informational: they change nothing about what the trigger runs.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// MonthlyPolicy triggers every month on Date at Time.
type MonthlyPolicy struct {
	// Date is the day of the month, 1 to 31. In a month without that date the trigger rolls over
	// into the next month by the number of missing days (31 in April fires on May 1).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=31
	Date int32 `json:"date"`
	// Time is the wall-clock time in 3:04PM form, any case.
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^(1[0-2]|0?[1-9]):[0-5][0-9][AaPp][Mm]$')",message="time must be in 3:04PM form, such as 10:14PM or 1:02am"
	Time string `json:"time"`
	// Retain is how many dated children of this type are kept. Unset or 0 means the default, 12,
	// as in Stork (whose exports write retain: 0 for "not set").
	// +optional
	// +kubebuilder:validation:Minimum=0
	Retain *int32 `json:"retain,omitempty"`
	// Options are accepted and kept as written, so that policies written for Stork (which passes
	// them to the storage driver of what the trigger runs) apply unchanged. Here they are
	// informational: they change nothing about what the trigger runs.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// SchedulePolicyStatus is what the controller last saw of a policy.
type SchedulePolicyStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// PolicyChangedTime is when the controller first saw the policy as it is now (the generation
	// in observedGeneration). An owner counts a trigger as missed only if it was scheduled after
	// this time: the backlog an edit to a shorter interval seems to create was never called for
	// by the policy as it stood then.
	// +optional
	PolicyChangedTime *metav1.Time `json:"policyChangedTime,omitempty"`
	// Conditions: Valid says whether the policy can be used, with a message naming the bad field.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// NextTriggers is the next trigger time of each type for an owner that has never triggered
	// (interval: now), in the policy's time zone.
	// +optional
	NextTriggers []PolicyTrigger `json:"nextTriggers,omitempty"`
	// NextTriggerTime is the earliest of NextTriggers.
	// +optional
	NextTriggerTime *metav1.Time `json:"nextTriggerTime,omitempty"`
}

// PolicyTrigger is one trigger instant of one policy type.
type PolicyTrigger struct {
	// Type is the policy section.
	Type SchedulePolicyType `json:"type"`
	// Time is when it fires.
	Time metav1.Time `json:"time"`
}

// +kubebuilder:object:root=true

// SchedulePolicyList is a list of SchedulePolicies.
type SchedulePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SchedulePolicy `json:"items"`
}

// NamespacedSchedulePolicy is a SchedulePolicy that lives in a namespace, as in Stork: the same
// policy section and status. An owner (a MigrationSchedule, or a ReplicationSource or
// ReplicationDestination through spec.trigger.schedulePolicyName) looks the name up in its own
// namespace first and falls back to the cluster-scoped SchedulePolicy of that name, so a
// namespace's own policy overrides the admin's without touching it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=nsp;nsschedpol
// +kubebuilder:printcolumn:name="Interval-Minutes",type=integer,JSONPath=`.policy.interval.intervalMinutes`
// +kubebuilder:printcolumn:name="Daily",type=string,JSONPath=`.policy.daily.time`
// +kubebuilder:printcolumn:name="Weekly-Day",type=string,JSONPath=`.policy.weekly.day`
// +kubebuilder:printcolumn:name="Weekly-Time",type=string,JSONPath=`.policy.weekly.time`
// +kubebuilder:printcolumn:name="Monthly-Date",type=integer,JSONPath=`.policy.monthly.date`
// +kubebuilder:printcolumn:name="Monthly-Time",type=string,JSONPath=`.policy.monthly.time`
// +kubebuilder:printcolumn:name="TimeZone",type=string,JSONPath=`.policy.timeZone`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Next-Trigger",type=string,format=date-time,JSONPath=`.status.nextTriggerTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NamespacedSchedulePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Policy holds the trigger sections, as in SchedulePolicy.
	Policy SchedulePolicyItem `json:"policy"`

	// Status is written by the controller.
	// +optional
	Status SchedulePolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// NamespacedSchedulePolicyList is a list of NamespacedSchedulePolicies.
type NamespacedSchedulePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NamespacedSchedulePolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SchedulePolicy{}, &SchedulePolicyList{})
	SchemeBuilder.Register(&NamespacedSchedulePolicy{}, &NamespacedSchedulePolicyList{})
}
