// Package populator is volsync's volume populator: it fills a PersistentVolumeClaim whose
// spec.dataSourceRef names a ReplicationDestination (apiGroup volsync.backube, kind
// ReplicationDestination) with that destination's status.latestImage, VolSync's documented
// restore path.
//
// It follows the Kubernetes volume populator pattern. The API server accepts the claim (the
// AnyVolumeDataSource feature, on by default since Kubernetes 1.24) and no provisioner acts on
// it, so it stays Pending. The populator creates, in the same namespace, a "prime" claim named
// volsync-prime-<uid of the claim>: the same storage class, size, access modes and volume mode,
// restored by the CSI provisioner from the VolumeSnapshot the destination published. When the
// prime claim is bound, the populator hands its PersistentVolume to the user's claim by pointing
// the volume's claimRef at it; the PersistentVolume controller then binds the user's claim and
// marks the prime claim Lost, and the populator deletes the prime claim. A StorageClass with
// volumeBindingMode WaitForFirstConsumer is respected: nothing happens until the scheduler has
// put the volume.kubernetes.io/selected-node annotation on the user's claim, and the prime claim
// carries the same node.
//
// Every step is read back from the cluster on each reconcile, so a restart at any point goes on
// from where the objects are; the prime claim's name is derived from the user claim's UID and
// is owned (controller reference) by it, so a deleted user claim takes its prime claim along.
package populator
