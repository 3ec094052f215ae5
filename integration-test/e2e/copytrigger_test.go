package e2e

import (
	"context"
	"fmt"
	"testing"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// TestCopyTriggerHandshake plays the application of seed 001's copy triggers. Its source PVC asks
// for the handshake (volsync.backube/use-copy-trigger); for each sync the test waits until VolSync
// shows WaitingForTrigger and has taken no copy yet, writes the data it wants replicated (as an
// application would after quiescing), then sets a new copy-trigger value. VolSync then snapshots
// the volume, reports Completed with the trigger it used, and replicates: the destination PVC
// (copyMethod Direct into a user's PVC) must hold exactly what was written before the trigger.
// Two rounds, the second proving that each sync waits for a new trigger value.
func TestCopyTriggerHandshake(t *testing.T) {
	ns := newNamespace(t, "copy-trigger")
	privilegedMovers(t, ns)
	src := newPVC(t, ns, "source", nil)
	annotatePVC(t, src, map[string]string{volsyncv1alpha1.UseCopyTriggerAnnotation: ""})
	newPVC(t, ns, "copy", nil)

	rd := newRsyncTLSDestination(t, ns, "backup", volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodDirect, DestinationPVC: ptr.To("copy"),
	}, volsyncv1alpha1.MoverConfig{})
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "app"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, VolumeSnapshotClassName: ptr.To(snapshotClass),
				},
				Address:   rd.Status.RsyncTLS.Address,
				KeySecret: rd.Status.RsyncTLS.KeySecret,
			},
		},
	}
	create(t, rs)

	for _, round := range []string{"first", "second"} {
		if round != "first" {
			setManual(t, rs, round)
		}
		waitCopyStatus(t, src, volsyncv1alpha1.CopyStatusWaitingForTrigger)
		want := writeTree(t, ns, "source", "copy-trigger-"+round)
		// Writing took a while: VolSync must still be waiting, with no copy taken.
		requireNoSourceCopy(t, rs)
		waitCopyStatus(t, src, volsyncv1alpha1.CopyStatusWaitingForTrigger)

		trigger := "quiesced-" + round
		previous := rd.Status.LastSyncTime
		annotatePVC(t, src, map[string]string{volsyncv1alpha1.CopyTriggerAnnotation: trigger})
		waitManualSync(t, rs, round)
		got := waitCopyStatus(t, src, volsyncv1alpha1.CopyStatusCompleted)
		if got.Annotations[volsyncv1alpha1.LatestCopyTriggerAnnotation] != trigger {
			t.Errorf("round %s: %s is %q, want %q", round, volsyncv1alpha1.LatestCopyTriggerAnnotation,
				got.Annotations[volsyncv1alpha1.LatestCopyTriggerAnnotation], trigger)
		}
		waitDestinationSync(t, rd, previous)
		if img := rd.Status.LatestImage; img == nil || img.Kind != "PersistentVolumeClaim" || img.Name != "copy" {
			t.Fatalf("round %s: latestImage is %+v, want the destination PVC copy", round, img)
		}
		requireSameTree(t, "the destination PVC after the "+round+" sync", want, treeSum(t, ns, "copy", "check-"+round))
	}
}

// annotatePVC sets annotations on a PVC, as a user with kubectl annotate.
func annotatePVC(t *testing.T, pvc *corev1.PersistentVolumeClaim, set map[string]string) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pvc.DeepCopy())
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	for k, v := range set {
		pvc.Annotations[k] = v
	}
	if err := k8s.Patch(ctx, pvc, patch); err != nil {
		t.Fatal(err)
	}
}

// waitCopyStatus waits until VolSync shows status in the PVC's latest-copy-status annotation and
// returns the PVC.
func waitCopyStatus(t *testing.T, pvc *corev1.PersistentVolumeClaim, status string) *corev1.PersistentVolumeClaim {
	t.Helper()
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pvc), pvc); err != nil {
			return err
		}
		if got := pvc.Annotations[volsyncv1alpha1.LatestCopyStatusAnnotation]; got != status {
			return fmt.Errorf("PVC %s: %s is %q, want %q", pvc.Name, volsyncv1alpha1.LatestCopyStatusAnnotation, got, status)
		}
		return nil
	})
	return pvc
}

// requireNoSourceCopy fails the test when the source has a snapshot or a mover Job: while VolSync
// waits for the copy trigger it must not have copied the volume, nor started moving data.
func requireNoSourceCopy(t *testing.T, rs *volsyncv1alpha1.ReplicationSource) {
	t.Helper()
	ctx := context.Background()
	var snaps snapv1.VolumeSnapshotList
	if err := k8s.List(ctx, &snaps, client.InNamespace(rs.Namespace), client.MatchingLabels{volsyncv1alpha1.CleanupLabel: string(rs.UID)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.Items {
		t.Errorf("VolumeSnapshot %s of the source exists before the copy trigger was given", s.Name)
	}
	var pvc corev1.PersistentVolumeClaim
	err := k8s.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: volume.CopyName(rs.Name)}, &pvc)
	if err == nil {
		t.Errorf("the source's copy PVC %s exists before the copy trigger was given", pvc.Name)
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	job := mover.ObjectName("rsync-tls-src", rs.Name)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: job}, &batchv1.Job{}); err == nil {
		t.Errorf("mover Job %s runs before the copy trigger was given", job)
	}
}

// waitDestinationSync waits until the destination records a sync after previous (its
// lastSyncTime then).
func waitDestinationSync(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination, previous *metav1.Time) {
	t.Helper()
	eventually(t, syncTimeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		if last := rd.Status.LastSyncTime; last == nil || (previous != nil && !last.After(previous.Time)) {
			return fmt.Errorf("destination %s: lastSyncTime %v, want one after %v", rd.Name, last, previous)
		}
		return nil
	})
}
