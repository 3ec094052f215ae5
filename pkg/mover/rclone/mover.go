package rclone

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// ConfigFile is the key of rclone.conf in the config Secret, and its name under /rclone-config.
const ConfigFile = "rclone.conf"

// rcloneMover is an rclone source (upload) or destination (download).
type rcloneMover struct{ job.Flow }

// Name is the mover's name, as metrics and Job names use it.
func (m *rcloneMover) Name() string { return MoverName }

// remoteSpec is what both directions share.
func remoteSpec(config, section, path string, ca *volsyncv1alpha1.CustomCASpec) ([]corev1.EnvVar, []job.Volume) {
	env := []corev1.EnvVar{
		{Name: "RCLONE_CONFIG", Value: job.RcloneConfigMountPath + "/" + ConfigFile},
		{Name: "RCLONE_CONFIG_SECTION", Value: section},
		{Name: "RCLONE_DEST_PATH", Value: path},
	}
	vols := []job.Volume{job.SecretVolume("rclone-config", config, job.RcloneConfigMountPath, corev1.KeyToPath{Key: ConfigFile, Path: ConfigFile})}
	if v, ok := job.CustomCAVolume(ca); ok {
		vols = append(vols, v)
		env = append(env, corev1.EnvVar{Name: "CUSTOM_CA", Value: job.CustomCAFile})
	}
	return env, vols
}

func newUploadMover(b *Builder, c client.Client, rec events.EventRecorder, rs *volsyncv1alpha1.ReplicationSource, privileged bool) mover.Mover {
	spec := rs.Spec.Rclone
	vol := &volume.Source{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rs, Options: spec.ReplicationSourceVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "src", rs.Name)
	return &rcloneMover{job.Flow{
		Client: c, Owner: rs, Status: &rs.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Volume:         vol.PVC,
		ReadVolume:     vol.Read,
		Direct:         vol.Direct(),
		Clock:          b.Clocked(),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			env, vols := remoteSpec(*spec.RcloneConfig, *spec.RcloneConfigSection, *spec.RcloneDestPath, spec.CustomCA)
			return job.Spec{
				Owner: rs, Name: mover.ObjectName("rclone-src", rs.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleSource),
				Env:     env, Volumes: append([]job.Volume{job.DataVolume(pvc, true)}, vols...),
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rs.Spec.Paused,
			}
		},
		CleanupVolumes: func(ctx context.Context) error { return volume.DeleteTemporaries(ctx, c, rs) },
	}}
}

func newDownloadMover(b *Builder, c client.Client, rec events.EventRecorder, rd *volsyncv1alpha1.ReplicationDestination, privileged bool) mover.Mover {
	spec := rd.Spec.Rclone
	vol := &volume.Destination{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rd, PVCSuffix: "dest", Options: spec.ReplicationDestinationVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "dst", rd.Name)
	return &rcloneMover{job.Flow{
		Client: c, Owner: rd, Status: &rd.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Volume:         job.DestinationVolume(vol),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			env, vols := remoteSpec(*spec.RcloneConfig, *spec.RcloneConfigSection, *spec.RcloneDestPath, spec.CustomCA)
			return job.Spec{
				Owner: rd, Name: mover.ObjectName("rclone-dst", rd.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleDestination),
				Env:     env, Volumes: append([]job.Volume{job.DataVolume(pvc, false)}, vols...),
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rd.Spec.Paused,
			}
		},
		Image:          vol.Image,
		CleanupVolumes: vol.Cleanup,
	}}
}
