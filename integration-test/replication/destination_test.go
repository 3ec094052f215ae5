package replication

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/volume"
	"github.com/volsync/volsync/pkg/replication"
	"github.com/volsync/volsync/pkg/schedule"
)

func tlsDestination(ns, name string, method volsyncv1alpha1.CopyMethodType) *volsyncv1alpha1.ReplicationDestination {
	return &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
					CopyMethod: method,
					Capacity:   ptr.To(resource.MustParse("1Gi")),
				},
				ServiceAnnotations: map[string]string{"example.com/lb": "internal"},
			},
		},
	}
}

// pendingSnapshot waits for the snapshot the running sync of rd takes, named after the sync's
// start (volume.SnapshotName), other than not.
func pendingSnapshot(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination, not string) string {
	t.Helper()
	var name string
	eventually(t, wait, func() error {
		var cur volsyncv1alpha1.ReplicationDestination
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(rd), &cur); err != nil {
			return err
		}
		a := cur.Status.ActiveSync
		if a == nil {
			return fmt.Errorf("no sync is running")
		}
		name = volume.SnapshotName(rd.Name, a.StartTime.Time)
		if name == not || (cur.Status.LatestImage != nil && cur.Status.LatestImage.Name == name) {
			// A sync that starts in the second the one before did gets the name with "-1".
			name += "-1"
		}
		if name == not {
			return fmt.Errorf("the sync that took %s is still running", not)
		}
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: rd.Namespace, Name: name}, &snapv1.VolumeSnapshot{})
	})
	return name
}

func TestADestinationListensPublishesItsAddressAndKeyAndHandsOverLatestImage(t *testing.T) {
	ns := namespace(t, false)
	rd := tlsDestination(ns, "dst", volsyncv1alpha1.CopyMethodSnapshot)
	create(t, rd)
	jobName := mover.ObjectName("rsync-tls-dst", rd.Name)

	job := waitJob(t, ns, jobName, "")
	pvcName := volume.PVCName(rd.Name, "dst")
	if dataClaim(job) != pvcName {
		t.Fatalf("job writes into %q, want the provisioned %q", dataClaim(job), pvcName)
	}
	if p := job.Spec.Template.Spec.Containers[0].Ports; len(p) != 1 || p[0].ContainerPort != 8000 {
		t.Errorf("container ports %+v", p)
	}
	if v := envValue(job, "RECEIVE_IN_PLACE"); v != "true" {
		t.Errorf("RECEIVE_IN_PLACE=%q: a destination that keeps Snapshots receives in place", v)
	}
	svc := get(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: rsynctls.ServiceName(rd.Name), Namespace: ns}})
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Annotations["example.com/lb"] != "internal" || svc.Spec.Ports[0].Port != 8000 {
		t.Errorf("service %+v", svc.Spec)
	}
	if job.Spec.Template.Labels[svc.Spec.Selector["volsync.backube/service"]] == "" && job.Spec.Template.Labels["volsync.backube/service"] != svc.Name {
		t.Errorf("the Service does not select the mover pod: selector %v, pod labels %v", svc.Spec.Selector, job.Spec.Template.Labels)
	}
	eventually(t, wait, func() error {
		get(t, rd)
		st := rd.Status.RsyncTLS
		if st == nil || ptr.Deref(st.Address, "") != svc.Spec.ClusterIP || ptr.Deref(st.Port, 0) != 8000 || st.KeySecret == nil {
			return fmt.Errorf("status.rsyncTLS %+v", st)
		}
		return nil
	})
	secret := get(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: *rd.Status.RsyncTLS.KeySecret, Namespace: ns}})
	if !regexp.MustCompile(`^volsync:[0-9a-f]{64}$`).Match(secret.Data["psk.txt"]) {
		t.Errorf("psk.txt %q is not volsync:<64 hex digits>", secret.Data["psk.txt"])
	}

	// First sync: the image is published once its snapshot is ready.
	finishJob(t, job, 0, summary("Successful", 100, 2, ""), "")
	first := pendingSnapshot(t, rd, "")
	get(t, rd)
	if rd.Status.LatestImage != nil {
		t.Fatalf("latestImage %+v before its snapshot is ready", rd.Status.LatestImage)
	}
	readySnapshot(t, ns, first)
	eventually(t, wait, func() error {
		get(t, rd)
		if rd.Status.LatestImage == nil || rd.Status.LatestImage.Name != first || rd.Status.LatestImage.Kind != "VolumeSnapshot" {
			return fmt.Errorf("latestImage %+v, want %s", rd.Status.LatestImage, first)
		}
		return nil
	})

	// Second sync: the previous image stays until the new one is ready, then goes.
	job2 := waitJob(t, ns, jobName, string(job.UID))
	finishJob(t, job2, 0, summary("Successful", 100, 2, ""), "")
	second := pendingSnapshot(t, rd, first)
	get(t, rd)
	if rd.Status.LatestImage.Name != first {
		t.Fatalf("latestImage %s moved before the new snapshot was ready", rd.Status.LatestImage.Name)
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: first}, &snapv1.VolumeSnapshot{}); err != nil {
		t.Fatalf("the previous image went before the new one was ready: %v", err)
	}
	readySnapshot(t, ns, second)
	eventually(t, wait, func() error {
		get(t, rd)
		if rd.Status.LatestImage.Name != second {
			return fmt.Errorf("latestImage %s, want %s", rd.Status.LatestImage.Name, second)
		}
		return nil
	})
	waitGone(t, &snapv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: first, Namespace: ns}})

	// A snapshot labelled do-not-delete outlives its replacement.
	var keep snapv1.VolumeSnapshot
	keep.Name, keep.Namespace = second, ns
	get(t, &keep)
	keep.Labels[volsyncv1alpha1.DoNotDeleteLabel] = ""
	if err := k8s.Update(context.Background(), &keep); err != nil {
		t.Fatal(err)
	}
	job3 := waitJob(t, ns, jobName, string(job2.UID))
	finishJob(t, job3, 0, summary("Successful", 1, 1, ""), "")
	third := pendingSnapshot(t, rd, second)
	readySnapshot(t, ns, third)
	eventually(t, wait, func() error {
		get(t, rd)
		if rd.Status.LatestImage.Name != third {
			return fmt.Errorf("latestImage %s, want %s", rd.Status.LatestImage.Name, third)
		}
		return nil
	})
	get(t, &keep)
	if keep.DeletionTimestamp != nil {
		t.Fatal("a snapshot labelled do-not-delete was deleted")
	}
	// It is the user's now: no owner reference, so garbage collection does not take it with the
	// ReplicationDestination either (VolSync's behaviour).
	eventually(t, wait, func() error {
		get(t, &keep)
		if len(keep.OwnerReferences) != 0 {
			return fmt.Errorf("owner references %+v remain", keep.OwnerReferences)
		}
		return nil
	})
	waitEvent(t, ns, rd.Name, replication.ReasonSnapshotKept)
}

func TestADirectDestinationPublishesItsPVC(t *testing.T) {
	ns := namespace(t, false)
	existing := sourcePVC(t, ns, "landing", nil)
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "restore", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "go"},
			Restic: &volsyncv1alpha1.ReplicationDestinationResticSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{DestinationPVC: ptr.To(existing.Name)},
				Repository:                          "restic-repo",
				Previous:                            ptr.To[int32](2),
				EnableFileDeletion:                  true,
			},
		},
	}
	create(t, rd)
	job := waitJob(t, ns, mover.ObjectName("restic-dst", rd.Name), "")
	if dataClaim(job) != existing.Name {
		t.Errorf("job writes into %q, want destinationPVC", dataClaim(job))
	}
	for name, want := range map[string]string{"SELECT_PREVIOUS": "2", "ENABLE_FILE_DELETION": "1"} {
		if got, _ := envOf(job, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := envOf(job, "RESTORE_AS_OF"); ok {
		t.Error("RESTORE_AS_OF set without restoreAsOf")
	}
	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	eventually(t, wait, func() error {
		get(t, rd)
		if img := rd.Status.LatestImage; img == nil || img.Kind != "PersistentVolumeClaim" || img.Name != existing.Name {
			return fmt.Errorf("latestImage %+v, want the PVC", img)
		}
		if rd.Status.LastManualSync != "go" {
			return fmt.Errorf("lastManualSync %q", rd.Status.LastManualSync)
		}
		return nil
	})
}

func TestADestinationOnAPolicyRecordsItsSyncsAsChildrenToo(t *testing.T) {
	ns := namespace(t, false)
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "repl-dst-hourly"},
		Policy:     volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 60}},
	}
	create(t, policy)
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy.Name},
			Rclone: &volsyncv1alpha1.ReplicationDestinationRcloneSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{Capacity: ptr.To(resource.MustParse("1Gi"))},
				RcloneConfig:                        ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("s3"), RcloneDestPath: ptr.To("bucket/app"),
			},
		},
	}
	create(t, rd)
	created(t, rd)
	job := waitJob(t, ns, mover.ObjectName("rclone-dst", rd.Name), "")
	get(t, rd)
	name := schedule.ChildName(rd.Name, schedule.TypeInterval, rd.CreationTimestamp.Time)
	child := &volsyncv1alpha1.ReplicationSync{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	get(t, child)
	if child.Spec.Replication.Kind != "ReplicationDestination" || child.Spec.Replication.Name != rd.Name {
		t.Errorf("child spec %+v", child.Spec)
	}
	finishJob(t, job, 0, summary("Successful", 1, 1, ""), "")
	eventually(t, wait, func() error {
		get(t, child)
		get(t, rd)
		if child.Status.Status != volsyncv1alpha1.RunStatusSuccessful {
			return fmt.Errorf("child status %q", child.Status.Status)
		}
		if img := rd.Status.LatestImage; img == nil || img.Name != volume.PVCName(rd.Name, "dest") {
			return fmt.Errorf("latestImage %+v, want the provisioned PVC", img)
		}
		return nil
	})
}
