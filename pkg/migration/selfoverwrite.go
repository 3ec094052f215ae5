package migration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// A ClusterPair may reach the cluster volsyncd runs on: that is how a namespace is copied next to
// itself (app to app-dr, with spec.namespaceMapping). The same pair with a namespace left under
// its own name would write every object onto itself, and, with startApplications false, scale
// the source application to zero. So before its first write a run asks the destination for the
// UID of each namespace it will write into and refuses when one is the UID of one of its source
// namespaces here. UIDs are unique across clusters: equal UIDs are one namespace of one cluster,
// whatever address or user the pair reaches it with, and no cluster identity (the kube-system
// UID, a server address, a CA) has to be compared, nor read with permissions the run does not
// otherwise need.

// selfOverwrites finds the namespaces the run would write onto its own sources.
func (run *migrationRun) selfOverwrites(ctx context.Context) ([]copier.SelfOverwrite, error) {
	if !boolOr(run.m.Spec.IncludeResources, true) && !boolOr(run.m.Spec.IncludeVolumes, true) {
		return nil, nil // nothing is written
	}
	sourceUIDs := map[string]types.UID{}
	for _, ns := range run.namespaces() {
		var obj corev1.Namespace
		if err := run.r.APIReader.Get(ctx, client.ObjectKey{Name: ns}, &obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue // nothing to overwrite; the stages say it is missing
			}
			return nil, fmt.Errorf("reading namespace %s on the source: %w", ns, err)
		}
		sourceUIDs[ns] = obj.UID
	}
	destinationUIDs := map[string]types.UID{}
	for _, ns := range run.namespaces() {
		d := run.mapping.Destination(ns)
		if _, isSource := sourceUIDs[d]; !isSource {
			continue // not a namespace of this run's source, wherever the destination is
		}
		ns, err := run.destinationNamespace(ctx, d)
		if err != nil {
			return nil, err
		}
		destinationUIDs[d] = ns.uid
	}
	return copier.SelfOverwrites(run.namespaces(), run.mapping, sourceUIDs, destinationUIDs), nil
}

// destinationNamespaceInfo is what a run reads of a namespace on the destination before it writes.
type destinationNamespaceInfo struct {
	// uid is "" when the namespace does not exist there, or cannot be read.
	uid types.UID
	// annotations, among them the activation.
	annotations map[string]string
}

// destinationNamespace reads namespace name on the destination. A destination user that may not
// read namespaces is asked instead for a server-side dry-run apply of it, which needs only the
// create and patch the run was checked for, changes nothing, and answers with the namespace as
// stored. A user allowed neither (one confined to the namespace's objects, with the Namespace
// kind excluded and no volumes) leaves the question open: the namespace is taken as unknown and
// the run goes on, as it did before these checks existed, with a line in the log.
func (run *migrationRun) destinationNamespace(ctx context.Context, name string) (destinationNamespaceInfo, error) {
	var ns corev1.Namespace
	err := run.dst.Get(ctx, client.ObjectKey{Name: name}, &ns)
	switch {
	case err == nil:
		return destinationNamespaceInfo{uid: ns.UID, annotations: ns.Annotations}, nil
	case apierrors.IsNotFound(err):
		return destinationNamespaceInfo{}, nil
	case !apierrors.IsForbidden(err):
		return destinationNamespaceInfo{}, remote.Classify(err, run.dest.Config.Host, "reading namespace "+name)
	}
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	probe.SetName(name)
	err = run.dst.Apply(ctx, client.ApplyConfigurationFromUnstructured(probe), client.FieldOwner(FieldOwner), client.DryRunAll)
	switch {
	case err == nil:
		return destinationNamespaceInfo{uid: probe.GetUID(), annotations: probe.GetAnnotations()}, nil
	case refusedObject(err):
		log.FromContext(ctx).Info("cannot read a destination namespace: the destination user may neither read nor apply it",
			"namespace", name, "error", err.Error())
		return destinationNamespaceInfo{}, nil
	default:
		return destinationNamespaceInfo{}, remote.Classify(err, run.dest.Config.Host, "applying namespace "+name+" (dry run)")
	}
}
