package chaos

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The workload: one namespace per mover, each with a source volume "data" whose tree the test
// rewrites now and then, a ReplicationSource on the one-minute policy and a destination that
// keeps a VolumeSnapshot of each sync; and a namespace migrated every minute by a
// MigrationSchedule to another namespace of this cluster. Names are fixed, so a run that was
// interrupted is cleaned up by the next.
const (
	policyName = "chaos-every-minute"
	// retain keeps every dated child of a run (one a minute), so the checks see them all.
	retain = 500
	// pvcName is every workload's source volume, and the migrated copy's name.
	pvcName = "data"
)

// Movers, and the names of their workloads.
const (
	moverRsync     = "rsync"
	moverRsyncTLS  = "rsync-tls"
	moverRclone    = "rclone"
	moverRestic    = "restic"
	moverMigration = "migration"
)

var movers = []string{moverRsync, moverRsyncTLS, moverRclone, moverRestic, moverMigration}

// workload is one mover's namespace and what the test wrote there last.
type workload struct {
	mover string
	ns    string
	// dstNS is where the migration copies ns (migration only).
	dstNS string
	// want is the checksum listing of the tree the test wrote last, written is when that write
	// ended and round counts the writes.
	want    string
	written time.Time
	round   int
	// owners are the objects on the policy: the source, the destination when it restores on the
	// policy too (rclone, restic), or the MigrationSchedule.
	owners []*owner
}

// owner is one object on the policy, whose dated children the checks count.
type owner struct {
	kind    string // ReplicationSource, ReplicationDestination or MigrationSchedule
	ns      string
	name    string
	uid     types.UID
	created time.Time
}

func newWorkload(mover string) *workload {
	w := &workload{mover: mover, ns: "chaos-" + mover}
	if mover == moverMigration {
		w.dstNS = w.ns + "-dr"
	}
	return w
}

func (w *workload) namespaces() []string {
	if w.dstNS != "" {
		return []string{w.ns, w.dstNS}
	}
	return []string{w.ns}
}

// normalize prepares a checksum listing for comparison: rclone's copies have no hard links.
func (w *workload) normalize(listing string) string {
	if w.mover == moverRclone {
		return withoutLinkCount(listing)
	}
	return listing
}

// write rewrites the source's tree (round n) and remembers its listing.
func (w *workload) write(ctx context.Context) error {
	w.round++
	seed := fmt.Sprintf("%s-round-%d", w.mover, w.round)
	want, err := writeTree(ctx, w.ns, pvcName, fmt.Sprintf("write-%d", w.round), seed)
	if err != nil {
		return fmt.Errorf("%s: writing round %d: %w", w.mover, w.round, err)
	}
	w.want, w.written = want, time.Now()
	return nil
}

// removeLeftovers deletes what an earlier run left (the namespaces and the policy) and waits
// until it is gone, so this run's recorder and checks see only this run's objects.
func removeLeftovers(ctx context.Context, namespaces []string) error {
	for _, ns := range namespaces {
		if err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	policy := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName}}
	if err := k8s.Delete(ctx, policy); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return poll(ctx, 5*time.Minute, 2*time.Second, func() error {
		for _, ns := range namespaces {
			if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s of an earlier run is still there (%v)", ns, err)
			}
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), policy); !apierrors.IsNotFound(err) {
			return fmt.Errorf("SchedulePolicy %s of an earlier run is still there (%v)", policyName, err)
		}
		return nil
	})
}

// createPolicy makes the one-minute SchedulePolicy every owner names and waits until it is Valid.
func createPolicy(ctx context.Context) error {
	policy := &volsyncv1alpha1.SchedulePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName},
		Policy: volsyncv1alpha1.SchedulePolicyItem{
			Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 1, Retain: ptr.To[int32](retain)},
		},
	}
	if err := k8s.Create(ctx, policy); err != nil {
		return err
	}
	return poll(ctx, time.Minute, time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(policy.Status.Conditions, volsyncv1alpha1.ConditionValid) {
			return fmt.Errorf("SchedulePolicy %s is not Valid yet: %+v", policyName, policy.Status.Conditions)
		}
		return nil
	})
}

// createNamespace makes w's source namespace, with privileged movers (the trees have a file only
// root may read), and its source volume.
func (w *workload) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns,
		Annotations: map[string]string{volsyncv1alpha1.PrivilegedMoversAnnotation: "true"}}}
	if err := k8s.Create(ctx, ns); err != nil {
		return err
	}
	// The ServiceAccount controller must have made "default" before pods can be created.
	if err := poll(ctx, time.Minute, time.Second, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: "default"}, &corev1.ServiceAccount{})
	}); err != nil {
		return err
	}
	return newPVC(ctx, w.ns, pvcName, "")
}

// snapshotOptions are the options of a destination that keeps a VolumeSnapshot of each sync.
func snapshotOptions() volsyncv1alpha1.ReplicationDestinationVolumeOptions {
	return volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, Capacity: ptr.To(resource.MustParse("1Gi")),
		StorageClassName: ptr.To(storageClass), VolumeSnapshotClassName: ptr.To(snapshotClass),
	}
}

var onPolicy = &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policyName}

// createListening creates an always-listening rsync or rsync-tls destination and waits until its
// status publishes the address and keys a source needs.
func createListening(ctx context.Context, rd *volsyncv1alpha1.ReplicationDestination) error {
	if err := k8s.Create(ctx, rd); err != nil {
		return err
	}
	return poll(ctx, 4*time.Minute, time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rd), rd); err != nil {
			return err
		}
		if rd.Spec.RsyncTLS != nil {
			if st := rd.Status.RsyncTLS; st == nil || st.Address == nil || st.KeySecret == nil {
				return fmt.Errorf("destination %s/%s publishes no address and key Secret yet", rd.Namespace, rd.Name)
			}
			return nil
		}
		if st := rd.Status.Rsync; st == nil || st.Address == nil || st.SSHKeys == nil {
			return fmt.Errorf("destination %s/%s publishes no address and SSH keys yet", rd.Namespace, rd.Name)
		}
		return nil
	})
}

// createOwner creates obj and records it as an owner of dated children.
func (w *workload) createOwner(ctx context.Context, kind string, obj client.Object) error {
	if err := k8s.Create(ctx, obj); err != nil {
		return fmt.Errorf("%s: creating %s %s: %w", w.mover, kind, obj.GetName(), err)
	}
	w.owners = append(w.owners, &owner{kind: kind, ns: obj.GetNamespace(), name: obj.GetName(), uid: obj.GetUID(),
		created: obj.GetCreationTimestamp().Time})
	return nil
}

// start creates w's replication (or migration) on the policy. store is the S3 server of rclone
// and restic.
func (w *workload) start(ctx context.Context, store *testenv.S3Server) error {
	switch w.mover {
	case moverRsync:
		rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: objectMeta(w.ns, "backup"),
			Spec: volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
				ReplicationDestinationVolumeOptions: snapshotOptions()}}}
		if err := createListening(ctx, rd); err != nil {
			return err
		}
		return w.createOwner(ctx, "ReplicationSource", &volsyncv1alpha1.ReplicationSource{
			ObjectMeta: objectMeta(w.ns, "source"),
			Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: pvcName, Trigger: onPolicy.DeepCopy(),
				Rsync: &volsyncv1alpha1.ReplicationSourceRsyncSpec{
					ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{
						CopyMethod: volsyncv1alpha1.CopyMethodSnapshot, VolumeSnapshotClassName: ptr.To(snapshotClass)},
					Address: rd.Status.Rsync.Address, SSHKeys: rd.Status.Rsync.SSHKeys,
				}},
		})
	case moverRsyncTLS:
		rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: objectMeta(w.ns, "backup"),
			Spec: volsyncv1alpha1.ReplicationDestinationSpec{RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{
				ReplicationDestinationVolumeOptions: snapshotOptions()}}}
		if err := createListening(ctx, rd); err != nil {
			return err
		}
		return w.createOwner(ctx, "ReplicationSource", &volsyncv1alpha1.ReplicationSource{
			ObjectMeta: objectMeta(w.ns, "source"),
			Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: pvcName, Trigger: onPolicy.DeepCopy(),
				RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
					ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodClone},
					Address:                        rd.Status.RsyncTLS.Address, KeySecret: rd.Status.RsyncTLS.KeySecret,
				}},
		})
	case moverRclone:
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: objectMeta(w.ns, "rclone-config"),
			StringData: map[string]string{"rclone.conf": store.RcloneConfig()}}); err != nil {
			return err
		}
		return w.createOwner(ctx, "ReplicationSource", &volsyncv1alpha1.ReplicationSource{
			ObjectMeta: objectMeta(w.ns, "source"),
			Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: pvcName, Trigger: onPolicy.DeepCopy(),
				Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
					ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodClone},
					RcloneConfigSection:            ptr.To("s3"), RcloneDestPath: ptr.To("chaos/rclone"), RcloneConfig: ptr.To("rclone-config"),
				}},
		})
	case moverRestic:
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: objectMeta(w.ns, "repository"), StringData: map[string]string{
			"RESTIC_REPOSITORY":     fmt.Sprintf("s3:%s/chaos/restic", store.Endpoint),
			"RESTIC_PASSWORD":       "volsync-chaos-repository-password",
			"AWS_ACCESS_KEY_ID":     store.AccessKey,
			"AWS_SECRET_ACCESS_KEY": store.SecretKey,
			"AWS_DEFAULT_REGION":    store.Region,
		}}); err != nil {
			return err
		}
		return w.createOwner(ctx, "ReplicationSource", &volsyncv1alpha1.ReplicationSource{
			ObjectMeta: objectMeta(w.ns, "source"),
			Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: pvcName, Trigger: onPolicy.DeepCopy(),
				Restic: &volsyncv1alpha1.ReplicationSourceResticSpec{
					ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodClone},
					Repository:                     "repository",
				}},
		})
	case moverMigration:
		return w.startMigration(ctx)
	}
	return fmt.Errorf("unknown mover %q", w.mover)
}

// startRestore creates the rclone or restic destination that restores on the policy too. It is
// created once the source's first sync has succeeded, so that its first restore finds a copy, and
// half a minute off the source's grid, so that restores and uploads of one repository meet as
// little as the pacing allows (restic's retention after a backup locks the repository).
func (w *workload) startRestore(ctx context.Context) error {
	if w.mover != moverRclone && w.mover != moverRestic {
		return nil
	}
	src := w.owners[0]
	if _, err := waitChild(ctx, src, src.created, 6*time.Minute); err != nil {
		return fmt.Errorf("%s: the first sync: %w", w.mover, err)
	}
	// Pacing: the next half minute of the source's grid.
	at := src.created.Add(30 * time.Second)
	for !at.After(time.Now()) {
		at = at.Add(time.Minute)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(at)):
	}
	rd := &volsyncv1alpha1.ReplicationDestination{ObjectMeta: objectMeta(w.ns, "restore"),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Trigger: onPolicy.DeepCopy()}}
	if w.mover == moverRclone {
		rd.Spec.Rclone = &volsyncv1alpha1.ReplicationDestinationRcloneSpec{
			ReplicationDestinationVolumeOptions: snapshotOptions(),
			RcloneConfigSection:                 ptr.To("s3"), RcloneDestPath: ptr.To("chaos/rclone"), RcloneConfig: ptr.To("rclone-config"),
		}
	} else {
		rd.Spec.Restic = &volsyncv1alpha1.ReplicationDestinationResticSpec{
			ReplicationDestinationVolumeOptions: snapshotOptions(), Repository: "repository",
		}
	}
	return w.createOwner(ctx, "ReplicationDestination", rd)
}

// startMigration makes a ClusterPair back to this cluster and a MigrationSchedule that copies the
// namespace, its volume and a ConfigMap, to w.dstNS every minute.
func (w *workload) startMigration(ctx context.Context) error {
	if err := k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: objectMeta(w.ns, "settings"),
		Data: map[string]string{"mode": "chaos"}}); err != nil {
		return err
	}
	kubeconfig, err := os.ReadFile(kubeconfigPath)
	if err != nil {
		return err
	}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: objectMeta(w.ns, "self-kubeconfig"),
		Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}}); err != nil {
		return err
	}
	pair := &volsyncv1alpha1.ClusterPair{ObjectMeta: objectMeta(w.ns, "self"),
		Spec: volsyncv1alpha1.ClusterPairSpec{
			KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: "self-kubeconfig"},
			// Volumes within one cluster go over ClusterIP Services.
			Options: map[string]string{"volumeServiceType": string(corev1.ServiceTypeClusterIP)},
		}}
	if err := k8s.Create(ctx, pair); err != nil {
		return err
	}
	if err := poll(ctx, time.Minute, time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(pair), pair); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(pair.Status.Conditions, volsyncv1alpha1.ConditionReady) {
			return fmt.Errorf("ClusterPair %s/%s is not Ready: %+v", w.ns, pair.Name, pair.Status.Conditions)
		}
		return nil
	}); err != nil {
		return err
	}
	return w.createOwner(ctx, "MigrationSchedule", &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: objectMeta(w.ns, "dr"),
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policyName,
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair:       pair.Name,
				Namespaces:        []string{w.ns},
				IncludeResources:  ptr.To(true),
				IncludeVolumes:    ptr.To(true),
				StartApplications: ptr.To(false),
				NamespaceMapping:  map[string]volsyncv1alpha1.NamespaceName{w.ns: volsyncv1alpha1.NamespaceName(w.dstNS)},
			}},
		},
	})
}

// childrenOf lists the dated ReplicationSyncs of a ReplicationSource or ReplicationDestination,
// by scheduled time.
func childrenOf(ctx context.Context, o *owner) ([]volsyncv1alpha1.ReplicationSync, error) {
	var list volsyncv1alpha1.ReplicationSyncList
	if err := k8s.List(ctx, &list, client.InNamespace(o.ns)); err != nil {
		return nil, err
	}
	var mine []volsyncv1alpha1.ReplicationSync
	for _, c := range list.Items {
		if c.Spec.Replication.Kind == o.kind && c.Spec.Replication.Name == o.name && controllerUID(&c) == o.uid {
			mine = append(mine, c)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Spec.ScheduledTime.Before(&mine[j].Spec.ScheduledTime) })
	return mine, nil
}

// waitChild waits for the first Successful dated child of o scheduled at or after since.
func waitChild(ctx context.Context, o *owner, since time.Time, timeout time.Duration) (*volsyncv1alpha1.ReplicationSync, error) {
	var found *volsyncv1alpha1.ReplicationSync
	err := poll(ctx, timeout, 2*time.Second, func() error {
		children, err := childrenOf(ctx, o)
		if err != nil {
			return err
		}
		var seen []string
		for i, c := range children {
			if c.Spec.ScheduledTime.Time.Before(since.Truncate(time.Second)) {
				continue
			}
			if c.Status.Status == volsyncv1alpha1.RunStatusSuccessful {
				found = &children[i]
				return nil
			}
			seen = append(seen, c.Name+"="+string(c.Status.Status))
		}
		return fmt.Errorf("%s %s/%s has no Successful sync scheduled since %s (%v)", o.kind, o.ns, o.name,
			since.UTC().Format(time.RFC3339), seen)
	})
	return found, err
}
