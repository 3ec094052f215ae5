package migration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// The volume path moves each PVC's data with a ReplicationSource on this cluster and a
// ReplicationDestination on the destination (rsync-tls, manual trigger), made for the run:
//
//  1. on the destination, in the PVC's destination namespace (spec.namespaceMapping): the
//     namespace and the PVC (prepared as the copier prepares every PVC), and the
//     ReplicationDestination volumeObjectName(pvc) writing into that PVC (copyMethod Direct, no
//     trigger, so it always listens);
//  2. once the destination publishes status.rsyncTLS.address and keySecret: that key Secret copied
//     here, into the PVC's source namespace, as volumeKeyName(pvc), and the ReplicationSource
//     volumeObjectName(pvc) there with trigger.manual set to the Migration's name;
//  3. once the source's status.lastManualSync is the Migration's name the volume is Successful,
//     with the bytes the mover reported; a Failed latestMoverStatus makes it Failed with the
//     mover's words;
//  4. when every volume has finished (and that is checkpointed) the ReplicationSource, the key
//     Secrets and the ReplicationDestination are deleted. The destination PVC stays: it is the
//     migrated data. What the movers made (Jobs, Services, generated Secrets, temporary clones)
//     is owned by the replication objects and goes with them.
//
// Nothing here waits: each pass takes every unfinished volume one step as far as it can go and
// the Migration is requeued while any volume is unfinished. Every object has a name derived
// from the PVC's name only and is written with server-side apply, so a pass after a restart
// finds what the pass before made and carries on from there.
//
// A ClusterPair that reaches this very cluster works too, with the namespace mapped to another
// name (a namespace onto itself is refused before anything is written, see selfOverwrites): the
// source's objects (ReplicationSource, the copied key Secret, the clones the mover makes) are in
// the source namespace and the destination's (ReplicationDestination, its key Secret, Service
// and mover Job, the new PVC) in the destination namespace, so equal names never meet. The
// clones carry the movers' cleanup label, which keeps them out of both the volume list and the
// copied PVCs, and everything the movers made is controlled by a replication object, which keeps
// it out of the copied objects.

const (
	// OptionVolumeServiceType is the ClusterPair option (spec.options) that sets the type of the
	// Service the destination listens on: LoadBalancer (the default) or ClusterIP, which works
	// only when the two clusters share a pod and service network.
	OptionVolumeServiceType = "volumeServiceType"
	// OptionVolumeCopyMethod is the ClusterPair option that sets how the source is read:
	// Clone (the default), Snapshot or Direct.
	OptionVolumeCopyMethod = "volumeCopyMethod"
	// DefaultVolumeParallelism is how many volumes a run moves at once.
	DefaultVolumeParallelism = 4
	// volumeObjectPrefix starts the name of every object the volume path makes.
	volumeObjectPrefix = "volsync-mig-"
	// maxObjectName keeps the names usable as label values.
	maxObjectName = 63
)

// rdKind is read and written as unstructured on the destination.
var rdKind = volsyncv1alpha1.GroupVersion.WithKind("ReplicationDestination")

// defaultVolumeCopyMethod is Clone: the mover reads a clone of the PVC taken when the copy
// starts, so it copies one point in time of a volume the application keeps writing to (the
// Volumes stage runs while the application still runs on the source), and it never needs to
// mount a ReadWriteOnce volume that the application's node holds. Storage without clone
// support can set volumeCopyMethod to Snapshot or Direct on the ClusterPair.
const defaultVolumeCopyMethod = volsyncv1alpha1.CopyMethodClone

// volumeObjectName is the name of the ReplicationSource and ReplicationDestination that move pvc
// for the Migration named migration: volsync-mig-<pvc>-<hash of the Migration's name>, cut to 63
// characters with a hash of the whole when longer. The same Migration always gets the same name
// for a PVC, so a pass after a restart finds what the pass before made; two Migrations of one PVC
// (a scheduled run and a drill into a scratch namespace) never take each other's objects.
func volumeObjectName(migration, pvc string) string {
	return boundedName(volumeObjectPrefix+pvc+"-"+shortHash(migration), "")
}

// volumeKeyName is the name of the key Secret copied to the source: volumeObjectName + "-key".
func volumeKeyName(migration, pvc string) string {
	return boundedName(volumeObjectPrefix+pvc+"-"+shortHash(migration), "-key")
}

// legacyVolumeNames are the names the volume path gave its objects before they were named per
// Migration (volsync-mig-<pvc>, and -key for the Secret): a run in flight across an upgrade made
// them, and its cleanup deletes them too (only when they carry its volsyncv1alpha1.MigrationAnnotation).
func legacyVolumeNames(pvc string) (object, key string) {
	return boundedName(volumeObjectPrefix+pvc, ""), boundedName(volumeObjectPrefix+pvc, "-key")
}

// shortHash is 6 hex digits of s: enough to tell apart the few Migrations of one PVC that run at
// the same time.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:6]
}

func boundedName(base, suffix string) string {
	if len(base)+len(suffix) <= maxObjectName {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(base + suffix))
	hash := hex.EncodeToString(sum[:])[:8]
	keep := maxObjectName - len(suffix) - len(hash) - 1
	return strings.TrimRight(base[:keep], "-.") + "-" + hash + suffix
}

// volumeOptions are the ClusterPair's choices for the volume path.
type volumeOptions struct {
	serviceType corev1.ServiceType
	copyMethod  volsyncv1alpha1.CopyMethodType
}

func (run *migrationRun) volumeOptions() (volumeOptions, error) {
	o := volumeOptions{serviceType: corev1.ServiceTypeLoadBalancer, copyMethod: defaultVolumeCopyMethod}
	if run.pair == nil {
		return o, nil
	}
	switch v := run.pair.Spec.Options[OptionVolumeServiceType]; v {
	case "":
	case string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeClusterIP):
		o.serviceType = corev1.ServiceType(v)
	default:
		return o, fmt.Errorf("cluster pair %q: spec.options.%s is %q, not LoadBalancer or ClusterIP", run.pair.Name, OptionVolumeServiceType, v)
	}
	switch v := run.pair.Spec.Options[OptionVolumeCopyMethod]; v {
	case "":
	case string(volsyncv1alpha1.CopyMethodClone), string(volsyncv1alpha1.CopyMethodSnapshot), string(volsyncv1alpha1.CopyMethodDirect):
		o.copyMethod = volsyncv1alpha1.CopyMethodType(v)
	default:
		return o, fmt.Errorf("cluster pair %q: spec.options.%s is %q, not Clone, Snapshot or Direct", run.pair.Name, OptionVolumeCopyMethod, v)
	}
	return o, nil
}

// migrateVolumes is the Volumes stage. It lists the PVCs the run covers (its namespaces, its
// selectors), takes every unfinished one a step further, and records them in the status. It says
// whether any volume is still unfinished; when none is, the replication objects have been
// cleaned up. Volumes finished by an earlier pass keep their entries and are not moved again.
func (run *migrationRun) migrateVolumes(ctx context.Context) (bool, error) {
	pvcKind := copier.Kind{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", Namespaced: true}
	previous := map[string]volsyncv1alpha1.MigrationVolumeInfo{}
	for _, v := range run.m.Status.Volumes {
		previous[v.Namespace+"/"+v.PersistentVolumeClaim] = v
	}
	var (
		vols   []volsyncv1alpha1.MigrationVolumeInfo
		claims []*unstructured.Unstructured
		todo   []int
	)
	listed := map[string]bool{}
	for _, ns := range run.namespaces() {
		items, err := listAll(ctx, run.r.APIReader, pvcKind, ns, run.selector)
		if err != nil {
			return false, fmt.Errorf("listing PersistentVolumeClaims in namespace %s on the source: %w", ns, err)
		}
		for i := range items {
			pvc := &items[i]
			pvc.SetGroupVersionKind(pvcKind.GroupVersionKind())
			if run.selection.SkipReason(pvc) != "" {
				continue // being deleted, or a mover's temporary copy (such as this path's clones)
			}
			key := ns + "/" + pvc.GetName()
			listed[key] = true
			e, seen := previous[key]
			if !seen {
				volumeName, _, _ := unstructured.NestedString(pvc.Object, "spec", "volumeName")
				e = volsyncv1alpha1.MigrationVolumeInfo{
					PersistentVolumeClaim: pvc.GetName(), Namespace: ns, DestinationNamespace: run.destinationOf(ns),
					Volume: volumeName, Status: volsyncv1alpha1.RunStatusPending,
				}
			}
			if !e.Status.Finished() {
				todo = append(todo, len(vols))
			}
			vols = append(vols, e)
			claims = append(claims, pvc)
		}
	}
	// A PVC listed by an earlier pass and gone from the source since cannot be moved any more.
	for _, v := range run.m.Status.Volumes {
		if listed[v.Namespace+"/"+v.PersistentVolumeClaim] {
			continue
		}
		if !v.Status.Finished() {
			v.Status, v.Reason = volsyncv1alpha1.RunStatusFailed, "the PVC was deleted on the source during the migration"
		}
		vols = append(vols, v)
		claims = append(claims, nil)
	}

	if len(todo) > 0 {
		opts, err := run.volumeOptions()
		if err != nil {
			for _, i := range todo {
				vols[i].Status, vols[i].Reason = volsyncv1alpha1.RunStatusFailed, shorten(err.Error())
			}
			todo = nil
		} else if err := run.moveVolumes(ctx, opts, claims, vols, todo); err != nil {
			return false, err
		}
	}
	run.m.Status.Volumes = vols

	for _, v := range vols {
		if !v.Status.Finished() {
			return true, nil
		}
	}
	// Every volume is finished: record it before the evidence goes, so a restart in the middle of
	// the cleanup neither moves a volume again nor loses its result.
	if err := run.checkpoint(ctx); err != nil {
		return false, err
	}
	return false, run.cleanupVolumes(ctx, vols)
}

// moveVolumes takes the volumes at the indexes todo a step further, DefaultVolumeParallelism at
// a time. A failure of the destination is returned for the retry path; anything the destination
// refuses about one volume fails that volume only.
func (run *migrationRun) moveVolumes(ctx context.Context, opts volumeOptions, claims []*unstructured.Unstructured, vols []volsyncv1alpha1.MigrationVolumeInfo, todo []int) error {
	// The namespaces first: the PVCs and ReplicationDestinations live in them, and the
	// Applications stage, which copies them, comes after this one.
	done := map[string]bool{}
	for _, i := range todo {
		ns := vols[i].Namespace
		if done[ns] {
			continue
		}
		done[ns] = true
		if err := run.ensureDestinationNamespace(ctx, ns); err != nil {
			var re *remote.Error
			if errors.As(err, &re) || ctx.Err() != nil {
				return err
			}
			for _, j := range todo {
				if vols[j].Namespace == ns {
					vols[j].Status, vols[j].Reason = volsyncv1alpha1.RunStatusFailed, shorten(err.Error())
				}
			}
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, DefaultVolumeParallelism)
	)
	for _, i := range todo {
		if vols[i].Status.Finished() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e, err := run.stepVolume(ctx, opts, claims[i], vols[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			vols[i] = e
		}()
	}
	wg.Wait()
	return first
}

// ensureDestinationNamespace applies the source's namespace on the destination, under its
// destination name.
func (run *migrationRun) ensureDestinationNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := run.r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return fmt.Errorf("reading namespace %s on the source: %w", name, err)
	}
	prepared, err := copier.Prepare(ns, run.opts)
	if err != nil {
		return err
	}
	return run.applyDestination(ctx, prepared, "Namespace "+prepared.GetName())
}

// stepVolume takes one volume as far as it can go in this pass and returns its entry. It returns
// an error only for a failure of a cluster as a whole.
func (run *migrationRun) stepVolume(ctx context.Context, opts volumeOptions, pvc *unstructured.Unstructured, e volsyncv1alpha1.MigrationVolumeInfo) (volsyncv1alpha1.MigrationVolumeInfo, error) {
	// ns is where the source's objects go, dns where the destination's do.
	ns, claim := e.Namespace, e.PersistentVolumeClaim
	dns := run.mapping.Destination(ns)
	name := volumeObjectName(run.m.Name, claim)
	mine := run.m.Namespace + "/" + run.m.Name
	fail := func(reason string) (volsyncv1alpha1.MigrationVolumeInfo, error) {
		e.Status, e.Reason = volsyncv1alpha1.RunStatusFailed, shorten(reason)
		return e, nil
	}
	wait := func(reason string) (volsyncv1alpha1.MigrationVolumeInfo, error) {
		e.Status, e.Reason = volsyncv1alpha1.RunStatusInProgress, shorten(reason)
		return e, nil
	}

	// The source first: once it exists for this run, only its status matters.
	var rs volsyncv1alpha1.ReplicationSource
	err := run.r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rs)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return e, fmt.Errorf("reading ReplicationSource %s/%s: %w", ns, name, err)
	case rs.Annotations[volsyncv1alpha1.MigrationAnnotation] == "":
		return fail(fmt.Sprintf("ReplicationSource %s/%s exists and was not made by a migration; rename or delete it", ns, name))
	case rs.Annotations[volsyncv1alpha1.MigrationAnnotation] != mine || rs.Annotations[volsyncv1alpha1.MigrationUIDAnnotation] != string(run.m.UID) ||
		rs.Spec.Trigger == nil || rs.Spec.Trigger.Manual != run.m.Name:
		// Left over by another Migration that did not finish: its status is not this run's.
		if err := run.r.Client.Delete(ctx, &rs); err != nil && !apierrors.IsNotFound(err) {
			return e, fmt.Errorf("deleting the leftover ReplicationSource %s/%s: %w", ns, name, err)
		}
	default:
		st := &rs.Status
		if st.LastManualSync == run.m.Name {
			e.Status, e.Reason, e.BytesTotal = volsyncv1alpha1.RunStatusSuccessful, "", movedBytes(&st.ReplicationStatus)
			return e, nil
		}
		if st.LatestMoverStatus != nil && st.LatestMoverStatus.Result == volsyncv1alpha1.MoverResultFailed {
			return fail("the mover failed: " + moverMessage(&st.ReplicationStatus))
		}
		return wait(fmt.Sprintf("copying the data with ReplicationSource %s/%s", ns, name))
	}

	// The destination: the PVC, then the ReplicationDestination that writes into it.
	if pvc == nil {
		return fail("the PVC is gone from the source")
	}
	prepared, err := copier.Prepare(pvc, run.opts)
	if err != nil {
		return fail(err.Error())
	}
	if err := run.applyDestination(ctx, prepared, "PersistentVolumeClaim "+dns+"/"+claim); err != nil {
		return refusedOr(e, err)
	}
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: run.volumeObjectMeta(dns, name),
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{
			RsyncTLS: &volsyncv1alpha1.ReplicationDestinationRsyncTLSSpec{
				ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{
					CopyMethod: volsyncv1alpha1.CopyMethodDirect, DestinationPVC: ptr.To(claim),
				},
				ServiceType: ptr.To(opts.serviceType),
			},
		},
	}
	rd.SetGroupVersionKind(rdKind)
	u, err := toApply(rd)
	if err != nil {
		return e, err
	}
	if err := run.applyDestination(ctx, u, "ReplicationDestination "+dns+"/"+name); err != nil {
		return refusedOr(e, err)
	}
	// Read as unstructured: the destination's client need not know volsync's types.
	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(rdKind)
	if err := run.dst.Get(ctx, client.ObjectKey{Namespace: dns, Name: name}, raw); err != nil {
		return e, remote.Classify(err, run.dest.Config.Host, "reading ReplicationDestination "+dns+"/"+name)
	}
	var got volsyncv1alpha1.ReplicationDestination
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw.Object, &got); err != nil {
		return fail(fmt.Sprintf("reading ReplicationDestination %s/%s on the destination: %v", dns, name, err))
	}
	tls := got.Status.RsyncTLS
	if tls == nil || ptr.Deref(tls.Address, "") == "" || ptr.Deref(tls.KeySecret, "") == "" {
		why := "waiting for ReplicationDestination " + dns + "/" + name + " on the destination to publish its address and key"
		if c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil && c.Message != "" {
			why += ": " + c.Message
		}
		return wait(why)
	}

	// The key, copied from the destination, and the source that sends to it.
	var key corev1.Secret
	if err := run.dst.Get(ctx, client.ObjectKey{Namespace: dns, Name: *tls.KeySecret}, &key); err != nil {
		if apierrors.IsNotFound(err) {
			return wait("waiting for the key Secret " + dns + "/" + *tls.KeySecret + " on the destination")
		}
		return e, remote.Classify(err, run.dest.Config.Host, "reading Secret "+dns+"/"+*tls.KeySecret)
	}
	keyName := volumeKeyName(run.m.Name, claim)
	secret := &corev1.Secret{ObjectMeta: run.volumeObjectMeta(ns, keyName), Data: key.Data, Type: corev1.SecretTypeOpaque}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := run.applySource(ctx, secret); err != nil {
		return e, fmt.Errorf("copying the key Secret to %s/%s: %w", ns, keyName, err)
	}
	source := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: run.volumeObjectMeta(ns, name),
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: claim,
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{Manual: run.m.Name},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: opts.copyMethod},
				KeySecret:                      ptr.To(keyName),
				Address:                        ptr.To(*tls.Address),
				Port:                           tls.Port,
			},
		},
	}
	source.SetGroupVersionKind(volsyncv1alpha1.GroupVersion.WithKind("ReplicationSource"))
	if err := run.applySource(ctx, source); err != nil {
		if refusedObject(err) && !apierrors.IsForbidden(err) {
			return fail("this cluster refused the ReplicationSource: " + err.Error())
		}
		return e, fmt.Errorf("creating ReplicationSource %s/%s: %w", ns, name, err)
	}
	return wait(fmt.Sprintf("copying the data with ReplicationSource %s/%s", ns, name))
}

// cleanupVolumes deletes what the volume path made for vols, on both clusters, leaving the
// destination PVCs. It is idempotent: a restart in the middle does it again.
func (run *migrationRun) cleanupVolumes(ctx context.Context, vols []volsyncv1alpha1.MigrationVolumeInfo) error {
	claims := make([]volumeClaim, 0, len(vols))
	for _, v := range vols {
		claims = append(claims, volumeClaim{namespace: v.Namespace, name: v.PersistentVolumeClaim})
	}
	if err := run.cleanupSource(ctx, claims); err != nil {
		return err
	}
	return run.cleanupDestination(ctx, claims)
}

// volumeClaim is a source PVC the volume path may have made objects for.
type volumeClaim struct{ namespace, name string }

// cleanupSource deletes, on this cluster, the ReplicationSources and key Secrets of claims, and
// any other this Migration made (found by volsyncv1alpha1.MigrationUIDLabel). Deleting a ReplicationSource stops
// its mover: its Job and the clone it reads are its children.
func (run *migrationRun) cleanupSource(ctx context.Context, claims []volumeClaim) error {
	mine := run.m.Namespace + "/" + run.m.Name
	for _, v := range claims {
		legacyName, legacyKey := legacyVolumeNames(v.name)
		for _, name := range []string{volumeObjectName(run.m.Name, v.name), legacyName} {
			if err := run.deleteMine(ctx, run.r.APIReader, run.r.Client, &volsyncv1alpha1.ReplicationSource{}, v.namespace, name, mine); err != nil {
				return fmt.Errorf("deleting ReplicationSource %s/%s: %w", v.namespace, name, err)
			}
		}
		for _, key := range []string{volumeKeyName(run.m.Name, v.name), legacyKey} {
			if err := run.deleteMine(ctx, run.r.APIReader, run.r.Client, &corev1.Secret{}, v.namespace, key, mine); err != nil {
				return fmt.Errorf("deleting Secret %s/%s: %w", v.namespace, key, err)
			}
		}
	}
	if run.m.UID == "" {
		return nil
	}
	sel := client.MatchingLabels{volsyncv1alpha1.MigrationUIDLabel: string(run.m.UID)}
	for _, ns := range run.namespaces() {
		var sources volsyncv1alpha1.ReplicationSourceList
		if err := run.r.APIReader.List(ctx, &sources, client.InNamespace(ns), sel); err != nil {
			return fmt.Errorf("listing the ReplicationSources of migration %s in namespace %s: %w", run.m.Name, ns, err)
		}
		for i := range sources.Items {
			if err := run.deleteMine(ctx, run.r.APIReader, run.r.Client, &volsyncv1alpha1.ReplicationSource{}, ns, sources.Items[i].Name, mine); err != nil {
				return fmt.Errorf("deleting ReplicationSource %s/%s: %w", ns, sources.Items[i].Name, err)
			}
		}
		var secrets metav1.PartialObjectMetadataList
		secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := run.r.APIReader.List(ctx, &secrets, client.InNamespace(ns), sel); err != nil {
			return fmt.Errorf("listing the key Secrets of migration %s in namespace %s: %w", run.m.Name, ns, err)
		}
		for i := range secrets.Items {
			if err := run.deleteMine(ctx, run.r.APIReader, run.r.Client, &corev1.Secret{}, ns, secrets.Items[i].Name, mine); err != nil {
				return fmt.Errorf("deleting Secret %s/%s: %w", ns, secrets.Items[i].Name, err)
			}
		}
	}
	return nil
}

// cleanupDestination deletes the ReplicationDestinations of claims on the destination; what the
// destination's movers made for them (the Service, the Job, the key Secret) is their children.
func (run *migrationRun) cleanupDestination(ctx context.Context, claims []volumeClaim) error {
	mine := run.m.Namespace + "/" + run.m.Name
	for _, v := range claims {
		legacyName, _ := legacyVolumeNames(v.name)
		dns := run.mapping.Destination(v.namespace)
		for _, name := range []string{volumeObjectName(run.m.Name, v.name), legacyName} {
			rd := &unstructured.Unstructured{}
			rd.SetGroupVersionKind(rdKind)
			if err := run.deleteMine(ctx, run.dst, run.dst, rd, dns, name, mine); err != nil {
				if meta.IsNoMatchError(err) {
					return nil // the destination does not serve ReplicationDestinations: none was made
				}
				return remote.Classify(err, run.dest.Config.Host, "deleting ReplicationDestination "+dns+"/"+name)
			}
		}
	}
	return nil
}

// deleteMine deletes the object if it exists and this Migration made it.
func (run *migrationRun) deleteMine(ctx context.Context, r client.Reader, w client.Writer, obj client.Object, ns, name, mine string) error {
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if obj.GetAnnotations()[volsyncv1alpha1.MigrationAnnotation] != mine {
		return nil
	}
	uid := obj.GetUID()
	return client.IgnoreNotFound(w.Delete(ctx, obj, client.Preconditions{UID: &uid}))
}

// applyDestination applies obj on the destination, with the destination's failures classified.
func (run *migrationRun) applyDestination(ctx context.Context, obj *unstructured.Unstructured, what string) error {
	err := run.dst.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership)
	switch {
	case err == nil:
		return nil
	case refusedObject(err):
		return fmt.Errorf("the destination refused %s: %w", what, err)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return remote.Classify(err, run.dest.Config.Host, "applying "+what)
	}
}

// applySource applies obj on this cluster.
func (run *migrationRun) applySource(ctx context.Context, obj client.Object) error {
	u, err := toApply(obj)
	if err != nil {
		return err
	}
	return run.r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// refusedOr makes a refusal of the destination the volume's failure and returns anything else.
func refusedOr(e volsyncv1alpha1.MigrationVolumeInfo, err error) (volsyncv1alpha1.MigrationVolumeInfo, error) {
	var re *remote.Error
	if errors.As(err, &re) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return e, err
	}
	e.Status, e.Reason = volsyncv1alpha1.RunStatusFailed, shorten(err.Error())
	return e, nil
}

// toApply is obj as an apply configuration: no status, no server-set metadata.
func toApply(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// volumeObjectMeta is the metadata of an object the volume path makes: it names this Migration
// and its UID, as annotations and as a label to find it by.
func (run *migrationRun) volumeObjectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: ns, Name: name,
		Labels: map[string]string{volsyncv1alpha1.MigrationUIDLabel: string(run.m.UID)},
		Annotations: map[string]string{
			volsyncv1alpha1.MigrationAnnotation:    run.m.Namespace + "/" + run.m.Name,
			volsyncv1alpha1.MigrationUIDAnnotation: string(run.m.UID),
		},
	}
}

// movedBytes is what the mover reported moving.
func movedBytes(st *volsyncv1alpha1.ReplicationStatus) int64 {
	if st.Progress == nil {
		return 0
	}
	return max(st.Progress.BytesDone, 0)
}

// moverMessage is the mover's own account of a failure: the tail of its log, else the
// Synchronizing condition's message.
func moverMessage(st *volsyncv1alpha1.ReplicationStatus) string {
	if st.LatestMoverStatus != nil && strings.TrimSpace(st.LatestMoverStatus.Logs) != "" {
		return strings.TrimSpace(st.LatestMoverStatus.Logs)
	}
	if c := meta.FindStatusCondition(st.Conditions, volsyncv1alpha1.ConditionSynchronizing); c != nil {
		return c.Message
	}
	return "no message"
}

// VolumeObjectName is the name of the ReplicationSource (on the source) and ReplicationDestination
// (on the destination) that move PVC pvc for the Migration named migration.
func VolumeObjectName(migration, pvc string) string { return volumeObjectName(migration, pvc) }

// VolumeKeyName is the name of the key Secret copied to the source for PVC pvc of the Migration
// named migration.
func VolumeKeyName(migration, pvc string) string { return volumeKeyName(migration, pvc) }
