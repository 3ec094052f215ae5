// Package volume makes the point-in-time copies movers read from and the images destinations
// publish: on the source, the PVC itself (Direct), a CSI clone (Clone) or a VolumeSnapshot and a
// PVC restored from it (Snapshot), with the copy-trigger handshake of the PVC annotations; on the
// destination, the PVC data lands in and, with copyMethod Snapshot, a VolumeSnapshot after each sync
// that replaces the previous image only once it is ready.
//
// Every helper follows one rule: (obj, nil) is ready, (nil, nil) means "created, or waiting for
// something; a watched object will change", and an error is an error.
package volume
