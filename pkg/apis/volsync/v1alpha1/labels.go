package v1alpha1

// Labels and annotations that more than one part of volsync reads or writes. They belong to the
// API: users select and script on them.
const (
	// MigrationScheduleLabel names, on a Migration, the MigrationSchedule that created it (cut short
	// and hashed when the name is not a valid label value; the owner reference is the exact link).
	MigrationScheduleLabel = "volsync.backube/migration-schedule"
	// PolicyTypeLabel is the policy type, in lower case, a dated child was created for.
	PolicyTypeLabel = "volsync.backube/policy-type"
	// MigrationSuspendAnnotation keeps, on a CronJob or Job migrated with startApplications=false, whether
	// it was suspended on the source ("true" or "false"), as MigrationReplicasAnnotation keeps the
	// replicas of Deployments and StatefulSets.
	MigrationSuspendAnnotation = "volsync.backube/migration-suspend"
	// MigrationStoppedNodeLabel is the node selector key, with the value "true", that a DaemonSet
	// migrated with startApplications=false gets in its Pod template. No node carries it, so the
	// copy runs no Pod until activation takes the key out (deactivation puts it back).
	MigrationStoppedNodeLabel = "volsync.backube/migration-stopped"
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
	// SyncAnnotation is, on a mover Job, the sync it was made for: the trigger, the scheduled time
	// of a scheduled one, the attempt, and when the sync before it ended (job.SyncOf). A Job that
	// finished for another sync than the one running (left by a volsyncd that stopped before it
	// recorded the start, and found at a later trigger) is not taken as that sync's result.
	SyncAnnotation = "volsync.backube/sync"

	// CreatedByLabel, with the value CreatedByValue, is on every object volsync creates. volsyncd
	// caches Secrets, PVCs, Services, VolumeSnapshots, Jobs and pods only when they carry it.
	CreatedByLabel = "app.kubernetes.io/created-by"
	CreatedByValue = "volsync"
	// CleanupLabel marks a temporary object with the UID of the ReplicationSource or
	// ReplicationDestination that made it; cleanup deletes what carries its owner's UID.
	CleanupLabel = "volsync.backube/cleanup"
	// DoNotDeleteLabel on a VolumeSnapshot keeps volsync from deleting it, even once replaced.
	DoNotDeleteLabel = "volsync.backube/do-not-delete"
	// PrivilegedMoversAnnotation, "true" on a namespace, lets movers there run as root with the
	// capabilities rsync needs to keep ownership.
	PrivilegedMoversAnnotation = "volsync.backube/privileged-movers"
	// ImageOfLabel marks the VolumeSnapshots a destination published, with its UID.
	ImageOfLabel = "volsync.backube/image-of"

	// The copy-trigger handshake on a source PVC (seed 001). The user sets UseCopyTriggerAnnotation
	// and, when the volume is ready to copy, a new value of CopyTriggerAnnotation; volsync writes
	// the latest-copy ones.
	UseCopyTriggerAnnotation                = "volsync.backube/use-copy-trigger"
	CopyTriggerAnnotation                   = "volsync.backube/copy-trigger"
	LatestCopyStatusAnnotation              = "volsync.backube/latest-copy-status"
	LatestCopyTriggerAnnotation             = "volsync.backube/latest-copy-trigger"
	LatestCopyTriggerWaitingSinceAnnotation = "volsync.backube/latest-copy-trigger-waiting-since"
	// The values of LatestCopyStatusAnnotation.
	CopyStatusWaitingForTrigger = "WaitingForTrigger"
	CopyStatusInProgress        = "InProgress"
	CopyStatusCompleted         = "Completed"

	// MigratedFromLabel marks every object a Migration applied with the source cluster's identity.
	// purgeDeletedResources deletes only objects that carry it with this source's value, so it can
	// never touch what people or other sources put on the destination.
	MigratedFromLabel = "volsync.backube/migrated-from"
	// MigratedFromNamespaceLabel marks a copy that spec.namespaceMapping put in another namespace
	// with the namespace it was copied from. The purge of a renamed namespace requires it, and the
	// purge of a namespace that keeps its name requires its absence, so two migrations that write
	// into one destination namespace from different source namespaces never purge each other's
	// copies.
	MigratedFromNamespaceLabel = "volsync.backube/migrated-from-namespace"
	// MigratedByAnnotation names what copied the object: "<namespace>/<MigrationSchedule>" for a
	// scheduled run, "<namespace>/<Migration>" otherwise. It stays the same from one scheduled run to
	// the next, so an unchanged object is not rewritten by every run.
	MigratedByAnnotation = "volsync.backube/migrated-by"
	// MigrationAnnotation marks the replication objects and key Secrets a Migration made, with
	// the Migration's namespace/name.
	MigrationAnnotation = "volsync.backube/migration"
	// MigrationUIDAnnotation is, beside MigrationAnnotation, the UID of that Migration: a
	// ReplicationSource left by an earlier Migration of the same name is not this run's.
	// MigrationUIDLabel carries the same UID as a label on everything the volume path makes on
	// the source cluster, so the cleanup finds it by selector, even what a pass made just before a
	// crash and never recorded.
	MigrationUIDAnnotation = "volsync.backube/migration-uid"
	MigrationUIDLabel      = MigrationUIDAnnotation
	// ScheduledTimeAnnotation is the scheduled time, RFC 3339 in UTC, a Migration was created for.
	// It lets a restarted controller put a Migration it finds back into the history it belongs to.
	ScheduledTimeAnnotation = "volsync.backube/scheduled-time"
	// EnableDebugMoverAnnotation on a ReplicationSource or ReplicationDestination makes its next
	// mover Job wait instead of syncing, with its environment and volumes in place, for a person
	// to run the mover by hand with kubectl exec (VolSync's annotation).
	EnableDebugMoverAnnotation = "volsync.backube/enable-debug-mover"
	// RelationshipLabel marks what a volsyncctl relationship (`replication -r NAME`,
	// `migration -r NAME`) created with the relationship's id, VolSync's plugin label. Its verbs
	// update and delete only objects that carry their own relationship's id; PVCs never get it.
	RelationshipLabel = "volsync.backube/relationship"
	// SkipResourceAnnotation set to "true" on any object in a migrated namespace keeps a Migration
	// from copying it (Stork has the same annotation under its own group).
	SkipResourceAnnotation = "volsync.backube/skip-resource"
)
