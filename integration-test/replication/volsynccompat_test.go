package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
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
