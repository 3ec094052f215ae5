package rclone

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
const MoverName = "rclone"

// Builder makes rclone Movers. Register one with mover.Register at start-up.
type Builder struct {
	job.Settings
}

var _ mover.Builder = (*Builder)(nil)

// VersionInfo names the mover and its image.
func (b *Builder) VersionInfo() string { return b.Describe(MoverName) }

// checkRemote says what is missing for rclone to reach its remote.
func checkRemote(config, section, path *string) error {
	for _, f := range []struct {
		v    *string
		name string
	}{{config, "rcloneConfig (the Secret holding rclone.conf)"}, {section, "rcloneConfigSection"}, {path, "rcloneDestPath"}} {
		if f.v == nil || *f.v == "" {
			return fmt.Errorf("rclone.%s is required", f.name)
		}
	}
	return nil
}

// FromSource builds the Mover of a source with an rclone block.
func (b *Builder) FromSource(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (mover.Mover, error) {
	spec := source.Spec.Rclone
	if spec == nil {
		return nil, nil
	}
	if err := checkRemote(spec.RcloneConfig, spec.RcloneConfigSection, spec.RcloneDestPath); err != nil {
		return nil, err
	}
	return newUploadMover(b, c, recorder, source, privileged), nil
}

// FromDestination builds the Mover of a destination with an rclone block.
func (b *Builder) FromDestination(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	destination *volsyncv1alpha1.ReplicationDestination, privileged bool) (mover.Mover, error) {
	spec := destination.Spec.Rclone
	if spec == nil {
		return nil, nil
	}
	if err := checkRemote(spec.RcloneConfig, spec.RcloneConfigSection, spec.RcloneDestPath); err != nil {
		return nil, err
	}
	return newDownloadMover(b, c, recorder, destination, privileged), nil
}
