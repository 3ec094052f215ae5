package rsynctls

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// Port is where the destination's stunnel listens, in the container and on the Service.
const Port int32 = 8000

// PSKFile is the key file in the key Secret: "volsync:<64 hex digits>".
const PSKFile = "psk.txt"

// tlsMover is an rsync-tls source or destination.
type tlsMover struct{ job.Flow }

// Name is the mover's name, as metrics and Job names use it.
func (m *tlsMover) Name() string { return MoverName }

// KeySecretName is the key Secret generated for a destination without keySecret.
func KeySecretName(rd string) string { return mover.ObjectName("rsync-tls", rd) }

// ServiceName is the destination's Service.
func ServiceName(rd string) string { return mover.ObjectName("rsync-tls-dst", rd) }

func newSourceMover(b *Builder, c client.Client, rec events.EventRecorder, rs *volsyncv1alpha1.ReplicationSource, privileged bool) mover.Mover {
	spec := rs.Spec.RsyncTLS
	vol := &volume.Source{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rs, Options: spec.ReplicationSourceVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "src", rs.Name)
	port := ptr.Deref(spec.Port, Port)
	if rs.Status.RsyncTLS == nil || ptr.Deref(rs.Status.RsyncTLS.KeySecret, "") != *spec.KeySecret {
		rs.Status.RsyncTLS = &volsyncv1alpha1.ReplicationSourceRsyncTLSStatus{KeySecret: ptr.To(*spec.KeySecret)}
	}
	return &tlsMover{job.Flow{
		Client: c, Owner: rs, Status: &rs.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Volume:         vol.PVC,
		ReadVolume:     vol.Read,
		Direct:         vol.Direct(),
		Clock:          b.Clocked(),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			return job.Spec{
				Owner: rs, Name: mover.ObjectName("rsync-tls-src", rs.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleSource),
				Env: []corev1.EnvVar{
					{Name: "DESTINATION_ADDRESS", Value: *spec.Address},
					{Name: "DESTINATION_PORT", Value: strconv.Itoa(int(port))},
				},
				Volumes: []job.Volume{
					job.DataVolume(pvc, true),
					job.SecretVolume("keys", *spec.KeySecret, job.KeysMountPath, corev1.KeyToPath{Key: PSKFile, Path: PSKFile}),
				},
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rs.Spec.Paused,
			}
		},
		CleanupVolumes: func(ctx context.Context) error { return volume.DeleteTemporaries(ctx, c, rs) },
	}}
}

func newDestinationMover(b *Builder, c client.Client, rec events.EventRecorder, rd *volsyncv1alpha1.ReplicationDestination, privileged bool) mover.Mover {
	spec := rd.Spec.RsyncTLS
	vol := &volume.Destination{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rd, PVCSuffix: "dst", Options: spec.ReplicationDestinationVolumeOptions, VolumeMode: spec.VolumeMode}
	sa := job.ServiceAccountName(spec.MoverConfig, "dst", rd.Name)
	keySecret := KeySecretName(rd.Name)
	if spec.KeySecret != nil && *spec.KeySecret != "" {
		keySecret = *spec.KeySecret
	}
	svcName := ServiceName(rd.Name)
	prepare := func(ctx context.Context) (bool, error) {
		if spec.KeySecret == nil || *spec.KeySecret == "" {
			if _, err := job.EnsureSecret(ctx, c, rd, keySecret, generatePSK); err != nil {
				return false, err
			}
		}
		svc, err := job.EnsureService(ctx, c, rd, job.ServiceSpec{
			Name: svcName, Type: spec.ServiceType, Annotations: spec.ServiceAnnotations, Port: Port, TargetPort: Port,
		})
		if err != nil {
			return false, err
		}
		st := &volsyncv1alpha1.ReplicationDestinationRsyncTLSStatus{KeySecret: ptr.To(keySecret), Port: ptr.To(Port)}
		if addr := job.ServiceAddress(svc); addr != "" {
			st.Address = ptr.To(addr)
		} else {
			job.WarnServiceAddress(b.Clocked().Now(), &rd.Status.ReplicationStatus, svc)
		}
		rd.Status.RsyncTLS = st
		// The Job may start before the address is known; the source needs it, not the Job.
		return true, nil
	}
	return &tlsMover{job.Flow{
		Client: c, Owner: rd, Status: &rd.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Prepare:        prepare,
		Volume:         job.DestinationVolume(vol),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			return job.Spec{
				Owner: rd, Name: mover.ObjectName("rsync-tls-dst", rd.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleDestination),
				Env:     []corev1.EnvVar{{Name: "LISTEN_PORT", Value: strconv.Itoa(int(Port))}, rsync.ReceiveModeEnv(vol.KeepsSnapshots())},
				Ports:   []corev1.ContainerPort{{Name: "rsync-tls", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
				Volumes: []job.Volume{
					job.DataVolume(pvc, false),
					job.SecretVolume("keys", keySecret, job.KeysMountPath, corev1.KeyToPath{Key: PSKFile, Path: PSKFile}),
				},
				PodLabels: map[string]string{job.LabelService: svcName},
				Config:    spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rd.Spec.Paused,
			}
		},
		Image:          vol.Image,
		CleanupVolumes: vol.Cleanup,
	}}
}

// generatePSK makes a fresh pre-shared key in stunnel's identity:key form.
func generatePSK() (map[string][]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating a pre-shared key: %w", err)
	}
	return map[string][]byte{PSKFile: []byte("volsync:" + hex.EncodeToString(key))}, nil
}
