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
	// MigratedByKindAnnotation is, beside copier's volsync.backube/migrated-by ("<namespace>/<name>"),
	// the kind of what copied the object: MigrationSchedule or Migration. With
	// MigratedWithClusterPairAnnotation it marks every object a Migration writes on the destination
	// as a static copy of its source, and names what to suspend before the copy is used.
	MigratedByKindAnnotation = "volsync.backube/migrated-by-kind"
	// MigratedWithClusterPairAnnotation names, on every object a Migration writes on the
	// destination, the ClusterPair (in the migrated-by namespace of the source cluster) it was
	// written through.
	MigratedWithClusterPairAnnotation = "volsync.backube/migrated-with-clusterpair"
	// ApplicationActivatedAnnotation is, on a destination namespace, when its applications were
	// activated (RFC 3339): from then on the namespace is the live application, and a Migration
	// into it fails with reason ApplicationActivated before it writes anything. `volsyncctl
	// deactivate migration` removes it. It is never copied by a migration.
	ApplicationActivatedAnnotation = "volsync.backube/application-activated"
	// OriginalReclaimPolicyAnnotation keeps, on a PersistentVolume migrated with includeVolumes
	// false, the reclaim policy it had on the source; the copy's is Retain, so deleting the copy
	// never deletes the shared backing volume.
	OriginalReclaimPolicyAnnotation = "volsync.backube/original-reclaim-policy"
	// DrillAnnotation marks a namespace `volsyncctl perform drill` made on the destination, with
	// the drill's Migration; only such a namespace is deleted when the drill cleans up.
	DrillAnnotation = "volsync.backube/drill"
	// FailbackMigrationAnnotation names, on a MigrationSchedule, the reverse Migration
	// ("<namespace>/<name>" on the destination cluster) of a `volsyncctl perform failback` under
	// way, so that a rerun after an interruption waits for it instead of starting another.
	FailbackMigrationAnnotation = "volsync.backube/failback-migration"
	// FinalMigrationAnnotation names, on a MigrationSchedule, the last Migration a `volsyncctl
	// perform failover --final-migration` runs before it activates, for the same reason.
	FinalMigrationAnnotation = "volsync.backube/final-migration"
	// RecoveryPointAnnotation is, on a destination namespace, when the data of the newest
	// Migration that succeeded into it was taken (its start, RFC 3339), and
	// RecoveryPointMigrationAnnotation names that Migration ("<namespace>/<name>" on the source).
	// They let a failover that cannot reach the source still say how old the data it starts is.
	// Never copied by a migration.
	RecoveryPointAnnotation          = "volsync.backube/recovery-point"
	RecoveryPointMigrationAnnotation = "volsync.backube/recovery-point-migration"
)
