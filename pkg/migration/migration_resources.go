package migration

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

const (
	// listPageSize bounds one list request on either cluster.
	listPageSize = 500
	// maxReasonLength keeps one resource's failure reason readable and the status small.
	maxReasonLength = 400
	// namespaceMissing is the reason of a namespace that is not on the source.
	namespaceMissing = "the namespace does not exist on the source cluster"
)

// migrateResources is the Applications stage: every selected kind in copier's order, each kind
// checkpointed into the status as soon as it is done. A kind that already has entries in the
// status was done by an earlier pass (before volsyncd restarted) and is not done again; a kind
// cut off in the middle has no entries and is done whole, which is harmless because applying is
// idempotent. Then the purge, if asked for.
func (run *migrationRun) migrateResources(ctx context.Context) error {
	present, err := run.sourceNamespaces(ctx)
	if err != nil {
		return err
	}
	for _, kind := range run.kinds {
		if run.kindDone(kind) {
			continue
		}
		var entries []volsyncv1alpha1.MigrationResourceInfo
		switch {
		case kind.IsNamespace():
			entries, err = run.copyNamespaces(ctx, kind, present)
		case !kind.Namespaced:
			entries, err = run.copyClusterRBAC(ctx, kind, present)
		default:
			var objs []*unstructured.Unstructured
			if objs, err = run.listKind(ctx, kind, present); err != nil {
				break
			}
			entries, err = run.copyObjects(ctx, kind, objs)
		}
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			continue
		}
		recordResources(&run.m.Status, entries, volsyncv1alpha1.MaxListedResources)
		run.setCompleted(metav1.ConditionFalse, string(volsyncv1alpha1.RunStatusInProgress), run.progress())
		if err := run.checkpoint(ctx); err != nil {
			return err
		}
	}
	if boolOr(run.m.Spec.PurgeDeletedResources, false) {
		return run.purge(ctx, present)
	}
	return nil
}

// kindDone says whether an earlier pass recorded kind.
func (run *migrationRun) kindDone(kind copier.Kind) bool {
	return kindRecorded(&run.m.Status, kind.Group, kind.Kind)
}

// sourceNamespaces reads the migrated namespaces from the source; a missing one maps to nil.
func (run *migrationRun) sourceNamespaces(ctx context.Context) (map[string]*unstructured.Unstructured, error) {
	out := map[string]*unstructured.Unstructured{}
	for _, name := range run.namespaces() {
		ns := &unstructured.Unstructured{}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if err := run.r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading namespace %s on the source: %w", name, err)
			}
			ns = nil
		}
		if ns != nil && ns.GetDeletionTimestamp() != nil {
			ns = nil // being deleted: not something to recreate elsewhere
		}
		out[name] = ns
	}
	return out, nil
}

// copyNamespaces applies the Namespace objects. A namespace missing on the source is skipped
// with a NamespaceSkipped Event (spec.skipDeletedNamespaces, the default), or else a failed entry
// that says so (most often a typo in spec.namespaces).
func (run *migrationRun) copyNamespaces(ctx context.Context, kind copier.Kind, present map[string]*unstructured.Unstructured) ([]volsyncv1alpha1.MigrationResourceInfo, error) {
	var objs []*unstructured.Unstructured
	var missing []volsyncv1alpha1.MigrationResourceInfo
	var skipped []string
	for _, name := range run.namespaces() {
		if present[name] == nil && boolOr(run.m.Spec.SkipDeletedNamespaces, true) {
			skipped = append(skipped, name)
			continue
		}
		if present[name] == nil {
			missing = append(missing, volsyncv1alpha1.MigrationResourceInfo{
				Version: kind.Version, Kind: kind.Kind, Name: name, DestinationNamespace: run.destinationOf(name),
				Status: volsyncv1alpha1.RunStatusFailed, Reason: namespaceMissing,
			})
			continue
		}
		objs = append(objs, present[name])
	}
	if len(skipped) > 0 {
		run.event(corev1.EventTypeWarning, ReasonNamespaceSkipped,
			"namespace(s) %s do not exist on the source cluster and were skipped (spec.skipDeletedNamespaces); set it to false to fail the run instead",
			quoteAll(skipped))
	}
	applied, err := run.applyAll(ctx, kind, objs)
	if err != nil {
		return nil, err
	}
	return append(applied, missing...), nil
}

// listKind lists what of one namespaced kind is copied, in every migrated namespace present on
// the source.
func (run *migrationRun) listKind(ctx context.Context, kind copier.Kind, present map[string]*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, ns := range run.namespaces() {
		if present[ns] == nil {
			continue
		}
		got, err := run.listKindIn(ctx, kind, ns)
		if err != nil {
			return nil, err
		}
		objs = append(objs, got...)
	}
	return objs, nil
}

// listKindIn lists what of one kind in one namespace is copied.
func (run *migrationRun) listKindIn(ctx context.Context, kind copier.Kind, ns string) ([]*unstructured.Unstructured, error) {
	items, err := listAll(ctx, run.r.APIReader, kind, ns, run.selector)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil // the source does not serve this kind, so it has none
		}
		return nil, fmt.Errorf("listing %s in namespace %s on the source: %w", kind, ns, err)
	}
	var selectorless map[string]bool
	if kind.Group == "" && kind.Kind == "Endpoints" && len(items) > 0 {
		services, err := listAll(ctx, run.r.APIReader, copier.Kind{Version: "v1", Kind: "Service"}, ns, nil)
		if err != nil {
			return nil, fmt.Errorf("listing the Services in namespace %s on the source: %w", ns, err)
		}
		selectorless = copier.SelectorlessServices(services)
	}
	var objs []*unstructured.Unstructured
	for i := range items {
		obj := &items[i]
		obj.SetGroupVersionKind(kind.GroupVersionKind())
		reason := run.selection.SkipReason(obj)
		if reason == "" && selectorless != nil {
			reason = copier.EndpointsSkipReason(obj.GetName(), selectorless)
		}
		if reason != "" {
			log.FromContext(ctx).V(1).Info("not copied", "kind", kind.Kind, "namespace", ns, "name", obj.GetName(), "because", reason)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// copyObjects applies objs of kind; those of a custom kind only once its definition is on the
// destination, as the source has it.
func (run *migrationRun) copyObjects(ctx context.Context, kind copier.Kind, objs []*unstructured.Unstructured) ([]volsyncv1alpha1.MigrationResourceInfo, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	if kind.Definition == "" {
		return run.applyAll(ctx, kind, objs)
	}
	definition, problem, err := run.ensureDefinition(ctx, kind)
	if err != nil {
		return nil, err
	}
	var entries []volsyncv1alpha1.MigrationResourceInfo
	if definition != nil {
		entries = append(entries, *definition)
	}
	if problem == "" {
		applied, err := run.applyAll(ctx, kind, objs)
		return append(entries, applied...), err
	}
	for _, obj := range objs {
		entry := run.entryFor(kind, obj)
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten(problem)
		entries = append(entries, entry)
	}
	return entries, nil
}

// listAll lists every object of kind in ns that sel selects, a page at a time.
func listAll(ctx context.Context, r client.Reader, kind copier.Kind, ns string, sel labels.Selector) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	cont := ""
	for {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(kind.GroupVersionKind().GroupVersion().WithKind(kind.Kind + "List"))
		opts := []client.ListOption{client.InNamespace(ns), client.Limit(listPageSize), client.Continue(cont)}
		if sel != nil && !sel.Empty() {
			opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
		}
		if err := r.List(ctx, list, opts...); err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if cont = list.GetContinue(); cont == "" {
			return out, nil
		}
	}
}

// applyAll prepares and applies objs on the destination, Parallelism at a time, and says how
// each went. An object the destination refuses for itself (invalid, forbidden by a quota, an
// immutable field changed) is a failed entry with the destination's words; a failure of the
// destination (timeout, unavailable, credentials revoked) stops the kind and is returned as a
// *remote.Error for the retry path, since every other object would fail the same way.
func (run *migrationRun) applyAll(ctx context.Context, kind copier.Kind, objs []*unstructured.Unstructured) ([]volsyncv1alpha1.MigrationResourceInfo, error) {
	results := make([]volsyncv1alpha1.MigrationResourceInfo, len(objs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		transient error
		wg        sync.WaitGroup
		next      = make(chan int)
	)
	for range min(run.r.Parallelism, len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				entry, err := run.applyOne(ctx, kind, objs[i])
				results[i] = entry
				if err != nil {
					mu.Lock()
					if transient == nil {
						transient = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range objs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if transient != nil {
		return nil, transient
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// applyOne applies one object. It returns an error only for a failure of the destination itself.
func (run *migrationRun) applyOne(ctx context.Context, kind copier.Kind, obj *unstructured.Unstructured) (volsyncv1alpha1.MigrationResourceInfo, error) {
	entry := run.entryFor(kind, obj)
	prepared, err := copier.Prepare(obj, run.opts)
	if err != nil {
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten(err.Error())
		return entry, nil
	}
	if skip, err := run.leftAlone(ctx, kind, obj, prepared); err != nil || skip != "" {
		entry.Reason = skip
		return entry, err
	}
	err = run.dst.Apply(ctx, client.ApplyConfigurationFromUnstructured(prepared), client.FieldOwner(FieldOwner), client.ForceOwnership)
	switch {
	case err == nil:
		return entry, nil
	case refusedObject(err):
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten("the destination refused it: "+err.Error())
		return entry, nil
	case ctx.Err() != nil:
		return entry, ctx.Err()
	default:
		return entry, remote.Classify(err, run.dest.Config.Host, fmt.Sprintf("applying %s %s", kind.Kind, objectName(prepared.GetNamespace(), prepared.GetName())))
	}
}

// entryFor is the status entry of obj, as copied.
func (run *migrationRun) entryFor(kind copier.Kind, obj *unstructured.Unstructured) volsyncv1alpha1.MigrationResourceInfo {
	entry := volsyncv1alpha1.MigrationResourceInfo{
		Group: kind.Group, Version: kind.Version, Kind: kind.Kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(),
		Status: volsyncv1alpha1.RunStatusSuccessful,
	}
	switch {
	case kind.Namespaced:
		entry.DestinationNamespace = run.destinationOf(obj.GetNamespace())
	case kind.IsNamespace():
		entry.DestinationNamespace = run.destinationOf(obj.GetName())
	}
	return entry
}

// leftAlone says why an object is not applied although it is copied, or "" when it is applied:
//   - a Service that exists on the destination, with spec.skipServiceUpdate;
//   - a cluster-scoped object that is, on the destination, the very object it is read from (a
//     pair that reaches this cluster, with namespaceMapping): applying it would change the source.
func (run *migrationRun) leftAlone(ctx context.Context, kind copier.Kind, obj, prepared *unstructured.Unstructured) (string, error) {
	sameCluster := !kind.Namespaced && !kind.IsNamespace()
	skipService := kind.Group == "" && kind.Kind == "Service" && boolOr(run.m.Spec.SkipServiceUpdate, false)
	if !sameCluster && !skipService {
		return "", nil
	}
	there := &metav1.PartialObjectMetadata{}
	there.SetGroupVersionKind(kind.GroupVersionKind())
	err := run.dst.Get(ctx, client.ObjectKey{Namespace: prepared.GetNamespace(), Name: prepared.GetName()}, there)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil && refusedObject(err):
		return "", nil // the apply says what is wrong, in the destination's words
	case err != nil:
		return "", remote.Classify(err, run.dest.Config.Host, fmt.Sprintf("reading %s %s", kind.Kind, objectName(prepared.GetNamespace(), prepared.GetName())))
	case sameCluster && there.UID == obj.GetUID():
		return "it is this very object: the destination is the source cluster", nil
	case skipService:
		return "it exists on the destination, and spec.skipServiceUpdate leaves it as it is there", nil
	}
	return "", nil
}

// refusedObject says whether the destination refused this object for something about the object
// (or its place there), as opposed to failing as a whole.
func refusedObject(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsRequestEntityTooLargeError(err) ||
		apierrors.IsNotAcceptable(err) || apierrors.IsUnsupportedMediaType(err) || meta.IsNoMatchError(err)
}

// purge deletes, on the destination, the copies this source made earlier in the run's scope
// (its kinds, its namespaces, its selectors) whose originals are gone from the source. Each
// namespace is compared with its destination namespace (spec.namespaceMapping). Namespaces
// missing on the source are left alone: a typo in spec.namespaces must never empty a namespace
// on the recovery cluster. Each delete carries the copy's UID as a precondition, so an object
// recreated on the destination meanwhile is not deleted.
func (run *migrationRun) purge(ctx context.Context, present map[string]*unstructured.Unstructured) error {
	var deleted []string
	for _, kind := range run.kinds {
		if !kind.Namespaced {
			continue // namespaces are never purged
		}
		for _, ns := range run.namespaces() {
			if present[ns] == nil {
				continue
			}
			dns := run.mapping.Destination(ns)
			renamedFrom := ""
			if run.mapping.Renamed(ns) {
				renamedFrom = ns
			}
			destSel, err := copier.PurgeSelector(run.clusterID, renamedFrom, run.m.Spec.Selectors)
			if err != nil {
				return err
			}
			dest, err := listMetadata(ctx, run.dst, kind, dns, destSel)
			if err != nil {
				if meta.IsNoMatchError(err) {
					continue
				}
				return remote.Classify(err, run.dest.Config.Host, fmt.Sprintf("listing %s in namespace %s", kind, dns))
			}
			if len(dest) == 0 {
				continue
			}
			source, err := listMetadata(ctx, run.r.APIReader, kind, ns, run.selector)
			if err != nil {
				return fmt.Errorf("listing %s in namespace %s on the source: %w", kind, ns, err)
			}
			uids := map[string]string{}
			destNames := make([]string, 0, len(dest))
			for _, d := range dest {
				destNames = append(destNames, d.Name)
				uids[d.Name] = string(d.UID)
			}
			sourceNames := make([]string, 0, len(source))
			for _, s := range source {
				sourceNames = append(sourceNames, s.Name)
			}
			for _, name := range copier.Stale(destNames, sourceNames) {
				obj := &metav1.PartialObjectMetadata{}
				obj.SetGroupVersionKind(kind.GroupVersionKind())
				obj.SetNamespace(dns)
				obj.SetName(name)
				uid := types.UID(uids[name])
				err := run.dst.Delete(ctx, obj, client.Preconditions{UID: &uid})
				switch {
				case err == nil:
					deleted = append(deleted, kind.Kind+" "+dns+"/"+name)
				case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
					// Gone already, or replaced by a new object that is not ours to delete.
				case refusedObject(err):
					replaceResource(&run.m.Status, volsyncv1alpha1.MigrationResourceInfo{
						Group: kind.Group, Version: kind.Version, Kind: kind.Kind, Namespace: ns, Name: name,
						DestinationNamespace: run.destinationOf(ns),
						Status:               volsyncv1alpha1.RunStatusFailed,
						Reason:               shorten("it is gone from the source, but deleting the copy on the destination failed: " + err.Error()),
					}, volsyncv1alpha1.MaxListedResources)
				default:
					return remote.Classify(err, run.dest.Config.Host, fmt.Sprintf("deleting %s %s/%s", kind.Kind, dns, name))
				}
			}
		}
	}
	if len(deleted) > 0 {
		const shown = 10
		names := deleted
		more := ""
		if len(names) > shown {
			names, more = names[:shown], fmt.Sprintf(" and %d more", len(deleted)-shown)
		}
		run.event(corev1.EventTypeNormal, ReasonPurged, "deleted %d object(s) on the destination that are no longer on the source: %s%s",
			len(deleted), strings.Join(names, ", "), more)
		log.FromContext(ctx).Info("purged copies deleted on the source", "count", len(deleted))
	}
	return nil
}

// listMetadata lists the metadata of every object of kind in ns that sel selects.
func listMetadata(ctx context.Context, r client.Reader, kind copier.Kind, ns string, sel labels.Selector) ([]metav1.PartialObjectMetadata, error) {
	var out []metav1.PartialObjectMetadata
	cont := ""
	for {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(kind.GroupVersionKind().GroupVersion().WithKind(kind.Kind + "List"))
		opts := []client.ListOption{client.InNamespace(ns), client.Limit(listPageSize), client.Continue(cont)}
		if sel != nil && !sel.Empty() {
			opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
		}
		if err := r.List(ctx, list, opts...); err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if cont = list.Continue; cont == "" {
			return out, nil
		}
	}
}

func shorten(s string) string {
	if len(s) <= maxReasonLength {
		return s
	}
	return s[:maxReasonLength-3] + "..."
}
