package rsynctls

import (
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
)

// MoverName is the mover's name in metrics, Job names and the mover command line.
const MoverName = "rsync-tls"

// Builder makes rsync-tls Movers. Register one with mover.Register at start-up.
type Builder struct {
	job.Settings
}

var _ mover.Builder = (*Builder)(nil)

// VersionInfo names the mover and its image.
func (b *Builder) VersionInfo() string { return b.Describe(MoverName) }

// FromSource builds the Mover of a source with an rsyncTLS block.
func (b *Builder) FromSource(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (mover.Mover, error) {
	spec := source.Spec.RsyncTLS
	if spec == nil {
		return nil, nil
	}
	if spec.Address == nil || *spec.Address == "" {
		return nil, fmt.Errorf("rsyncTLS.address is required: copy status.rsyncTLS.address from the ReplicationDestination")
	}
	if spec.KeySecret == nil || *spec.KeySecret == "" {
		return nil, fmt.Errorf("rsyncTLS.keySecret is required: copy the Secret named in the ReplicationDestination's status.rsyncTLS.keySecret into this namespace and name it here")
	}
	return newSourceMover(b, c, recorder, source, privileged), nil
}

// FromDestination builds the Mover of a destination with an rsyncTLS block.
func (b *Builder) FromDestination(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (mover.Mover, error) {
	if destination.Spec.RsyncTLS == nil {
		return nil, nil
	}
	return newDestinationMover(b, c, recorder, destination, privileged), nil
}
