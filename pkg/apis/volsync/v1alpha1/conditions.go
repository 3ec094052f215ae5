package v1alpha1

// Condition types.
const (
	// ConditionValid says whether a SchedulePolicy can be used.
	ConditionValid = "Valid"
	// ConditionSynchronizing says where a ReplicationSource or ReplicationDestination stands.
	ConditionSynchronizing = "Synchronizing"
	// ConditionReady says whether a ClusterPair or MigrationSchedule can be used.
	ConditionReady = "Ready"
	// ConditionCompleted says whether a Migration or ReplicationSync has ended.
	ConditionCompleted = "Completed"
	// ConditionApplicationActivated says, on a MigrationSchedule, whether its destination is
	// activated, and what the schedule does about it (autoSuspend).
	ConditionApplicationActivated = "ApplicationActivated"
)

// Condition reasons. They are stable strings a person can search for.
const (
	ReasonPolicyValid        = "PolicyValid"
	ReasonPolicyInvalid      = "PolicyInvalid"
	ReasonPolicyNotFound     = "PolicyNotFound"
	ReasonSyncInProgress     = "SyncInProgress"
	ReasonWaitingForSchedule = "WaitingForSchedule"
	ReasonWaitingForManual   = "WaitingForManual"
	ReasonCleaningUp         = "CleaningUp"
	ReasonPaused             = "Paused"
	ReasonError              = "Error"
	ReasonConnected          = "Connected"
	ReasonUnreachable        = "Unreachable"
	ReasonSecretNotFound     = "SecretNotFound"
	ReasonInvalidKubeconfig  = "InvalidKubeconfig"
	ReasonForbidden          = "Forbidden"
	ReasonSuspended          = "Suspended"
	ReasonScheduled          = "Scheduled"
	// ReasonApplicationActivated: the destination namespace of a Migration is activated; the
	// Migration fails before it writes anything.
	ReasonApplicationActivated = "ApplicationActivated"
	// ReasonAutoSuspended: a MigrationSchedule with autoSuspend suspended itself because its
	// destination is activated.
	ReasonAutoSuspended = "AutoSuspended"
	// ReasonNotActivated: the destination of a MigrationSchedule is a static copy, not activated.
	ReasonNotActivated = "NotActivated"
)

// The `volsyncctl perform` commands (failover, failback, drill) leave a record on the
// MigrationSchedule: an Event with these actions and reasons. They are searched for, so they never
// change.
const (
	ActionFailover = "Failover"
	ActionFailback = "Failback"
	ActionDrill    = "Drill"

	ReasonFailedOver     = "FailedOver"
	ReasonFailedBack     = "FailedBack"
	ReasonDrillSucceeded = "DrillSucceeded"
	ReasonDrillFailed    = "DrillFailed"
)
