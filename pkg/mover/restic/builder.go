package restic

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
const MoverName = "restic"

// Builder makes restic Movers. Register one with mover.Register at start-up.
type Builder struct {
	job.Settings
}

var _ mover.Builder = (*Builder)(nil)

// VersionInfo names the mover and its image.
func (b *Builder) VersionInfo() string { return b.Describe(MoverName) }

// FromSource builds the Mover of a source with a restic block.
func (b *Builder) FromSource(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (mover.Mover, error) {
	if source.Spec.Restic == nil {
		return nil, nil
	}
	if source.Spec.Restic.Repository == "" {
		return nil, fmt.Errorf("restic.repository is required: name the Secret holding RESTIC_REPOSITORY and RESTIC_PASSWORD")
	}
	return newBackupMover(b, c, recorder, source, privileged), nil
}

// FromDestination builds the Mover of a destination with a restic block.
func (b *Builder) FromDestination(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (mover.Mover, error) {
	if destination.Spec.Restic == nil {
		return nil, nil
	}
	if destination.Spec.Restic.Repository == "" {
		return nil, fmt.Errorf("restic.repository is required: name the Secret holding RESTIC_REPOSITORY and RESTIC_PASSWORD")
	}
	return newRestoreMover(b, c, recorder, destination, privileged), nil
}
