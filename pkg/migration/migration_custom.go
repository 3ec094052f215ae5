package migration

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// Custom resources are found on the source by its CustomResourceDefinitions. Their definition is
// created on the destination when it is missing there, and never changed once it is there: a
// definition belongs to the operator that installed it, and another version of it on the
// destination is that operator's business. So a definition that differs fails its custom
// resources, each with the reason, and an Event names it.

// definitionWait bounds how long a run waits for a definition it created to be served.
const definitionWait = 30 * time.Second

// selectKinds sets the kinds the run copies, with the custom kinds found on the source when
// withCustom (reading the definitions costs a list of every CRD, so only the passes that copy
// resources, or check the spec, pay it). It returns the names in the spec that match no kind.
func (run *migrationRun) selectKinds(ctx context.Context, withCustom bool) ([]string, error) {
	var custom []copier.Kind
	if withCustom && boolOr(run.m.Spec.IncludeResources, true) {
		var err error
		if custom, err = run.customKinds(ctx); err != nil {
			return nil, err
		}
	}
	var unknown []string
	run.kinds, unknown = copier.SelectKinds(run.m.Spec.ExcludeResourceTypes, run.m.Spec.IncludeOptionalResourceTypes, custom)
	return unknown, nil
}

// customKinds reads the source's CustomResourceDefinitions and keeps them for ensureDefinition.
func (run *migrationRun) customKinds(ctx context.Context) ([]copier.Kind, error) {
	items, err := listAll(ctx, run.r.APIReader, copier.DefinitionKind, "", nil)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing the CustomResourceDefinitions on the source: %w", err)
	}
	run.definitions = make(map[string]*unstructured.Unstructured, len(items))
	for i := range items {
		run.definitions[items[i].GetName()] = &items[i]
	}
	return copier.CustomKinds(items), nil
}

// customOnly are the custom kinds among the run's kinds.
func (run *migrationRun) customOnly() []copier.Kind {
	var out []copier.Kind
	for _, k := range run.kinds {
		if k.Definition != "" {
			out = append(out, k)
		}
	}
	return out
}

// optionalKinds are the kinds only includeOptionalResourceTypes copies.
func optionalKinds() []copier.Kind {
	var out []copier.Kind
	for _, k := range copier.Kinds() {
		if k.Optional {
			out = append(out, k)
		}
	}
	return out
}

// ensureDefinition makes sure the destination has kind's CustomResourceDefinition as the source
// has it. It returns the definition's status entry when there is one to record (created, or
// failed), and, when the custom resources cannot be applied, the reason each of them fails with.
// An error is a failure of the destination itself.
func (run *migrationRun) ensureDefinition(ctx context.Context, kind copier.Kind) (*volsyncv1alpha1.MigrationResourceInfo, string, error) {
	name := kind.Definition
	source := run.definitions[name]
	entry := &volsyncv1alpha1.MigrationResourceInfo{
		Group: copier.DefinitionKind.Group, Version: copier.DefinitionKind.Version, Kind: copier.DefinitionKind.Kind,
		Name: name, Status: volsyncv1alpha1.RunStatusSuccessful,
	}
	failed := func(reason, problem string) (*volsyncv1alpha1.MigrationResourceInfo, string, error) {
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten(reason)
		return entry, problem, nil
	}
	if source == nil {
		return failed("it is gone from the source", fmt.Sprintf("its CustomResourceDefinition %s is gone from the source", name))
	}
	there := &unstructured.Unstructured{}
	there.SetGroupVersionKind(copier.DefinitionKind.GroupVersionKind())
	err := run.dst.Get(ctx, client.ObjectKey{Name: name}, there)
	switch {
	case apierrors.IsNotFound(err):
		return run.createDefinition(ctx, kind, source, entry)
	case err != nil && refusedObject(err):
		return failed("the destination refused to show it: "+err.Error(),
			fmt.Sprintf("its CustomResourceDefinition %s could not be read on the destination: %v", name, err))
	case err != nil:
		return nil, "", remote.Classify(err, run.dest.Config.Host, "reading CustomResourceDefinition "+name)
	}
	if there.GetUID() == source.GetUID() {
		return nil, "", nil // the destination is this cluster: it is the same definition
	}
	if diff := copier.DefinitionDifference(source, there); diff != "" {
		run.event(corev1.EventTypeWarning, ReasonDefinitionDiffers,
			"CustomResourceDefinition %s differs on the destination (%s): it was not overwritten, and no %s was copied; "+
				"make the two clusters' definitions agree (the same operator version on both), then migrate again",
			name, diff, kind.Kind)
		return failed("it differs on the destination ("+diff+"), and is not overwritten",
			fmt.Sprintf("its CustomResourceDefinition %s differs on the destination (%s) and is not overwritten", name, diff))
	}
	if problem := run.waitServed(ctx, kind); problem != "" {
		return failed(problem, fmt.Sprintf("its CustomResourceDefinition %s: %s", name, problem))
	}
	return nil, "", nil
}

// createDefinition creates the definition on the destination and waits until it is served.
func (run *migrationRun) createDefinition(ctx context.Context, kind copier.Kind, source *unstructured.Unstructured, entry *volsyncv1alpha1.MigrationResourceInfo) (*volsyncv1alpha1.MigrationResourceInfo, string, error) {
	name := kind.Definition
	prepared, err := copier.Prepare(source, run.opts)
	if err != nil {
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten(err.Error())
		return entry, fmt.Sprintf("its CustomResourceDefinition %s: %v", name, err), nil
	}
	err = run.dst.Create(ctx, prepared, client.FieldOwner(FieldOwner))
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		// Made there meanwhile (by its operator, or by another run): compare with that one.
		return run.ensureDefinition(ctx, kind)
	case refusedObject(err):
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten("the destination refused to create it: "+err.Error())
		return entry, fmt.Sprintf("its CustomResourceDefinition %s could not be created on the destination: %v", name, err), nil
	default:
		return nil, "", remote.Classify(err, run.dest.Config.Host, "creating CustomResourceDefinition "+name)
	}
	if problem := run.waitServed(ctx, kind); problem != "" {
		entry.Status, entry.Reason = volsyncv1alpha1.RunStatusFailed, shorten("it was created, but "+problem)
		return entry, fmt.Sprintf("its CustomResourceDefinition %s was created on the destination, but %s", name, problem), nil
	}
	return entry, "", nil
}

// waitServed waits until the destination serves kind: its definition is established and the
// destination client finds the kind. It returns what is wrong when that does not happen in
// definitionWait. The wait is in real time: it waits on another cluster, not on a schedule.
func (run *migrationRun) waitServed(ctx context.Context, kind copier.Kind) string {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(copier.DefinitionKind.GroupVersionKind())
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, definitionWait, true, func(ctx context.Context) (bool, error) {
		if err := run.dst.Get(ctx, client.ObjectKey{Name: kind.Definition}, crd); err != nil || !copier.Established(crd) {
			return false, nil
		}
		_, err := run.dst.RESTMapper().RESTMapping(kind.GroupVersionKind().GroupKind(), kind.Version)
		return err == nil, nil
	})
	if err != nil {
		return fmt.Sprintf("the destination did not serve %s within %s", kind, definitionWait)
	}
	return ""
}

// copyClusterRBAC copies the ClusterRoleBindings bound to the ServiceAccounts of the migrated
// namespaces, or the ClusterRoles they reference, whichever kind is. A referenced ClusterRole
// comes with its binding whatever spec.selectors say: a binding to a missing role grants nothing.
func (run *migrationRun) copyClusterRBAC(ctx context.Context, kind copier.Kind, present map[string]*unstructured.Unstructured) ([]volsyncv1alpha1.MigrationResourceInfo, error) {
	bindings, err := run.boundBindings(ctx, present)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	switch kind.Kind {
	case "ClusterRoleBinding":
		objs = bindings
	case "ClusterRole":
		for _, name := range copier.BoundClusterRoles(bindings) {
			role := &unstructured.Unstructured{}
			role.SetGroupVersionKind(kind.GroupVersionKind())
			if err := run.r.APIReader.Get(ctx, client.ObjectKey{Name: name}, role); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("reading ClusterRole %s on the source: %w", name, err)
			}
			if run.selection.SkipReason(role) == "" {
				objs = append(objs, role)
			}
		}
	}
	return run.applyAll(ctx, kind, objs)
}

// boundBindings are the source's ClusterRoleBindings, selected by spec.selectors and not
// skipped, that have a ServiceAccount of a migrated namespace among their subjects.
func (run *migrationRun) boundBindings(ctx context.Context, present map[string]*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if run.boundRBAC != nil {
		return run.boundRBAC, nil
	}
	kind := copier.Kind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}
	items, err := listAll(ctx, run.r.APIReader, kind, "", run.selector)
	if err != nil {
		return nil, fmt.Errorf("listing the ClusterRoleBindings on the source: %w", err)
	}
	var namespaces []string
	for _, ns := range run.namespaces() {
		if present[ns] != nil {
			namespaces = append(namespaces, ns)
		}
	}
	out := []*unstructured.Unstructured{}
	for i := range items {
		b := &items[i]
		b.SetGroupVersionKind(kind.GroupVersionKind())
		if copier.BindsServiceAccountIn(b, namespaces) && run.selection.SkipReason(b) == "" {
			out = append(out, b)
		}
	}
	run.boundRBAC = out
	return out, nil
}
