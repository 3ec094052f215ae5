// Package scheme builds the runtime.Scheme that volsyncd and volsyncctl share: the built-in
// Kubernetes kinds, the volsync.backube kinds and the CSI VolumeSnapshot kinds, so that every
// client in the project decodes the same set of objects.
package scheme
