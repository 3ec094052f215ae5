package rsync

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strconv"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// Ports: the Service listens on the ssh port and forwards to the unprivileged sshd in the pod.
const (
	ServicePort   int32 = 22
	ContainerPort int32 = 8022
)

// Key files in the keys Secrets.
const (
	KeySource         = "source"
	KeySourcePub      = "source.pub"
	KeyDestination    = "destination"
	KeyDestinationPub = "destination.pub"
)

// sshMover is an rsync source or destination.
type sshMover struct{ job.Flow }

// Name is the mover's name, as metrics and Job names use it.
func (m *sshMover) Name() string { return MoverName }

// DestinationKeysName is the generated Secret holding all four keys of a relationship; the
// destination mounts it.
func DestinationKeysName(rd string) string { return mover.ObjectName("rsync-dst", rd) }

// SourceKeysName is the generated Secret with what the source needs (its key pair and the
// destination's public key); status.rsync.sshKeys names it.
func SourceKeysName(rd string) string { return mover.ObjectName("rsync-dst-src", rd) }

// ServiceName is the destination's Service.
func ServiceName(rd string) string { return mover.ObjectName("rsync-dst", rd) }

func keyItems(keys ...string) []corev1.KeyToPath {
	out := make([]corev1.KeyToPath, 0, len(keys))
	for _, k := range keys {
		out = append(out, corev1.KeyToPath{Key: k, Path: k})
	}
	return out
}

func newSenderMover(b *Builder, c client.Client, rec events.EventRecorder, rs *volsyncv1alpha1.ReplicationSource, privileged bool) mover.Mover {
	spec := rs.Spec.Rsync
	vol := &volume.Source{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rs, Options: spec.ReplicationSourceVolumeOptions}
	sa := job.ServiceAccountName(spec.MoverConfig, "src", rs.Name)
	port := ptr.Deref(spec.Port, ServicePort)
	rs.Status.Rsync = &volsyncv1alpha1.ReplicationSourceRsyncStatus{SSHKeys: ptr.To(*spec.SSHKeys)}
	return &sshMover{job.Flow{
		Client: c, Owner: rs, Status: &rs.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Volume:         vol.PVC,
		ReadVolume:     vol.Read,
		Direct:         vol.Direct(),
		Clock:          b.Clocked(),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			env := []corev1.EnvVar{
				{Name: "DESTINATION_ADDRESS", Value: *spec.Address},
				{Name: "DESTINATION_PORT", Value: strconv.Itoa(int(port))},
			}
			if spec.SSHUser != nil && *spec.SSHUser != "" {
				env = append(env, corev1.EnvVar{Name: "SSH_USER", Value: *spec.SSHUser})
			}
			return job.Spec{
				Owner: rs, Name: mover.ObjectName("rsync-src", rs.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleSource),
				Env:     env,
				Volumes: []job.Volume{
					job.DataVolume(pvc, true),
					job.SecretVolume("keys", *spec.SSHKeys, job.KeysMountPath, keyItems(KeySource, KeySourcePub, KeyDestinationPub)...),
				},
				Config: spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rs.Spec.Paused,
			}
		},
		CleanupVolumes: func(ctx context.Context) error { return volume.DeleteTemporaries(ctx, c, rs) },
	}}
}

func newReceiverMover(b *Builder, c client.Client, rec events.EventRecorder, rd *volsyncv1alpha1.ReplicationDestination, privileged bool) mover.Mover {
	spec := rd.Spec.Rsync
	vol := &volume.Destination{Client: c, Recorder: rec, Clock: b.Clocked(), Owner: rd, PVCSuffix: "dst", Options: spec.ReplicationDestinationVolumeOptions, VolumeMode: spec.VolumeMode}
	sa := job.ServiceAccountName(spec.MoverConfig, "dst", rd.Name)
	keys, published := DestinationKeysName(rd.Name), SourceKeysName(rd.Name)
	userKeys := spec.SSHKeys != nil && *spec.SSHKeys != ""
	if userKeys {
		keys, published = *spec.SSHKeys, *spec.SSHKeys
	}
	svcName := ServiceName(rd.Name)
	prepare := func(ctx context.Context) (bool, error) {
		if !userKeys {
			if err := ensureKeys(ctx, c, rd, keys, published); err != nil {
				return false, err
			}
		}
		svc, err := job.EnsureService(ctx, c, rd, job.ServiceSpec{
			Name: svcName, Type: spec.ServiceType, Annotations: spec.ServiceAnnotations, Port: ServicePort, TargetPort: ContainerPort,
		})
		if err != nil {
			return false, err
		}
		st := &volsyncv1alpha1.ReplicationDestinationRsyncStatus{SSHKeys: ptr.To(published), Port: ptr.To(ServicePort)}
		if addr := job.ServiceAddress(svc); addr != "" {
			st.Address = ptr.To(addr)
		} else {
			job.WarnServiceAddress(b.Clocked().Now(), &rd.Status.ReplicationStatus, svc)
		}
		rd.Status.Rsync = st
		return true, nil
	}
	return &sshMover{job.Flow{
		Client: c, Owner: rd, Status: &rd.Status.ReplicationStatus, Config: spec.MoverConfig,
		ServiceAccount: sa,
		PullSecrets:    b.PullSecrets,
		Prepare:        prepare,
		Volume:         job.DestinationVolume(vol),
		Spec: func(pvc *corev1.PersistentVolumeClaim) job.Spec {
			return job.Spec{
				Owner: rd, Name: mover.ObjectName("rsync-dst", rd.Name), Image: b.Image,
				Command: job.Command(MoverName, job.RoleDestination),
				Env:     []corev1.EnvVar{{Name: "LISTEN_PORT", Value: strconv.Itoa(int(ContainerPort))}, ReceiveModeEnv(vol.KeepsSnapshots())},
				Ports:   []corev1.ContainerPort{{Name: "ssh", ContainerPort: ContainerPort, Protocol: corev1.ProtocolTCP}},
				Volumes: []job.Volume{
					job.DataVolume(pvc, false),
					job.SecretVolume("keys", keys, job.KeysMountPath, keyItems(KeyDestination, KeyDestinationPub, KeySourcePub)...),
				},
				PodLabels: map[string]string{job.LabelService: svcName},
				Config:    spec.MoverConfig, ServiceAccount: sa, Privileged: privileged, Paused: rd.Spec.Paused,
			}
		},
		Image:          vol.Image,
		CleanupVolumes: vol.Cleanup,
	}}
}

// ensureKeys generates the relationship's two key pairs once: the destination's Secret holds all
// four files, the source's only what the source needs.
func ensureKeys(ctx context.Context, c client.Client, rd *volsyncv1alpha1.ReplicationDestination, keys, published string) error {
	all, err := job.EnsureSecret(ctx, c, rd, keys, GenerateKeys)
	if err != nil {
		return err
	}
	_, err = job.EnsureSecret(ctx, c, rd, published, func() (map[string][]byte, error) {
		var stored corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: rd.Namespace, Name: keys}, &stored); err == nil {
			all = stored.Data
		}
		if len(all[KeySource]) == 0 {
			return nil, fmt.Errorf("Secret %s lacks the %q key", keys, KeySource)
		}
		return map[string][]byte{KeySource: all[KeySource], KeySourcePub: all[KeySourcePub], KeyDestinationPub: all[KeyDestinationPub]}, nil
	})
	return err
}

// GenerateKeys makes a fresh ed25519 key pair for each side, in OpenSSH formats.
func GenerateKeys() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, side := range []string{KeySource, KeyDestination} {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating the %s ssh key: %w", side, err)
		}
		block, err := ssh.MarshalPrivateKey(priv, "volsync-"+side)
		if err != nil {
			return nil, fmt.Errorf("encoding the %s ssh key: %w", side, err)
		}
		sshPub, err := ssh.NewPublicKey(pub)
		if err != nil {
			return nil, err
		}
		out[side] = pem.EncodeToMemory(block)
		out[side+".pub"] = ssh.MarshalAuthorizedKey(sshPub)
	}
	return out, nil
}

// ReceiveModeEnv is the destination mover's RECEIVE_IN_PLACE: true when the destination keeps
// Snapshots, so it receives in place (see ChooseReceiveMode).
func ReceiveModeEnv(inPlace bool) corev1.EnvVar {
	return corev1.EnvVar{Name: "RECEIVE_IN_PLACE", Value: strconv.FormatBool(inPlace)}
}
