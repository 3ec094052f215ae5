package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// readySnapshot plays the snapshot controller: the snapshot is bound and ready to use.
func readySnapshot(t *testing.T, ns, name string) {
	t.Helper()
	var snap snapv1.VolumeSnapshot
	eventually(t, wait, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &snap)
	})
	snap.Status = &snapv1.VolumeSnapshotStatus{
		ReadyToUse:                     ptr.To(true),
		BoundVolumeSnapshotContentName: ptr.To("content-" + name),
		RestoreSize:                    ptr.To(resource.MustParse("1Gi")),
	}
	if err := k8s.Status().Update(context.Background(), &snap); err != nil {
		t.Fatal(err)
	}
}

// waitGone waits for obj to be deleted: gone, or held only by a finalizer no controller here
// removes (the API server puts pvc-protection on every PVC).
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, wait, func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) || (err == nil && obj.GetDeletionTimestamp() != nil) {
			return nil
		}
		return fmt.Errorf("%T %s still exists (%v)", obj, obj.GetName(), err)
	})
}

func TestASnapshotSourceMovesAPVCRestoredFromASnapshotAndCleansBothUp(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := resticSource(ns, "snap", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	rs.Spec.Restic.CopyMethod = volsyncv1alpha1.CopyMethodSnapshot
	rs.Spec.Restic.VolumeSnapshotClassName = ptr.To("csi-snapclass")
	rs.Spec.Restic.StorageClassName = ptr.To("fast")
	create(t, rs)

	copyName := volume.CopyName(rs.Name)
	snap := &snapv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: copyName, Namespace: ns}}
	eventually(t, wait, func() error { return k8s.Get(context.Background(), client.ObjectKeyFromObject(snap), snap) })
	if *snap.Spec.Source.PersistentVolumeClaimName != "data" || *snap.Spec.VolumeSnapshotClassName != "csi-snapclass" {
		t.Errorf("snapshot spec %+v", snap.Spec)
	}
	if snap.Labels[volsyncv1alpha1.CleanupLabel] != string(get(t, rs).UID) {
		t.Errorf("snapshot labels %v lack the cleanup label", snap.Labels)
	}
	noJob(t, ns, resticSourceJob(rs.Name))

	// Not ready past SnapshotBindTimeout: a warning, and the sync keeps waiting.
	fakeClock.Step(mover.SnapshotBindTimeout + 10*time.Second)
	poke(t, rs)
	eventually(t, wait, func() error {
		get(t, rs)
		if c := synchronizing(&rs.Status.ReplicationStatus); c == nil || !strings.Contains(c.Message, "not ready") {
			return fmt.Errorf("condition %+v does not carry the warning (events %v)", c, eventReasons(t, ns, rs.Name))
		}
		return nil
	})
	waitEvent(t, ns, rs.Name, volume.ReasonSnapshotNotReady)

	readySnapshot(t, ns, copyName)
	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	if dataClaim(job) != copyName {
		t.Fatalf("job mounts %q, want the PVC restored from the snapshot", dataClaim(job))
	}
	pvc := get(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: copyName, Namespace: ns}})
	if ds := pvc.Spec.DataSource; ds == nil || ds.Kind != "VolumeSnapshot" || ds.Name != copyName || *ds.APIGroup != snapv1.GroupName {
		t.Errorf("PVC dataSource %+v", pvc.Spec.DataSource)
	}
	if ptr.Deref(pvc.Spec.StorageClassName, "") != "fast" {
		t.Errorf("storageClassName %v, want the option", pvc.Spec.StorageClassName)
	}

	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	waitGone(t, snap)
	waitGone(t, pvc)
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "data"}, &corev1.PersistentVolumeClaim{}); err != nil {
		t.Fatalf("the source PVC itself: %v", err)
	}
}

func TestACloneSourceMovesACSIClone(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "clone", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	rs.Spec.RsyncTLS.CopyMethod = volsyncv1alpha1.CopyMethodClone
	rs.Spec.RsyncTLS.Capacity = ptr.To(resource.MustParse("2Gi"))
	rs.Spec.RsyncTLS.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	create(t, rs)

	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	clone := get(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: dataClaim(job), Namespace: ns}})
	if ds := clone.Spec.DataSource; ds == nil || ds.Kind != "PersistentVolumeClaim" || ds.Name != "data" {
		t.Fatalf("clone dataSource %+v", clone.Spec.DataSource)
	}
	if clone.Spec.Resources.Requests.Storage().String() != "2Gi" || clone.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("clone spec %+v, want capacity and accessModes from the options", clone.Spec)
	}
	// Unbound past PVCBindTimeout: a warning, the sync goes on (the mover pod may be what binds it).
	fakeClock.Step(mover.PVCBindTimeout + 10*time.Second)
	poke(t, rs)
	waitEvent(t, ns, rs.Name, volume.ReasonPVCNotBound)
	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	waitGone(t, clone)
}

func TestCopyTriggersHoldTheCopyUntilTheUserSaysGo(t *testing.T) {
	ns := namespace(t, false)
	src := sourcePVC(t, ns, "data", map[string]string{volsyncv1alpha1.UseCopyTriggerAnnotation: ""})
	rs := resticSource(ns, "copytrig", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	rs.Spec.Restic.CopyMethod = volsyncv1alpha1.CopyMethodSnapshot
	create(t, rs)

	annotations := func() map[string]string { return get(t, src).Annotations }
	eventually(t, wait, func() error {
		if a := annotations(); a[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusWaitingForTrigger || a[volsyncv1alpha1.LatestCopyTriggerWaitingSinceAnnotation] == "" {
			return fmt.Errorf("annotations %v", a)
		}
		return nil
	})
	snap := &snapv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: volume.CopyName(rs.Name), Namespace: ns}}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(snap), snap); !apierrors.IsNotFound(err) {
		t.Fatalf("a snapshot was taken before the copy trigger: %v", err)
	}

	// Ten minutes without a trigger: a message in latestMoverStatus and a Warning Event; still waiting.
	fakeClock.Step(volume.CopyTriggerTimeout + time.Minute)
	poke(t, rs)
	waitEvent(t, ns, rs.Name, volume.ReasonCopyTriggerTimeout)
	eventually(t, wait, func() error {
		get(t, rs)
		if m := rs.Status.LatestMoverStatus; m == nil || !strings.Contains(m.Logs, volsyncv1alpha1.CopyTriggerAnnotation) {
			return fmt.Errorf("latestMoverStatus %+v", m)
		}
		return nil
	})
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)

	get(t, src)
	src.Annotations[volsyncv1alpha1.CopyTriggerAnnotation] = "trigger-1"
	if err := k8s.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if a := annotations(); a[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusInProgress {
			return fmt.Errorf("annotations %v, want InProgress while the snapshot is taken", a)
		}
		return k8s.Get(context.Background(), client.ObjectKeyFromObject(snap), snap)
	})
	readySnapshot(t, ns, snap.Name)
	eventually(t, wait, func() error {
		a := annotations()
		if a[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusCompleted || a[volsyncv1alpha1.LatestCopyTriggerAnnotation] != "trigger-1" {
			return fmt.Errorf("annotations %v, want Completed with latest-copy-trigger trigger-1", a)
		}
		return nil
	})
	job := waitJob(t, ns, resticSourceJob(rs.Name), "")
	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)

	// The next sync waits for a new trigger value again.
	get(t, rs)
	rs.Spec.Trigger.Manual = "2"
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if a := annotations(); a[volsyncv1alpha1.LatestCopyStatusAnnotation] != volsyncv1alpha1.CopyStatusWaitingForTrigger {
			return fmt.Errorf("annotations %v, want WaitingForTrigger for the second sync", a)
		}
		return nil
	})
	noJob(t, ns, resticSourceJob(rs.Name))
}

func TestASyncWaitsForAMissingSourcePVCAndSaysSo(t *testing.T) {
	ns := namespace(t, false)
	rs := tlsSource(ns, "early", "later", nil)
	create(t, rs)
	waitEvent(t, ns, rs.Name, volume.ReasonSourcePVCNotFound)
	eventually(t, wait, func() error {
		get(t, rs)
		if c := synchronizing(&rs.Status.ReplicationStatus); c == nil || !strings.Contains(c.Message, `source PVC "later" not found`) {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})
	noJob(t, ns, tlsSourceJob(rs.Name))
	sourcePVC(t, ns, "later", nil)
	waitJob(t, ns, tlsSourceJob(rs.Name), "")
}
