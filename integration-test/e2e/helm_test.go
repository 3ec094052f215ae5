package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The release the Helm scenario installs, in a namespace of its own beside volsync-system (where
// make e2e deploys volsyncd from specs/ with kustomize).
const (
	helmRelease   = "volsync-e2e"
	helmNamespace = "volsync-helm-e2e"
)

// TestHelmInstallUpgradeUninstall installs volsync with its Helm chart as an admin would (`helm
// install --create-namespace -n NS RELEASE helm/volsync`, the CRDs left to specs/ with
// manageCRDs=false), replicates a volume with rsync-tls through the release's volsyncd and checks
// the copy by checksum from a pod that mounts the destination, upgrades the release with a changed
// value and sees it applied, uninstalls it and finds nothing of it left but the CRDs.
//
// Two volsyncd that reconcile the same objects would fight over them (each elects its leader in its
// own namespace), so the kustomize one in volsync-system is scaled to zero for the test and back to
// two replicas afterwards, before the next scenario runs (the scenarios run one at a time).
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	helm := os.Getenv("VOLSYNC_E2E_HELM")
	volsyncdImage := os.Getenv("VOLSYNC_E2E_VOLSYNCD_IMAGE")
	if helm == "" || volsyncdImage == "" {
		t.Fatal("VOLSYNC_E2E_HELM and VOLSYNC_E2E_VOLSYNCD_IMAGE are not set (run make e2e)")
	}
	ctx := context.Background()
	chart := filepath.Join(repoRoot(), "helm", "volsync")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helm, append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("helm %s (%v)", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	scaleKustomizeVolsyncd(t, 0)
	t.Cleanup(func() { scaleKustomizeVolsyncd(t, 2) })
	t.Cleanup(func() {
		// After a failure: the release and its namespace go, whatever state they are in.
		_ = exec.Command(helm, "--kubeconfig", kubeconfigPath, "uninstall", "-n", helmNamespace, helmRelease, "--ignore-not-found", "--wait").Run()
		_ = k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: objectMeta("", helmNamespace)})
	})

	tag := volsyncdImage[strings.LastIndex(volsyncdImage, ":")+1:]
	repo := strings.TrimSuffix(volsyncdImage, ":"+tag)
	run("install", "--create-namespace", "-n", helmNamespace, helmRelease, chart,
		"--set", "manageCRDs=false", "--set", "image.repository="+repo, "--set", "image.tag="+tag,
		"--set", "rsyncTLS.image="+moverImage, "--set", "metrics.dashboard.enabled=true",
		"--wait", "--timeout", "3m")
	waitHelmDeployment(t, 2, nil)

	// One rsync-tls sync through the release's volsyncd, checked from a pod on the destination.
	ns := newNamespace(t, "helm")
	privilegedMovers(t, ns)
	newPVC(t, ns, "source", nil)
	newPVC(t, ns, "copy", nil)
	want := writeTree(t, ns, "source", "helm-first")
	rd := newRsyncTLSDestination(t, ns, "copy", volsyncv1alpha1.ReplicationDestinationVolumeOptions{
		CopyMethod: volsyncv1alpha1.CopyMethodDirect, DestinationPVC: ptr.To("copy"),
	}, volsyncv1alpha1.MoverConfig{})
	rs := rsyncTLSSource(ns, "source", rd, volsyncv1alpha1.CopyMethodDirect, volsyncv1alpha1.MoverConfig{})
	create(t, rs)
	waitManualSync(t, rs, "first")
	waitDestinationSync(t, rd, nil)
	requireMoverImage(t, ns, moverImage)
	// The destination's mover keeps listening with the claim mounted; stop it so that the pod
	// reading the copy is alone on it.
	paused := client.MergeFrom(rd.DeepCopy())
	rd.Spec.Paused = true
	if err := k8s.Patch(ctx, rd, paused); err != nil {
		t.Fatal(err)
	}
	requireSameTree(t, "the destination claim", want, treeSum(t, ns, "copy", "sum-copy"))

	// An upgrade with a changed value: one replica, and a pod label.
	run("upgrade", "-n", helmNamespace, helmRelease, chart, "--reuse-values",
		"--set", "replicaCount=1", "--set", "podLabels.e2e-upgrade=applied", "--wait", "--timeout", "3m")
	waitHelmDeployment(t, 1, map[string]string{"e2e-upgrade": "applied"})
	if out := run("status", "-n", helmNamespace, helmRelease); !strings.Contains(out, "REVISION: 2") {
		t.Errorf("helm status after the upgrade:\n%s", out)
	}

	run("uninstall", "-n", helmNamespace, helmRelease, "--wait", "--timeout", "3m")
	requireNothingLeft(t)
}

// scaleKustomizeVolsyncd sets the replicas of the volsyncd that make e2e deploys from specs/ and
// waits until that many run and are ready (none at all for 0).
func scaleKustomizeVolsyncd(t *testing.T, replicas int32) {
	t.Helper()
	ctx := context.Background()
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "volsync-system", Name: "volsyncd"}, &d); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(replicas)
	if err := k8s.Patch(ctx, &d, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace("volsync-system"), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		if replicas == 0 && len(pods.Items) > 0 {
			return fmt.Errorf("%d volsyncd pods of volsync-system still exist", len(pods.Items))
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(&d), &d); err != nil {
			return err
		}
		if d.Status.ReadyReplicas != replicas || d.Status.UpdatedReplicas != replicas && replicas > 0 {
			return fmt.Errorf("volsync-system/volsyncd has %d ready replicas, want %d", d.Status.ReadyReplicas, replicas)
		}
		return nil
	})
}

// waitHelmDeployment waits until the release's volsyncd runs replicas ready pods, each with labels,
// and no pod of an older ReplicaSet is left.
func waitHelmDeployment(t *testing.T, replicas int32, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 3*time.Minute, func() error {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: helmRelease}, &d); err != nil {
			return err
		}
		if ptr.Deref(d.Spec.Replicas, 0) != replicas || d.Status.ReadyReplicas != replicas || d.Status.Replicas != replicas {
			return fmt.Errorf("deployment %s/%s: %d of %d replicas ready, %d in all; want %d",
				helmNamespace, helmRelease, d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 0), d.Status.Replicas, replicas)
		}
		var pods corev1.PodList
		if err := k8s.List(ctx, &pods, client.InNamespace(helmNamespace), client.MatchingLabels(d.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		if int32(len(pods.Items)) != replicas {
			return fmt.Errorf("%d volsyncd pods in %s, want %d", len(pods.Items), helmNamespace, replicas)
		}
		for _, p := range pods.Items {
			for k, v := range labels {
				if p.Labels[k] != v {
					return fmt.Errorf("pod %s has labels %v, want %s=%s", p.Name, p.Labels, k, v)
				}
			}
		}
		return nil
	})
}

// requireMoverImage checks that the mover pods of ns run image (the chart's rsyncTLS.image, given
// to volsyncd as RELATED_IMAGE_RSYNC_TLS_CONTAINER).
func requireMoverImage(t *testing.T, ns, image string) {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/created-by": "volsync"}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatalf("no mover pods in %s", ns)
	}
	for _, p := range pods.Items {
		if got := p.Spec.Containers[0].Image; got != image {
			t.Errorf("mover pod %s runs %s, want the chart's rsyncTLS.image %s", p.Name, got, image)
		}
	}
}

// requireNothingLeft checks that the uninstalled release left no object of its own: no Deployment,
// ReplicaSet, pod, ServiceAccount (but the namespace's default), Service, ConfigMap (but the
// cluster's CA bundle), Secret (helm's release records included), Role, RoleBinding or
// PodDisruptionBudget in its namespace, no ClusterRole, ClusterRoleBinding or webhook configuration
// of the release (by name or label), and that the volsync CRDs are still there (manageCRDs=false:
// they were never the release's).
func requireNothingLeft(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	in := client.InNamespace(helmNamespace)
	release := client.MatchingLabels{"app.kubernetes.io/instance": helmRelease}
	eventually(t, 2*time.Minute, func() error {
		var left []string
		list := func(group, version, kind string, keep func(name string) bool, opts ...client.ListOption) {
			l := &metav1.PartialObjectMetadataList{}
			l.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
			if err := k8s.List(ctx, l, opts...); err != nil {
				left = append(left, fmt.Sprintf("(listing %s: %v)", kind, err))
				return
			}
			for _, o := range l.Items {
				if keep == nil || !keep(o.Name) {
					left = append(left, kind+"/"+o.Name)
				}
			}
		}
		other := func(n string) bool { return !strings.HasPrefix(n, helmRelease) }
		list("apps", "v1", "Deployment", nil, in)
		list("apps", "v1", "ReplicaSet", nil, in)
		list("", "v1", "Pod", nil, in)
		list("", "v1", "ServiceAccount", func(n string) bool { return n == "default" }, in)
		list("", "v1", "Service", nil, in)
		list("", "v1", "ConfigMap", func(n string) bool { return n == "kube-root-ca.crt" }, in)
		list("", "v1", "Secret", nil, in)
		list("rbac.authorization.k8s.io", "v1", "Role", nil, in)
		list("rbac.authorization.k8s.io", "v1", "RoleBinding", nil, in)
		list("policy", "v1", "PodDisruptionBudget", nil, in)
		for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
			list("rbac.authorization.k8s.io", "v1", kind, other)
			list("rbac.authorization.k8s.io", "v1", kind, nil, release)
		}
		for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
			list("admissionregistration.k8s.io", "v1", kind, other)
			list("admissionregistration.k8s.io", "v1", kind, nil, release)
		}
		if len(left) > 0 {
			return fmt.Errorf("left after helm uninstall: %s", strings.Join(left, ", "))
		}
		return nil
	})
	crds := &metav1.PartialObjectMetadataList{}
	crds.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinitionList"})
	if err := k8s.List(ctx, crds); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range crds.Items {
		if strings.HasSuffix(c.Name, "."+volsyncv1alpha1.GroupVersion.Group) {
			n++
		}
	}
	want, err := filepath.Glob(filepath.Join(repoRoot(), "specs", "crds", "volsync.backube_*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in specs/crds: %v", err)
	}
	if n != len(want) {
		t.Errorf("%d volsync.backube CRDs after uninstall, want the %d of specs/crds", n, len(want))
	}
}
