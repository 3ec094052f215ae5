package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v6/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// --- Data ------------------------------------------------------------------------------------

// finalTimeout bounds waiting for the syncs after the last write: the next trigger (a minute),
// the sync, and for rclone and restic the restore after it.
const finalTimeout = 8 * time.Minute

// checkData waits until w's destination holds what the test wrote last, and compares it with the
// source by checksum from a pod that mounts it. It returns "" when they are equal, else how they
// differ.
func (w *workload) checkData(ctx context.Context) (string, error) {
	var claim, ns string
	switch w.mover {
	case moverMigration:
		if err := w.waitMigrated(ctx); err != nil {
			return "", err
		}
		ns, claim = w.dstNS, pvcName
	default:
		image, err := w.waitImage(ctx)
		if err != nil {
			return "", err
		}
		ns, claim = w.ns, "final-check"
		if err := newPVC(ctx, ns, claim, image); err != nil {
			return "", err
		}
	}
	got, err := treeSum(ctx, ns, claim, "check-final")
	if err != nil {
		return "", err
	}
	return firstDifference(w.normalize(w.want), w.normalize(got)), nil
}

// waitImage waits for a sync of the source scheduled after the last write, then (rclone, restic)
// for a restore scheduled after that sync ended, and returns the VolumeSnapshot the destination
// published of it (or of a later one, which holds the same tree).
func (w *workload) waitImage(ctx context.Context) (string, error) {
	src := w.owners[0]
	synced, err := waitChild(ctx, src, w.written, finalTimeout)
	if err != nil {
		return "", err
	}
	rdName := "backup"
	// The destination publishes the image of a sync when its mover has finished, about when the
	// source's sync is recorded as finished; the image of the sync before was made before this
	// one started.
	after := synced.Status.FinishTime.Time
	if len(w.owners) > 1 {
		dst := w.owners[1]
		restored, err := waitChild(ctx, dst, synced.Status.FinishTime.Time, finalTimeout)
		if err != nil {
			return "", err
		}
		rdName = dst.name
		after = restored.Status.StartTime.Time
	}
	var image string
	err = poll(ctx, finalTimeout, 2*time.Second, func() error {
		var rd volsyncv1alpha1.ReplicationDestination
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: rdName}, &rd); err != nil {
			return err
		}
		img := rd.Status.LatestImage
		if img == nil || img.Kind != "VolumeSnapshot" {
			return fmt.Errorf("destination %s/%s has no VolumeSnapshot image (%+v)", w.ns, rdName, img)
		}
		snap, err := snapshotReady(ctx, w.ns, img.Name)
		if err != nil {
			return err
		}
		if snap.CreationTimestamp.Time.Before(after.Truncate(time.Second)) {
			return fmt.Errorf("destination %s/%s: image %s was made at %s, before %s", w.ns, rdName, img.Name,
				snap.CreationTimestamp.UTC().Format(time.RFC3339), after.UTC().Format(time.RFC3339))
		}
		image = img.Name
		return nil
	})
	return image, err
}

// waitMigrated waits for a Migration that started after the last write to succeed, then suspends
// the schedule and waits until no Migration runs, so that nothing writes the copy while it is read.
func (w *workload) waitMigrated(ctx context.Context) error {
	ms := w.owners[0]
	if err := poll(ctx, finalTimeout, 2*time.Second, func() error {
		list, err := migrationsOf(ctx, ms)
		if err != nil {
			return err
		}
		var seen []string
		for _, m := range list {
			if m.Status.StartTimestamp == nil || m.Status.StartTimestamp.Time.Before(w.written.Truncate(time.Second)) {
				continue
			}
			if m.Status.Status == volsyncv1alpha1.RunStatusSuccessful {
				return nil
			}
			seen = append(seen, m.Name+"="+string(m.Status.Status))
		}
		return fmt.Errorf("no Migration of %s/%s started since the last write has succeeded (%v)", ms.ns, ms.name, seen)
	}); err != nil {
		return err
	}
	return suspendSchedule(ctx, ms)
}

// suspendSchedule suspends a MigrationSchedule and waits until none of its Migrations runs.
func suspendSchedule(ctx context.Context, ms *owner) error {
	var s volsyncv1alpha1.MigrationSchedule
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ms.ns, Name: ms.name}, &s); err != nil {
		return err
	}
	patch := client.MergeFrom(s.DeepCopy())
	s.Spec.Suspend = ptr.To(true)
	if err := k8s.Patch(ctx, &s, patch); err != nil {
		return err
	}
	return poll(ctx, finalTimeout, 2*time.Second, func() error {
		list, err := migrationsOf(ctx, ms)
		if err != nil {
			return err
		}
		for _, m := range list {
			if !m.Status.Status.Finished() {
				return fmt.Errorf("Migration %s is %s at stage %s", m.Name, m.Status.Status, m.Status.Stage)
			}
		}
		return nil
	})
}

func migrationsOf(ctx context.Context, ms *owner) ([]volsyncv1alpha1.Migration, error) {
	var list volsyncv1alpha1.MigrationList
	if err := k8s.List(ctx, &list, client.InNamespace(ms.ns)); err != nil {
		return nil, err
	}
	var mine []volsyncv1alpha1.Migration
	for _, m := range list.Items {
		if controllerUID(&m) == ms.uid {
			mine = append(mine, m)
		}
	}
	return mine, nil
}

// --- Dated children: missed, doubled, and Jobs per child ---------------------------------------

// tally is what the checks counted for one owner.
type tally struct {
	owner *owner
	// scheduled counts the grid times from the owner's creation to the end of the chaos phase.
	scheduled, completed, failed, superseded int
	// coalesced: grid times a MigrationSchedule dropped by design, because its previous run was
	// still running a whole interval later (one pending run per type, the newest wins).
	coalesced int
	missed    []string
	doubled   []string
	// ranTwice lists children for which a mover Job ran after another that had not failed.
	ranTwice []string
	// jobs counts the mover Jobs of its children.
	jobs int
}

// grid lists the trigger times of a one-minute policy from created up to and including until.
func grid(created, until time.Time) []time.Time {
	var ts []time.Time
	for t := created; !t.After(until); t = t.Add(time.Minute) {
		ts = append(ts, t)
	}
	return ts
}

// countChildren checks o's children against the policy's grid up to end (the end of the chaos
// phase); children scheduled later, up to now, are checked for being on the grid only.
func countChildren(o *owner, s seen, end time.Time) *tally {
	tl := &tally{owner: o}
	all := map[string]bool{}
	for _, t := range grid(o.created, time.Now()) {
		all[schedule.ChildName(o.name, schedule.TypeInterval, t)] = true
	}
	// Every child of o the recorder saw, by name.
	byName := map[string][]metav1.Object{}
	status := map[string]string{}
	window := map[string][2]time.Time{}
	if o.kind == "MigrationSchedule" {
		for key, uids := range s.migrations {
			for _, m := range uids {
				if controllerUID(m) != o.uid {
					continue
				}
				byName[key] = append(byName[key], m)
				status[key] = string(m.Status.Status)
				start := m.CreationTimestamp.Time
				finish := time.Now()
				if m.Status.FinishTimestamp != nil {
					finish = m.Status.FinishTimestamp.Time
				}
				window[key] = [2]time.Time{start, finish}
			}
		}
	} else {
		for key, uids := range s.syncs {
			for _, c := range uids {
				if controllerUID(c) != o.uid {
					continue
				}
				byName[key] = append(byName[key], c)
				status[key] = string(c.Status.Status)
				if cond := findCondition(c.Status.Conditions, volsyncv1alpha1.ConditionCompleted); cond != nil && cond.Reason == "Superseded" {
					status[key] = "Superseded"
				}
			}
		}
	}
	for key, objs := range byName {
		name := key[strings.IndexByte(key, '/')+1:]
		if !all[name] {
			tl.doubled = append(tl.doubled, name+" (not a time of the policy)")
		}
		if len(objs) > 1 {
			tl.doubled = append(tl.doubled, fmt.Sprintf("%s (made %d times)", name, len(objs)))
		}
	}
	times := grid(o.created, end)
	for _, t := range times {
		tl.scheduled++
		key := o.ns + "/" + schedule.ChildName(o.name, schedule.TypeInterval, t)
		if len(byName[key]) == 0 {
			if o.kind == "MigrationSchedule" && coalescedAt(t, window) {
				tl.coalesced++
				continue
			}
			tl.missed = append(tl.missed, t.UTC().Format(time.RFC3339))
			continue
		}
		switch status[key] {
		case string(volsyncv1alpha1.RunStatusSuccessful):
			tl.completed++
		case "Superseded":
			tl.superseded++
		default:
			tl.failed++
		}
	}
	inWindow := map[string]bool{}
	for _, t := range times {
		inWindow[schedule.ChildName(o.name, schedule.TypeInterval, t)] = true
	}
	tl.checkJobs(s, inWindow)
	return tl
}

// coalescedAt says whether a Migration created by t was still running a whole interval after t:
// the schedule then kept t pending and replaced it with the next time, by design.
func coalescedAt(t time.Time, window map[string][2]time.Time) bool {
	for _, w := range window {
		if !w[0].After(t) && !w[1].Before(t.Add(time.Minute)) {
			return true
		}
	}
	return false
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

// checkJobs finds children whose mover ran twice: a second Job after one that had not failed (a
// Job retried after a failure is the retry policy at work), or a Job with two successful pods.
// A policy owner's Jobs belong to the child whose run their creation falls in; a Migration's are
// those of the ReplicationSources its volume path made. Only the children named in inWindow (the
// scheduled times counted) are checked, so the figures describe the same runs.
func (tl *tally) checkJobs(s seen, inWindow map[string]bool) {
	o := tl.owner
	type run struct {
		name          string
		start, finish time.Time
		jobs          []*batchv1.Job
	}
	var runs []*run
	if o.kind == "MigrationSchedule" {
		for _, uids := range s.migrations {
			for _, m := range uids {
				if controllerUID(m) != o.uid || !inWindow[m.Name] {
					continue
				}
				r := &run{name: m.Name}
				for _, j := range s.jobs {
					if mig, ok := s.sources[controllerUID(j)]; ok && mig == string(m.UID) {
						r.jobs = append(r.jobs, j)
					}
				}
				runs = append(runs, r)
			}
		}
	} else {
		for _, uids := range s.syncs {
			for _, c := range uids {
				if controllerUID(c) != o.uid || !inWindow[c.Name] || c.Status.StartTime == nil || c.Status.FinishTime == nil {
					continue
				}
				r := &run{name: c.Name, start: c.Status.StartTime.Time, finish: c.Status.FinishTime.Time}
				for _, j := range s.jobs {
					created := j.CreationTimestamp.Time
					if controllerUID(j) == o.uid && !created.Before(r.start) && !created.After(r.finish) {
						r.jobs = append(r.jobs, j)
					}
				}
				runs = append(runs, r)
			}
		}
	}
	for _, r := range runs {
		tl.jobs += len(r.jobs)
		sort.Slice(r.jobs, func(i, j int) bool { return r.jobs[i].CreationTimestamp.Before(&r.jobs[j].CreationTimestamp) })
		for i, j := range r.jobs {
			if succeeded := podsIn(s, j.UID, corev1.PodSucceeded); succeeded > 1 {
				tl.ranTwice = append(tl.ranTwice, fmt.Sprintf("%s: Job %s has %d successful pods", r.name, j.Name, succeeded))
			}
			if i < len(r.jobs)-1 && !jobFailed(s, j) {
				tl.ranTwice = append(tl.ranTwice, fmt.Sprintf("%s: Job %s (uid %s) was followed by another one without having failed", r.name, j.Name, j.UID))
			}
		}
	}
}

func podsIn(s seen, job types.UID, phase corev1.PodPhase) int {
	n := 0
	for _, p := range s.jobPods[job] {
		if p == phase {
			n++
		}
	}
	return n
}

// jobFailed says whether the last state seen of a Job shows it failed.
func jobFailed(s seen, j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return podsIn(s, j.UID, corev1.PodSucceeded) == 0 && podsIn(s, j.UID, corev1.PodFailed) > 0 && j.Status.Succeeded == 0 && j.Status.Active == 0
}

// --- Orphans -----------------------------------------------------------------------------------

// orphanKinds are the kinds the orphan check lists in each namespace; an owner reference to any
// other kind is taken as alive.
var orphanKinds = map[string]bool{
	"ReplicationSource": true, "ReplicationDestination": true, "MigrationSchedule": true, "Migration": true,
	"ReplicationSync": true, "ClusterPair": true, "Job": true, "Pod": true, "PersistentVolumeClaim": true,
	"VolumeSnapshot": true, "Service": true, "Secret": true, "ConfigMap": true,
}

// listed is one object of the orphan check.
type listed struct {
	kind string
	obj  client.Object
}

// listAll lists every object of orphanKinds in the namespaces.
func listAll(ctx context.Context, namespaces []string) ([]listed, error) {
	var out []listed
	for _, ns := range namespaces {
		lists := []struct {
			kind string
			list client.ObjectList
		}{
			{"ReplicationSource", &volsyncv1alpha1.ReplicationSourceList{}},
			{"ReplicationDestination", &volsyncv1alpha1.ReplicationDestinationList{}},
			{"MigrationSchedule", &volsyncv1alpha1.MigrationScheduleList{}},
			{"Migration", &volsyncv1alpha1.MigrationList{}},
			{"ReplicationSync", &volsyncv1alpha1.ReplicationSyncList{}},
			{"ClusterPair", &volsyncv1alpha1.ClusterPairList{}},
			{"Job", &batchv1.JobList{}},
			{"Pod", &corev1.PodList{}},
			{"PersistentVolumeClaim", &corev1.PersistentVolumeClaimList{}},
			{"VolumeSnapshot", &snapv1.VolumeSnapshotList{}},
			{"Service", &corev1.ServiceList{}},
			{"Secret", &corev1.SecretList{}},
			{"ConfigMap", &corev1.ConfigMapList{}},
		}
		for _, l := range lists {
			if err := k8s.List(ctx, l.list, client.InNamespace(ns)); err != nil {
				return nil, fmt.Errorf("listing %s in %s: %w", l.kind, ns, err)
			}
			items, err := metaItems(l.list)
			if err != nil {
				return nil, err
			}
			for _, o := range items {
				out = append(out, listed{kind: l.kind, obj: o})
			}
		}
	}
	return out, nil
}

// orphans lists what volsync left behind in the namespaces, by UID, with the reason:
//   - a temporary (volsync.backube/cleanup) or an image (volsync.backube/image-of) of an owner
//     that is gone, or a temporary or a mover Job of an owner that is between syncs;
//   - an image other than its destination's latestImage, for a destination between syncs;
//   - an object whose owners are all gone;
//   - a replication object or key Secret of a Migration that is gone or finished;
//   - a Migration whose schedule is gone.
func orphans(ctx context.Context, namespaces []string) (map[types.UID]string, error) {
	objs, err := listAll(ctx, namespaces)
	if err != nil {
		return nil, err
	}
	alive := map[types.UID]listed{}
	schedules := map[string]bool{}
	for _, l := range objs {
		alive[l.obj.GetUID()] = l
		if l.kind == "MigrationSchedule" {
			schedules[l.obj.GetNamespace()+"/"+l.obj.GetName()] = true
		}
	}
	// idle: the replication owners between syncs, with their latestImage.
	idle := map[types.UID]string{}
	for _, l := range objs {
		var st *volsyncv1alpha1.ReplicationStatus
		switch o := l.obj.(type) {
		case *volsyncv1alpha1.ReplicationSource:
			st = &o.Status.ReplicationStatus
		case *volsyncv1alpha1.ReplicationDestination:
			st = &o.Status.ReplicationStatus
		default:
			continue
		}
		if st.ActiveSync == nil && l.obj.GetDeletionTimestamp() == nil {
			image := ""
			if img := latestImageOf(l.obj); img != nil {
				image = img.Name
			}
			idle[l.obj.GetUID()] = image
		}
	}
	found := map[types.UID]string{}
	for _, l := range objs {
		o := l.obj
		what := fmt.Sprintf("%s %s/%s", l.kind, o.GetNamespace(), o.GetName())
		labels := o.GetLabels()
		if uid := types.UID(labels[volsyncv1alpha1.CleanupLabel]); uid != "" {
			if _, ok := alive[uid]; !ok {
				found[o.GetUID()] = what + ": a temporary of an owner that is gone"
				continue
			}
			if _, ok := idle[uid]; ok && o.GetDeletionTimestamp() == nil {
				found[o.GetUID()] = what + ": a temporary of an owner between syncs"
				continue
			}
		}
		if uid := types.UID(labels[volsyncv1alpha1.ImageOfLabel]); uid != "" {
			if _, ok := alive[uid]; !ok {
				found[o.GetUID()] = what + ": an image of a destination that is gone"
				continue
			}
			if latest, ok := idle[uid]; ok && latest != o.GetName() && labels[volsyncv1alpha1.DoNotDeleteLabel] == "" {
				found[o.GetUID()] = what + ": an image other than the latestImage of a destination between syncs"
				continue
			}
		}
		if refs := o.GetOwnerReferences(); len(refs) > 0 {
			gone := 0
			for _, r := range refs {
				if _, ok := alive[r.UID]; !ok && orphanKinds[r.Kind] {
					gone++
				}
			}
			if gone == len(refs) {
				found[o.GetUID()] = fmt.Sprintf("%s: its owner %s %s is gone", what, refs[0].Kind, refs[0].Name)
				continue
			}
		}
		if l.kind == "Job" {
			if uid := controllerUID(o); uid != "" {
				if _, ok := idle[uid]; ok {
					found[o.GetUID()] = what + ": a mover Job of an owner between syncs"
					continue
				}
			}
		}
		// The volume path's objects the run deletes when it finishes; the copy of the PVC stays.
		isRunObject := l.kind == "ReplicationSource" || l.kind == "ReplicationDestination" || l.kind == "Secret"
		if m := types.UID(o.GetAnnotations()[migrationUIDAnnotation]); m != "" && isRunObject {
			switch ml, ok := alive[m]; {
			case !ok:
				found[o.GetUID()] = what + ": made by a Migration that is gone"
				continue
			case ml.kind == "Migration" && ml.obj.(*volsyncv1alpha1.Migration).Status.Status.Finished():
				found[o.GetUID()] = what + ": made by a Migration that has finished"
				continue
			}
		}
		if l.kind == "Migration" {
			if s := labels[volsyncv1alpha1.MigrationScheduleLabel]; s != "" && !schedules[o.GetNamespace()+"/"+s] {
				found[o.GetUID()] = what + ": its MigrationSchedule is gone"
			}
		}
	}
	return found, nil
}

// metaItems are the items of a typed list.
func metaItems(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		co, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", o)
		}
		out = append(out, co)
	}
	return out, nil
}

func latestImageOf(obj client.Object) *corev1.TypedLocalObjectReference {
	if rd, ok := obj.(*volsyncv1alpha1.ReplicationDestination); ok {
		return rd.Status.LatestImage
	}
	return nil
}

// persistentOrphans runs orphans for window and keeps what every pass found: in a cluster that
// keeps syncing, a temporary is seen between the end of a sync and its clean-up; a leak stays.
func persistentOrphans(ctx context.Context, namespaces []string, window time.Duration) ([]string, error) {
	var kept map[types.UID]string
	deadline := time.Now().Add(window)
	for {
		found, err := orphans(ctx, namespaces)
		if err != nil {
			return nil, err
		}
		if kept == nil {
			kept = found
		} else {
			for uid := range kept {
				if _, ok := found[uid]; !ok {
					delete(kept, uid)
				}
			}
		}
		if len(kept) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	var out []string
	for _, why := range kept {
		out = append(out, why)
	}
	sort.Strings(out)
	return out, nil
}

// leftovers lists, after every owner was deleted, what volsync made that is still there: any
// replication object, dated child or Migration, anything labelled as volsync's, a temporary or
// an image. The migrated copies (annotated volsync.backube/migrated-by) are the user's data and
// stay.
func leftovers(ctx context.Context, namespaces []string) ([]string, error) {
	objs, err := listAll(ctx, namespaces)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range objs {
		o := l.obj
		if _, copy := o.GetAnnotations()[migratedByAnnotation]; copy {
			continue
		}
		labels := o.GetLabels()
		switch {
		case l.kind == "ReplicationSource", l.kind == "ReplicationDestination", l.kind == "ReplicationSync",
			l.kind == "Migration", l.kind == "MigrationSchedule",
			labels[volsyncv1alpha1.CreatedByLabel] == volsyncv1alpha1.CreatedByValue,
			labels[volsyncv1alpha1.CleanupLabel] != "", labels[volsyncv1alpha1.ImageOfLabel] != "",
			o.GetAnnotations()[migrationUIDAnnotation] != "":
			out = append(out, fmt.Sprintf("%s %s/%s", l.kind, o.GetNamespace(), o.GetName()))
		}
	}
	sort.Strings(out)
	return out, nil
}
