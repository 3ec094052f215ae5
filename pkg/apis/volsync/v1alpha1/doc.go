// Package v1alpha1 holds the volsync.backube/v1alpha1 API: SchedulePolicy, ReplicationSource,
// ReplicationDestination, ReplicationSync, MigrationSchedule, Migration and ClusterPair.
//
// Admission rules live next to the fields as kubebuilder markers (OpenAPI and CEL), so the API
// server refuses a bad object before any controller sees it. The controllers and the CLI check the
// same rules again (pkg/schedule) with the same messages, for objects stored before a rule existed
// and for files validated without a cluster.
//
// +kubebuilder:object:generate=true
// +groupName=volsync.backube
package v1alpha1
