package copier

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// PreparePersistentVolume returns the PersistentVolume pv as it is created on the destination of
// a Migration with includeVolumes false, where the storage is shared (or replicated by its
// vendor) and the copy must bind to the same backing volume:
//   - the reclaim policy is Retain, with the source's kept in OriginalReclaimPolicyAnnotation:
//     deleting the copy's claim on the recovery cluster must never delete the volume the source
//     still uses;
//   - claimRef keeps the claim's (mapped) namespace and name only, so the destination's PV
//     controller binds it to the migrated claim of that name and to nothing else; the source's
//     uid and resourceVersion mean nothing there;
//   - status goes, and metadata is cut down as Prepare cuts it.
//
// pv is not modified.
func PreparePersistentVolume(pv *unstructured.Unstructured, opts Options) (*unstructured.Unstructured, error) {
	out, err := Prepare(pv, opts)
	if err != nil {
		return nil, err
	}
	policy, _, _ := unstructured.NestedString(pv.Object, "spec", "persistentVolumeReclaimPolicy")
	if policy == "" {
		policy = string(corev1.PersistentVolumeReclaimDelete) // the API's default for provisioned volumes
	}
	a := out.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	if _, had := a[volsyncv1alpha1.OriginalReclaimPolicyAnnotation]; !had || policy != string(corev1.PersistentVolumeReclaimRetain) {
		// A volume that is itself a copy (already Retain, with the annotation) keeps the policy it
		// was first copied from, as stopReplicas keeps replica counts along a chain of migrations.
		a[volsyncv1alpha1.OriginalReclaimPolicyAnnotation] = policy
	}
	out.SetAnnotations(a)
	if err := unstructured.SetNestedField(out.Object, string(corev1.PersistentVolumeReclaimRetain), "spec", "persistentVolumeReclaimPolicy"); err != nil {
		return nil, err
	}
	ref, found, err := unstructured.NestedMap(pv.Object, "spec", "claimRef")
	if err != nil {
		return nil, fmt.Errorf("PersistentVolume %s: spec.claimRef: %w", pv.GetName(), err)
	}
	if found {
		ns, _, _ := unstructured.NestedString(ref, "namespace")
		name, _, _ := unstructured.NestedString(ref, "name")
		claim := map[string]any{"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": opts.NamespaceMapping.Destination(ns), "name": name}
		if err := unstructured.SetNestedMap(out.Object, claim, "spec", "claimRef"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
