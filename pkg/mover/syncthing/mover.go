package syncthing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// Ports of the Syncthing container and its Services.
const (
	// APIPort serves Syncthing's REST API (and GUI), over HTTPS, to volsyncd only.
	APIPort int32 = 8384
	// DataPort is where peers connect.
	DataPort int32 = 22000
)

// Where the Syncthing container mounts its volumes.
const (
	ConfigMountPath = "/config"
	CertMountPath   = "/certs"
)

// Keys of the API Secret, as VolSync names them.
const (
	SecretAPIKey   = "apikey"
	SecretUsername = "username"
	SecretPassword = "password"
	SecretCert     = "httpsCertPEM"
	SecretKey      = "httpsKeyPEM"
)

// PollInterval is how often volsyncd reads Syncthing's state while nothing else wakes it: the
// connections it reports change without any Kubernetes object changing.
const PollInterval = 20 * time.Second

// defaultConfigCapacity is the config volume's size when the spec gives none.
const defaultConfigCapacity = "1Gi"

// labelInstance selects the Deployment's pod for both Services.
const labelInstance = "volsync.backube/syncthing"

// The objects of a source, under VolSync's names.
func deploymentName(rs string) string { return mover.LabelName(rs) }
func secretName(rs string) string     { return mover.PVCName(rs) }
func configPVCName(rs string) string  { return mover.PVCName(rs, "config") }
func apiServiceName(rs string) string { return mover.LabelName(rs, "api") }
func dataServiceName(rs string) string {
	return mover.LabelName(rs, "data")
}

// apiServerName is the name the API certificate is issued for and checked against.
func apiServerName(rs *volsyncv1alpha1.ReplicationSource) string {
	return apiServiceName(rs.Name) + "." + rs.Namespace + ".svc"
}

// sourceMover runs one syncthing ReplicationSource.
type sourceMover struct {
	b          *Builder
	c          client.Client
	rec        events.EventRecorder
	rs         *volsyncv1alpha1.ReplicationSource
	privileged bool
}

var _ mover.Mover = (*sourceMover)(nil)

// Name is the mover's name.
func (m *sourceMover) Name() string { return MoverName }

// Continuous marks the mover as one that never completes a sync: volsyncd keeps it running and
// its state current instead of running triggered syncs (see mover.Continuous).
func (m *sourceMover) Continuous() bool { return true }

// Cleanup has nothing to remove between syncs: everything the mover made serves it while the
// source exists, and owner references remove it with the source.
func (m *sourceMover) Cleanup(context.Context) (mover.Result, error) { return mover.Complete(), nil }

// Synchronize makes what Syncthing needs (its account, API Secret, config volume, Deployment and
// two Services), and once its pod is ready, brings its configuration to the spec and publishes
// its state in status.syncthing. It never completes: it asks to be called again after
// PollInterval.
func (m *sourceMover) Synchronize(ctx context.Context) (mover.Result, error) {
	spec := m.rs.Spec.Syncthing
	st := &m.rs.Status.ReplicationStatus
	pulls, err := job.EnsurePullSecrets(ctx, m.c, m.rs, m.b.PullSecrets)
	if err != nil {
		return mover.Result{}, err
	}
	sa := job.ServiceAccountName(spec.MoverConfig, "src", m.rs.Name)
	if err := job.EnsureServiceAccount(ctx, m.c, m.rs, spec.MoverConfig, sa, pulls...); err != nil {
		return mover.Result{}, err
	}
	secret, err := job.EnsureSecret(ctx, m.c, m.rs, secretName(m.rs.Name), func() (map[string][]byte, error) {
		return GenerateAPISecret(apiServerName(m.rs), m.b.Clocked().Now())
	})
	if err != nil {
		return mover.Result{}, err
	}
	src := &volume.Source{Client: m.c, Recorder: m.rec, Clock: m.b.Clocked(), Owner: m.rs,
		Options: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodDirect}}
	data, wait, err := src.PVC(ctx)
	if err != nil || data == nil {
		return mover.RetryAfter(max(wait, time.Second)), err
	}
	config, err := m.ensureConfigPVC(ctx, data)
	if err != nil {
		return mover.Result{}, err
	}
	dep, err := m.ensureDeployment(ctx, data, config, sa, pulls)
	if err != nil {
		return mover.Result{}, err
	}
	selector := map[string]string{labelInstance: dep.Name}
	apiSvc, err := job.EnsureService(ctx, m.c, m.rs, job.ServiceSpec{
		Name: apiServiceName(m.rs.Name), Port: APIPort, TargetPort: APIPort, PortName: "api", Selector: selector,
	})
	if err != nil {
		return mover.Result{}, err
	}
	dataSvc, err := job.EnsureService(ctx, m.c, m.rs, job.ServiceSpec{
		Name: dataServiceName(m.rs.Name), Type: spec.ServiceType, Port: DataPort, TargetPort: DataPort, PortName: "data", Selector: selector,
	})
	if err != nil {
		return mover.Result{}, err
	}
	if m.rs.Spec.Paused {
		return mover.InProgress(), nil
	}
	if ptr.Deref(dep.Spec.Replicas, 1) == 0 || dep.Status.ReadyReplicas == 0 {
		var pods corev1.PodList
		if err := m.c.List(ctx, &pods, client.InNamespace(m.rs.Namespace), client.MatchingLabels(selector)); err != nil {
			return mover.Result{}, fmt.Errorf("listing the pods of deployment %s: %w", dep.Name, err)
		}
		if err := job.StuckContainer(pods.Items, "deployment "+dep.Name); err != nil {
			return mover.RetryAfter(PollInterval), err
		}
		// The Deployment's status changes when the pod is ready, which wakes the controller.
		return mover.InProgress(), nil
	}

	addr := job.ServiceAddress(dataSvc)
	if addr == "" {
		job.WarnServiceAddress(m.b.Clocked().Now(), st, dataSvc)
	}
	api, err := m.b.client(m.rs, apiSvc, secret)
	if err != nil {
		return mover.Result{}, err
	}
	state, err := Configure(ctx, api, Desired{
		Peers: spec.Peers, DataDir: job.DataMountPath, ListenAddress: fmt.Sprintf("tcp://0.0.0.0:%d", DataPort),
		GUIUser: string(secret[SecretUsername]), GUIPassword: string(secret[SecretPassword]),
	})
	if err != nil {
		return mover.RetryAfter(PollInterval), mover.Transient(ReasonSyncthingUnreachable, m.rs, "syncthing in deployment %s: %v", dep.Name, err)
	}
	status := &volsyncv1alpha1.ReplicationSourceSyncthingStatus{ID: state.MyID, Peers: state.Peers}
	if addr != "" {
		status.Address = fmt.Sprintf("tcp://%s:%d", addr, DataPort)
	}
	m.rs.Status.Syncthing = status
	return mover.RetryAfter(PollInterval), nil
}

// ReasonSyncthingUnreachable: volsyncd cannot configure or read Syncthing over its API.
const ReasonSyncthingUnreachable = "SyncthingUnreachable"

// ensureConfigPVC makes the volume that keeps Syncthing's keys (its device ID) and database across
// restarts: of the spec's size, class and access modes, else 1Gi and the source PVC's.
func (m *sourceMover) ensureConfigPVC(ctx context.Context, data *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	spec := m.rs.Spec.Syncthing
	pvc, name, err := volume.OwnedPVC(ctx, m.c, m.rs, configPVCName(m.rs.Name), "")
	if err != nil || pvc != nil {
		return pvc, err
	}
	modes := spec.ConfigAccessModes
	if len(modes) == 0 {
		modes = data.Spec.AccessModes
	}
	class := spec.ConfigStorageClassName
	if class == nil {
		class = data.Spec.StorageClassName
	}
	pvc = &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.rs.Namespace,
			Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      modes,
			StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: volume.Size(spec.ConfigCapacity, defaultConfigCapacity)}},
		},
	}
	if err := controllerutil.SetControllerReference(m.rs, pvc, m.c.Scheme()); err != nil {
		return nil, err
	}
	if err := m.c.Create(ctx, pvc); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating the syncthing config PVC %s: %w", name, err)
	}
	return pvc, nil
}

// ensureDeployment keeps the Deployment that runs Syncthing at one replica (none while paused),
// with the pod the other movers' Jobs would have: the same security context, user volumes,
// labels and pull secrets. Recreate, so two Syncthings never share the volume and config.
func (m *sourceMover) ensureDeployment(ctx context.Context, data, config *corev1.PersistentVolumeClaim, sa string, pulls []corev1.LocalObjectReference) (*appsv1.Deployment, error) {
	spec := m.rs.Spec.Syncthing
	name := deploymentName(m.rs.Name)
	js := job.Spec{
		Owner: m.rs, Name: name, Image: m.b.Image,
		Command: job.Command(MoverName, job.RoleSource),
		Env: []corev1.EnvVar{
			{Name: EnvConfigDir, Value: ConfigMountPath},
			{Name: EnvCertDir, Value: CertMountPath},
			{Name: EnvAPIKey, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secretName(m.rs.Name)}, Key: SecretAPIKey}}},
		},
		Ports: []corev1.ContainerPort{
			{Name: "api", ContainerPort: APIPort, Protocol: corev1.ProtocolTCP},
			{Name: "data", ContainerPort: DataPort, Protocol: corev1.ProtocolTCP},
		},
		Volumes: []job.Volume{
			job.DataVolume(data, false),
			{Volume: corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: config.Name}}}, MountPath: ConfigMountPath},
			job.SecretVolume("certs", secretName(m.rs.Name), CertMountPath,
				corev1.KeyToPath{Key: SecretCert, Path: httpsCertFile}, corev1.KeyToPath{Key: SecretKey, Path: httpsKeyFile}),
		},
		PodLabels: map[string]string{labelInstance: name},
		Config:    spec.MoverConfig, ServiceAccount: sa, Privileged: m.privileged,
	}
	var err error
	if js.ImagePullSecrets, err = job.PodPullSecrets(ctx, m.c, m.rs, spec.MoverConfig, pulls); err != nil {
		return nil, err
	}
	template := job.Build(js).Spec.Template
	template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](10)
	replicas := int32(1)
	if m.rs.Spec.Paused {
		replicas = 0
	}

	hash, err := templateHash(template)
	if err != nil {
		return nil, err
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: m.rs.Namespace}}
	_, err = controllerutil.CreateOrUpdate(ctx, m.c, dep, func() error {
		if !dep.CreationTimestamp.IsZero() && !metav1.IsControlledBy(dep, m.rs) {
			return mover.Transient(mover.ReasonNameConflict, dep,
				"Deployment %s exists but was not created for %s; delete or rename it", name, m.rs.Name)
		}
		dep.Labels = job.Labels(m.rs)
		dep.Spec.Replicas = ptr.To(replicas)
		if dep.Spec.Selector == nil { // immutable once created
			dep.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{labelInstance: name}}
		}
		dep.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		// The API server fills in defaults in a stored template, so comparing templates would
		// always find a difference and update on every pass. A hash of what volsync asked for
		// tells whether the template really changed.
		if dep.Annotations[annotationTemplateHash] != hash {
			dep.Spec.Template = template
			if dep.Annotations == nil {
				dep.Annotations = map[string]string{}
			}
			dep.Annotations[annotationTemplateHash] = hash
		}
		return controllerutil.SetControllerReference(m.rs, dep, m.c.Scheme())
	})
	if err != nil {
		return nil, fmt.Errorf("creating or updating the syncthing deployment %s: %w", name, err)
	}
	return dep, nil
}

// annotationTemplateHash on the Deployment is the hash of the pod template volsync last wrote.
const annotationTemplateHash = "volsync.backube/template-hash"

func templateHash(t corev1.PodTemplateSpec) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// GenerateAPISecret makes the API's key, the GUI's login, and a certificate for the API issued for
// serverName.
func GenerateAPISecret(serverName string, now time.Time) (map[string][]byte, error) {
	key, err := randomString(32)
	if err != nil {
		return nil, err
	}
	password, err := randomString(32)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := selfSignedCert(serverName, now)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		SecretAPIKey: []byte(key), SecretUsername: []byte("syncthing"), SecretPassword: []byte(password),
		SecretCert: certPEM, SecretKey: keyPEM,
	}, nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a syncthing API secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
