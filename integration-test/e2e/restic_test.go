package e2e

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestResticBackupsRestoreLatestAndPrevious backs a volume up twice (a different tree each time)
// into a restic repository on an S3 server, then restores the latest backup and the one before
// it (spec.restic.previous: 1) with two destinations at once, and checks each restored tree by
// checksum from a pod that mounts a claim made from the destination's latestImage. The
// snapshot each restore names in its status must be the one the matching backup wrote.
func TestResticBackupsRestoreLatestAndPrevious(t *testing.T) {
	ns := newNamespace(t, "restic")
	// The tree has a file only root may read (mode 0640); an unprivileged backup would be
	// incomplete.
	privilegedMovers(t, ns)
	store := startObjectStore(t)
	store.MakeBucket(t, "restic")
	store.resticRepositorySecret(t, ns, "repository", "restic", ns)

	newPVC(t, ns, "source", nil)
	first := writeTree(t, ns, "source", "restic-first")
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: objectMeta(ns, "source"),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: "source",
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "first"},
			Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodClone,
				},
				Repository: "repository",
				// The default keeps only the last snapshot; the previous one is restored below.
				Retain: &volsyncv1alpha1.ResticRetainPolicy{Last: ptr.To(intstr.FromInt32(5))},
			},
		},
	}
	create(t, rs)
	waitManualSync(t, rs, "first")
	firstSnapshot := backupSnapshot(t, rs)

	second := writeTree(t, ns, "source", "restic-second")
	if second == first {
		t.Fatal("the second tree is the first one: the test would prove nothing")
	}
	setManual(t, rs, "second")
	waitManualSync(t, rs, "second")
	secondSnapshot := backupSnapshot(t, rs)
	if secondSnapshot == firstSnapshot {
		t.Fatalf("both backups report snapshot %s", firstSnapshot)
	}
	t.Logf("backups wrote snapshots %s and %s", firstSnapshot, secondSnapshot)
	// Prune runs every pruneIntervalDays (7 by default) counted from the source's creation, so
	// none is due yet: the status must not claim one.
	if rs.Status.Restic != nil && rs.Status.Restic.LastPruned != nil {
		t.Errorf("status.restic.lastPruned is %s, but no prune was due", rs.Status.Restic.LastPruned)
	}
	if rs.Status.LastSyncTime == nil || rs.Status.LastSyncDuration == nil {
		t.Errorf("the source reports no lastSyncTime or lastSyncDuration after two backups: %+v", rs.Status.ReplicationStatus)
	}

	restore := func(name string, previous *int32) *volsyncv1alpha1.ReplicationDestination {
		rd := &volsyncv1alpha1.ReplicationDestination{
			ObjectMeta: objectMeta(ns, name),
			Spec: volsyncv1alpha1.ReplicationDestinationSpec{
				Trigger: &volsyncv1alpha1.ReplicationTriggerSpec{Manual: "restore"},
				Restic: &volsyncv1alpha1.ReplicationDestinationResticSpec{
					ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
						CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptrQuantity("1Gi"),
						StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
					},
					Repository: "repository",
					Previous:   previous,
				},
			},
		}
		create(t, rd)
		return rd
	}
	// Both restores run at once: restic restores take shared locks.
	latest := restore("latest", nil)
	previous := restore("previous", ptr.To[int32](1))
	for _, c := range []struct {
		rd       *volsyncv1alpha1.ReplicationDestination
		tag      string
		want     string
		snapshot string
	}{
		{latest, "latest", second, secondSnapshot},
		{previous, "previous", first, firstSnapshot},
	} {
		waitManualRestore(t, c.rd, "restore")
		if st := c.rd.Status.LatestMoverStatus; !strings.Contains(st.Summary, "restored snapshot "+c.snapshot) ||
			!strings.Contains(st.Logs, "restoring snapshot "+c.snapshot) {
			t.Errorf("the %s restore reports summary %q, logs %q; want snapshot %s", c.tag, st.Summary, st.Logs, c.snapshot)
		}
		image := waitNewImage(t, c.rd, "")
		requireSameTree(t, "the "+c.tag+" restore", c.want, restoredTreeSum(t, ns, image, c.tag))
	}
}

// resticSnapshotID finds the snapshot a restic backup reports in its status.
var resticSnapshotID = regexp.MustCompile(`into snapshot ([0-9a-f]{8})`)

// backupSnapshot is the short ID of the snapshot the source's last backup wrote, as its
// latestMoverStatus reports it.
func backupSnapshot(t *testing.T, rs *volsyncv1alpha1.ReplicationSource) string {
	t.Helper()
	st := rs.Status.LatestMoverStatus
	if st == nil || st.Result != volsyncv1alpha1.MoverResultSuccessful {
		t.Fatalf("source %s: latestMoverStatus %+v after a finished backup, want Successful", rs.Name, st)
	}
	// The one-line account (summary) names it, and so does restic's own line in the logs.
	m := resticSnapshotID.FindStringSubmatch(st.Summary)
	if m == nil || !strings.Contains(st.Logs, "snapshot "+m[1]+" saved") {
		t.Fatalf("source %s: latestMoverStatus names no snapshot: summary %q, logs %q", rs.Name, st.Summary, st.Logs)
	}
	return m[1]
}

// waitManualRestore waits until a manually triggered destination has finished the sync named
// tag, successfully.
func waitManualRestore(t *testing.T, rd *volsyncv1alpha1.ReplicationDestination, tag string) {
	t.Helper()
	waitLastManualSync(t, rd, &rd.Status.ReplicationStatus, "destination", tag)
	if st := rd.Status.LatestMoverStatus; st == nil || st.Result != volsyncv1alpha1.MoverResultSuccessful {
		t.Fatalf("destination %s finished %q with latestMoverStatus %+v, want Successful", rd.Name, tag, st)
	}
}
