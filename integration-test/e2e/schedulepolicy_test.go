package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// TestSchedulePolicyIntervalMakesDatedSyncs drives a ReplicationSource from a cluster
// SchedulePolicy that fires every minute. The first interval trigger fires at once, at the source's
// creation; the next one a minute later. Each creates a dated ReplicationSync child named
// <source>-interval-<scheduled time>, owned by the source, that runs to Successful; the data of
// each sync is checked by checksum in the destination's image, and the source's status keeps the
// history: the children per type, the last trigger handled and the next one.
func TestSchedulePolicyIntervalMakesDatedSyncs(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "policy")
	privilegedMovers(t, ns)
	newPVC(t, ns, "source", nil)
	want := writeTree(t, ns, "source", "policy")

	rd := newRsyncTLSDestination(t, ns, "backup", volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("1Gi"),
		StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
	}, volsyncv1alpha1.MoverConfig{})

	// Cluster-scoped, so named after the test's namespace to stay apart from other runs.
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "every-minute-" + ns},
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1},
		},
	}
	create(t, policy)
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), policy); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting SchedulePolicy %s: %v", policy.Name, err)
		}
	})
	eventually(t, time.Minute, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(policy.Status.Conditions, volsyncv1alpha1.ConditionValid) {
			return fmt.Errorf("SchedulePolicy %s is not Valid yet: %+v", policy.Name, policy.Status.Conditions)
		}
		return nil
	})

	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "app"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy.Name},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodClone},
				Address:                        rd.Status.RsyncTLS.Address,
				KeySecret:                      rd.Status.RsyncTLS.KeySecret,
			},
		},
	}
	create(t, rs)
	// The interval grid starts at the source's creation: its first trigger is that instant.
	first := rs.CreationTimestamp.Time
	child := waitPolicySync(t, rs, schedule.TypeInterval, first)
	image := waitNewImage(t, rd, "")
	requireSameTree(t, "the image of "+child.Name, want, restoredTreeSum(t, ns, image, "first"))

	second := first.Add(time.Minute)
	child2 := waitPolicySync(t, rs, schedule.TypeInterval, second)
	image2 := waitNewImage(t, rd, image)
	requireSameTree(t, "the image of "+child2.Name, want, restoredTreeSum(t, ns, image2, "second"))

	// The history in status: both children, finished, in order; the last trigger handled and the
	// next one, a minute after it.
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
			return err
		}
		runs := rs.Status.ScheduledSyncs[volsyncv1alpha1.SchedulePolicyTypeInterval]
		var names []string
		for _, r := range runs {
			names = append(names, fmt.Sprintf("%s=%s", r.Name, r.Status))
			if r.Status == volsyncv1alpha1.RunStatusSuccessful && r.FinishTimestamp == nil {
				return fmt.Errorf("run %s is Successful without a finishTimestamp", r.Name)
			}
		}
		wantRuns := []string{child.Name + "=Successful", child2.Name + "=Successful"}
		if strings.Join(names, " ") != strings.Join(wantRuns, " ") {
			return fmt.Errorf("status.scheduledSyncs.Interval is %v, want %v", names, wantRuns)
		}
		last, ok := rs.Status.LastTriggers[volsyncv1alpha1.SchedulePolicyTypeInterval]
		if !ok || !last.Time.Equal(second) {
			return fmt.Errorf("status.lastTriggers.Interval is %v, want %s", last, second.UTC().Format(time.RFC3339))
		}
		next := second.Add(time.Minute)
		if len(rs.Status.NextTriggers) != 1 || rs.Status.NextTriggers[0].Type != volsyncv1alpha1.SchedulePolicyTypeInterval ||
			!rs.Status.NextTriggers[0].Time.Time.Equal(next) {
			return fmt.Errorf("status.nextTriggers is %+v, want one Interval at %s", rs.Status.NextTriggers, next.UTC().Format(time.RFC3339))
		}
		if rs.Status.NextSyncTime == nil || !rs.Status.NextSyncTime.Time.Equal(next) {
			return fmt.Errorf("status.nextSyncTime is %v, want %s", rs.Status.NextSyncTime, next.UTC().Format(time.RFC3339))
		}
		return nil
	})
}

// waitPolicySync waits for the dated ReplicationSync child of rs for the trigger of type typ
// scheduled at scheduled: named from that time, owned by rs, describing the trigger, and
// finished Successful. It returns the child.
func waitPolicySync(t *testing.T, rs *volsyncv1alpha1.ReplicationSource, typ schedule.Type, scheduled time.Time) *volsyncv1alpha1.ReplicationSync {
	t.Helper()
	ctx := context.Background()
	name := schedule.ChildName(rs.Name, typ, scheduled)
	child := &volsyncv1alpha1.ReplicationSync{}
	// The trigger comes at scheduled, then the sync runs.
	timeout := time.Until(scheduled) + syncTimeout
	eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: name}, child); err != nil {
			var list volsyncv1alpha1.ReplicationSyncList
			_ = k8s.List(ctx, &list, client.InNamespace(rs.Namespace))
			var have []string
			for _, c := range list.Items {
				have = append(have, c.Name)
			}
			return fmt.Errorf("ReplicationSync %s: %w (have %v)", name, err, have)
		}
		if child.Status.Status != volsyncv1alpha1.RunStatusSuccessful {
			return fmt.Errorf("ReplicationSync %s is %q, want Successful (conditions %+v)", name, child.Status.Status, child.Status.Conditions)
		}
		return nil
	})
	if got := child.Spec.Replication; got.Kind != "ReplicationSource" || got.Name != rs.Name {
		t.Errorf("ReplicationSync %s is for %s %s, want ReplicationSource %s", name, got.Kind, got.Name, rs.Name)
	}
	if child.Spec.PolicyType != typ || !child.Spec.ScheduledTime.Time.Equal(scheduled) {
		t.Errorf("ReplicationSync %s is for the %s trigger at %s, want %s at %s", name, child.Spec.PolicyType,
			child.Spec.ScheduledTime.UTC().Format(time.RFC3339), typ, scheduled.UTC().Format(time.RFC3339))
	}
	if ref := metav1.GetControllerOf(child); ref == nil || ref.UID != rs.UID {
		t.Errorf("ReplicationSync %s is not controlled by ReplicationSource %s: %+v", name, rs.Name, child.OwnerReferences)
	}
	if child.Status.StartTime == nil || child.Status.FinishTime == nil || child.Status.FinishTime.Before(child.Status.StartTime) {
		t.Errorf("ReplicationSync %s has start %v and finish %v", name, child.Status.StartTime, child.Status.FinishTime)
	}
	if c := meta.FindStatusCondition(child.Status.Conditions, volsyncv1alpha1.ConditionCompleted); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ReplicationSync %s has no Completed=True condition: %+v", name, child.Status.Conditions)
	}
	return child
}
