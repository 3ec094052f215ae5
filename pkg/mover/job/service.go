package job

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/volume"
)

// LabelService selects a destination mover's pod for its Service.
const LabelService = "volsync.backube/service"

// ServiceSpec is the Service in front of a listening mover.
type ServiceSpec struct {
	Name        string
	Type        *corev1.ServiceType
	Annotations map[string]string
	Port        int32
	TargetPort  int32
	// PortName names the port; "mover" when empty.
	PortName string
	// Selector picks the pods; {LabelService: Name} when nil, which the mover pod then carries.
	Selector map[string]string
}

// EnsureService creates or updates the Service and returns it.
func EnsureService(ctx context.Context, c client.Client, owner client.Object, s ServiceSpec) (*corev1.Service, error) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: owner.GetNamespace()}}
	_, err := controllerutil.CreateOrUpdate(ctx, c, svc, func() error {
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		svc.Labels[volsyncv1alpha1.CreatedByLabel] = volsyncv1alpha1.CreatedByValue
		if len(s.Annotations) > 0 {
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			maps.Copy(svc.Annotations, s.Annotations)
		}
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		if s.Type != nil && *s.Type != "" {
			svc.Spec.Type = *s.Type
		}
		svc.Spec.Selector = map[string]string{LabelService: s.Name}
		if s.Selector != nil {
			svc.Spec.Selector = maps.Clone(s.Selector)
		}
		portName := "mover"
		if s.PortName != "" {
			portName = s.PortName
		}
		port := corev1.ServicePort{Name: portName, Protocol: corev1.ProtocolTCP, Port: s.Port, TargetPort: intstr.FromInt32(s.TargetPort)}
		if len(svc.Spec.Ports) == 1 {
			port.NodePort = svc.Spec.Ports[0].NodePort
		}
		svc.Spec.Ports = []corev1.ServicePort{port}
		return controllerutil.SetControllerReference(owner, svc, c.Scheme())
	})
	if err != nil {
		return nil, fmt.Errorf("creating or updating Service %s: %w", s.Name, err)
	}
	return svc, nil
}

// ServiceAddress is where a Service is reached: its load balancer's address, or its cluster IP.
// Empty until one is assigned.
func ServiceAddress(svc *corev1.Service) string {
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.Hostname != "" {
				return in.Hostname
			}
			if in.IP != "" {
				return in.IP
			}
		}
		return ""
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return ""
	}
	return svc.Spec.ClusterIP
}

// EnsureSecret creates the named Secret with data from generate when it does not exist, and
// returns its data: always what is stored, never what was generated but perhaps not kept. Keys are
// made once and kept. A Secret of that name that this owner does not control is not used.
func EnsureSecret(ctx context.Context, c client.Client, owner client.Object, name string, generate func() (map[string][]byte, error)) (map[string][]byte, error) {
	var s corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: name}, &s)
	if err == nil {
		return ownedSecretData(owner, &s)
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	data, err := generate()
	if err != nil {
		return nil, err
	}
	s = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(owner, &s, c.Scheme()); err != nil {
		return nil, err
	}
	err = c.Create(ctx, &s)
	if err == nil {
		return data, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating Secret %s: %w", name, err)
	}
	// Made by an earlier pass whose write the cache does not show yet (or by someone else): what
	// is stored counts, so read it back; until the cache has it, the pass is retried.
	if err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: name}, &s); err != nil {
		return nil, fmt.Errorf("reading back Secret %s: %w", name, err)
	}
	return ownedSecretData(owner, &s)
}

func ownedSecretData(owner client.Object, s *corev1.Secret) (map[string][]byte, error) {
	if !metav1.IsControlledBy(s, owner) {
		return nil, mover.Transient(mover.ReasonNameConflict, s,
			"Secret %s exists but was not created for %s; delete or rename it", s.Name, owner.GetName())
	}
	return s.Data, nil
}

// ReasonServiceAddressNotAssigned: the mover's Service has no address after ServiceAddressTimeout.
const ReasonServiceAddressNotAssigned = "NoServiceAddressAssigned"

// WarnServiceAddress warns (volume.Warn), once ServiceAddressTimeout has passed since the Service
// was created, that it still has no address.
func WarnServiceAddress(now time.Time, st *volsyncv1alpha1.ReplicationStatus, svc *corev1.Service) {
	if svc.CreationTimestamp.IsZero() || now.Sub(svc.CreationTimestamp.Time) < mover.ServiceAddressTimeout {
		return
	}
	volume.Warn(st, ReasonServiceAddressNotAssigned, fmt.Sprintf(
		"Service %s has no address after %s; for a LoadBalancer, check that the cluster can provide one", svc.Name, mover.ServiceAddressTimeout))
}
