package v1alpha1

// Labels and annotations that more than one part of volsync reads or writes. They belong to the
// API: users select and script on them.
const (
	// MigrationScheduleLabel names, on a Migration, the MigrationSchedule that created it (cut short
	// and hashed when the name is not a valid label value; the owner reference is the exact link).
	MigrationScheduleLabel = "volsync.backube/migration-schedule"
	// PolicyTypeLabel is the policy type, in lower case, a dated child was created for.
	PolicyTypeLabel = "volsync.backube/policy-type"
	// MigrationSuspendAnnotation keeps, on a CronJob migrated with startApplications=false, whether
	// it was suspended on the source ("true" or "false"), as MigrationReplicasAnnotation keeps the
	// replicas of Deployments and StatefulSets.
	MigrationSuspendAnnotation = "volsync.backube/migration-suspend"
	// CreatedAtAnnotation is, on a dated child (a ReplicationSync, or a Migration a schedule made),
	// the instant volsyncd created it, in RFC 3339 with nanoseconds on volsyncd's clock. The
	// creationTimestamp has whole seconds only, too coarse to tell how late a trigger fired.
	CreatedAtAnnotation = "volsync.backube/created-at"
)
