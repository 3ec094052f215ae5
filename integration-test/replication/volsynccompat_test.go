package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/restic"
)

// TestAManualTriggerBesideAScheduleWinsAsInVolSync: automation patches a manual trigger onto a
// scheduled source to run one last sync (before a failover, say). The manual value runs once, the
// schedule is not followed while manual is set, and it is followed again once manual is removed.
func TestAManualTriggerBesideAScheduleWinsAsInVolSync(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "final", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/10 * * * *"), Manual: "final-sync"})
	create(t, rs)

	job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	finishJob(t, job, 0, summary("Successful", 0, 0, ""), "")
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	get(t, rs)
	if rs.Status.LastManualSync != "final-sync" || rs.Status.NextSyncTime != nil {
		t.Fatalf("lastManualSync %q, nextSyncTime %v; want the manual sync recorded and no scheduled time while manual is set",
			rs.Status.LastManualSync, rs.Status.NextSyncTime)
	}
	// Past the schedule's next time, manual still wins: nothing starts.
	fakeClock.Step(15 * time.Minute)
	poke(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonWaitingForManual)
	noJob(t, ns, tlsSourceJob(rs.Name))

	rs.Spec.Trigger.Manual = ""
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		get(t, rs)
		if rs.Status.NextSyncTime == nil {
			return fmt.Errorf("no nextSyncTime once manual is removed; condition %+v", synchronizing(&rs.Status.ReplicationStatus))
		}
		return nil
	})
}

// TestMoversNameTheirPVCsAsVolSyncDoes: automation and docs written for VolSync look for
// volsync-<rd>-dst (rsync, rsync-tls), volsync-<rd>-dest (rclone, restic) and
// volsync-<role>-<owner>-cache (restic's cache), never cut at 63 characters.
func TestMoversNameTheirPVCsAsVolSyncDoes(t *testing.T) {
	ns := namespace(t, false)
	long := "a-destination-whose-name-is-longer-than-a-label-value-may-be-at-all"
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: long, Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "go"},
			Restic: &volsyncv1alpha1.ReplicationDestinationResticSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{Capacity: ptr.To(resource.MustParse("1Gi"))},
				Repository:                          "restic-repo",
			},
		},
	}
	create(t, rd)
	tls := tlsDestination(ns, "plain", volsyncv1alpha1.CopyMethodDirect)
	create(t, tls)
	for _, name := range []string{"volsync-" + long + "-dest", "volsync-dst-" + long + "-cache", "volsync-plain-dst"} {
		eventually(t, wait, func() error {
			return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.PersistentVolumeClaim{})
		})
	}
}

// TestAnEmptyResticRestoreCompletesWithAWarning: a restore that found nothing to restore (the
// mover says so in its summary's warning) completes as in VolSync: lastManualSync is set, the
// result is Successful, the log line is in latestMoverStatus.logs, and a Warning Event says why.
func TestAnEmptyResticRestoreCompletesWithAWarning(t *testing.T) {
	ns := namespace(t, false)
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "restore-1"},
			Restic: &volsyncv1alpha1.ReplicationDestinationResticSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
					Capacity: ptr.To(resource.MustParse("1Gi")), CopyMethod: volsyncv1alpha1.CopyMethodDirect},
				Repository: "restic-repo",
			},
		},
	}
	create(t, rd)
	job := waitJob(t, ns, mover.ObjectName("restic-dst", rd.Name), "")
	why := "no eligible snapshot: the restic repository has no snapshots; no data will be restored"
	finishJob(t, job, 0, `{"result":"Successful","message":"`+why+`","warning":"`+why+`"}`, "")
	eventually(t, wait, func() error {
		get(t, rd)
		st := rd.Status.LatestMoverStatus
		if rd.Status.LastManualSync != "restore-1" || st == nil || st.Result != volsyncv1alpha1.MoverResultSuccessful || !strings.Contains(st.Logs, "no data will be restored") {
			return fmt.Errorf("lastManualSync %q, latestMoverStatus %+v", rd.Status.LastManualSync, st)
		}
		return nil
	})
	waitWarning(t, ns, rd.Name, restic.ReasonNothingRestored)
}

// TestTheDebugMoverAnnotationKeepsTheMoverWaitingForKubectlExec: with VolSync's
// enable-debug-mover annotation, the mover Job runs `volsync-mover debug …`, which waits with the
// mover's environment in place, and the condition and a Warning Event say how to use it.
func TestTheDebugMoverAnnotationKeepsTheMoverWaitingForKubectlExec(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := tlsSource(ns, "debug", "data", &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "1"})
	rs.Annotations = map[string]string{volsyncv1alpha1.EnableDebugMoverAnnotation: "true"}
	create(t, rs)
	j := waitJob(t, ns, tlsSourceJob(rs.Name), "")
	if cmd := j.Spec.Template.Spec.Containers[0].Command; strings.Join(cmd, " ") != "volsync-mover debug rsync-tls source" {
		t.Fatalf("command %q, want the mover's command behind volsync-mover debug", cmd)
	}
	waitReason(t, rs, job.ReasonDebugMover)
	waitWarning(t, ns, rs.Name, job.ReasonDebugMover)
}
