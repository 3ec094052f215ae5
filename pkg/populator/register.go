package populator

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// VolumePopulatorName names the VolumePopulator (populator.storage.k8s.io) that declares
// ReplicationDestination a volume data source, VolSync's name, so that a cluster moving from
// VolSync keeps one registration.
const VolumePopulatorName = "volsync-replicationdestination"

var volumePopulatorGVK = schema.GroupVersionKind{Group: "populator.storage.k8s.io", Version: "v1beta1", Kind: "VolumePopulator"}

// registration declares ReplicationDestination a volume populator source when the cluster runs
// the volume-data-source-validator (its VolumePopulator CRD is installed): the validator then
// stops warning about claims that name one. Without the CRD there is nothing to do: the API server
// accepts such claims all the same.
type registration struct {
	client client.Client
	mapper meta.RESTMapper
}

// Start creates the VolumePopulator once, on the leader, and returns; an error is logged, not
// fatal, since populating works without it.
func (g *registration) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("volumepopulator")
	if _, err := g.mapper.RESTMapping(volumePopulatorGVK.GroupKind(), volumePopulatorGVK.Version); err != nil {
		logger.V(1).Info("no VolumePopulator CRD in the cluster; not registering ReplicationDestination as a volume populator")
		return nil
	}
	vp := &unstructured.Unstructured{}
	vp.SetGroupVersionKind(volumePopulatorGVK)
	vp.SetName(VolumePopulatorName)
	vp.SetLabels(map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue})
	vp.Object["sourceKind"] = map[string]any{"group": volsyncv1alpha1.GroupVersion.Group, "kind": "ReplicationDestination"}
	err := g.client.Create(ctx, vp)
	if apierrors.IsAlreadyExists(err) {
		existing := &unstructured.Unstructured{}
		existing.SetGroupVersionKind(volumePopulatorGVK)
		if err := g.client.Get(ctx, client.ObjectKey{Name: VolumePopulatorName}, existing); err != nil {
			logger.Error(err, "reading the VolumePopulator")
			return nil
		}
		group, _, _ := unstructured.NestedString(existing.Object, "sourceKind", "group")
		kind, _, _ := unstructured.NestedString(existing.Object, "sourceKind", "kind")
		if group != volsyncv1alpha1.GroupVersion.Group || kind != "ReplicationDestination" {
			logger.Error(fmt.Errorf("VolumePopulator %s declares %s.%s, not ReplicationDestination.%s", VolumePopulatorName, kind, group, volsyncv1alpha1.GroupVersion.Group),
				"not registering ReplicationDestination as a volume populator")
		}
		return nil
	}
	if err != nil {
		logger.Error(err, "registering ReplicationDestination as a volume populator")
		return nil
	}
	logger.Info("registered ReplicationDestination as a volume populator", "volumePopulator", VolumePopulatorName)
	return nil
}
