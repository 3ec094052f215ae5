package copier

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

const sourceID = "6f1e7a52-1c55-4b8e-9a57-3f0c7e3c1d2a"

// sourceMeta is metadata as the source API server returns it: everything the server fills in.
func sourceMeta(name string) metav1.ObjectMeta {
	ts := metav1.Unix(1700000000, 0)
	return metav1.ObjectMeta{
		Name:              name,
		Namespace:         "shop",
		UID:               "0b4c3b52-7f0e-4c1e-8b9e-5a7e2f0c1d11",
		ResourceVersion:   "4711",
		Generation:        3,
		CreationTimestamp: ts,
		SelfLink:          "/api/v1/namespaces/shop/things/" + name,
		Labels:            map[string]string{"app": "shop"},
		Annotations: map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"X"}`,
			"team": "payments",
		},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "parent", UID: "u"}},
		Finalizers:      []string{"example.com/cleanup"},
		ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
	}
}

func toUnstructured(t *testing.T, obj runtime.Object, kind string) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	k := kindNamed(t, kind)
	u.SetGroupVersionKind(k.GroupVersionKind())
	return u
}

func kindNamed(t *testing.T, name string) Kind {
	t.Helper()
	for _, k := range Kinds() {
		if k.Kind == name {
			return k
		}
	}
	t.Fatalf("no kind %s", name)
	return Kind{}
}

// field reads a nested field of a prepared object; found is false when it is absent.
func field(u *unstructured.Unstructured, path ...string) (any, bool) {
	v, found, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
	return v, found
}

func TestPrepareStripsWhatBelongsToTheSource(t *testing.T) {
	replicas := ptr.To[int32](3)
	tests := []struct {
		name   string
		obj    runtime.Object
		kind   string
		opts   Options
		absent [][]string
		want   map[string]any // dotted path -> value
	}{
		{
			name: "a ConfigMap loses uid, resourceVersion, generation, timestamps, managedFields, owners, finalizers and the last-applied annotation",
			obj:  &corev1.ConfigMap{ObjectMeta: sourceMeta("settings"), Data: map[string]string{"k": "v"}},
			kind: "ConfigMap",
			absent: [][]string{
				{"metadata", "uid"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
				{"metadata", "creationTimestamp"}, {"metadata", "selfLink"}, {"metadata", "managedFields"},
				{"metadata", "ownerReferences"}, {"metadata", "finalizers"},
				{"metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"},
			},
			want: map[string]any{
				"metadata.name": "settings", "metadata.namespace": "shop", "data.k": "v",
				"metadata.labels.app": "shop", "metadata.annotations.team": "payments",
			},
		},
		{
			name: "a Service loses its cluster IPs, node ports, health-check node port, load balancer IP and defaulted IP family",
			obj: &corev1.Service{ObjectMeta: sourceMeta("web"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.0.0.12", ClusterIPs: []string{"10.0.0.12"},
				HealthCheckNodePort: 31999, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, LoadBalancerIP: "192.0.2.10",
				IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}},
			}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}}}},
			kind: "Service",
			absent: [][]string{
				{"spec", "clusterIP"}, {"spec", "clusterIPs"}, {"spec", "healthCheckNodePort"}, {"spec", "loadBalancerIP"}, {"spec", "ipFamilies"}, {"status"},
			},
			want: map[string]any{"spec.type": "LoadBalancer", "spec.externalTrafficPolicy": "Local", "spec.ipFamilyPolicy": "SingleStack"},
		},
		{
			name: "a headless Service keeps clusterIP None, which is what makes it headless",
			obj: &corev1.Service{ObjectMeta: sourceMeta("db"), Spec: corev1.ServiceSpec{
				ClusterIP: "None", ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{{Port: 5432}},
			}},
			kind: "Service",
			want: map[string]any{"spec.clusterIP": "None"},
		},
		{
			name: "a dual-stack Service keeps the families someone asked for",
			obj: &corev1.Service{ObjectMeta: sourceMeta("dual"), Spec: corev1.ServiceSpec{
				ClusterIP: "10.0.0.13", IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack),
				IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			}},
			kind:   "Service",
			absent: [][]string{{"spec", "clusterIP"}},
			want:   map[string]any{"spec.ipFamilyPolicy": "RequireDualStack"},
		},
		{
			name: "a bound PVC loses its volume name, data source and the PV controller's annotations",
			obj: &corev1.PersistentVolumeClaim{
				ObjectMeta: func() metav1.ObjectMeta {
					m := sourceMeta("data")
					m.Annotations["pv.kubernetes.io/bind-completed"] = "yes"
					m.Annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
					m.Annotations["volume.kubernetes.io/selected-node"] = "node-7"
					m.Annotations["volume.kubernetes.io/storage-provisioner"] = "csi.example.com"
					m.Annotations["volume.beta.kubernetes.io/storage-provisioner"] = "csi.example.com"
					m.OwnerReferences = nil
					return m
				}(),
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: ptr.To("fast"),
					VolumeName:       "pvc-0b4c3b52",
					DataSource:       &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"},
					DataSourceRef:    &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "seed"},
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
			},
			kind: "PersistentVolumeClaim",
			absent: [][]string{
				{"spec", "volumeName"}, {"spec", "dataSource"}, {"spec", "dataSourceRef"}, {"status"},
				{"metadata", "annotations", "pv.kubernetes.io/bind-completed"},
				{"metadata", "annotations", "pv.kubernetes.io/bound-by-controller"},
				{"metadata", "annotations", "volume.kubernetes.io/selected-node"},
				{"metadata", "annotations", "volume.kubernetes.io/storage-provisioner"},
				{"metadata", "annotations", "volume.beta.kubernetes.io/storage-provisioner"},
			},
			want: map[string]any{"spec.storageClassName": "fast", "spec.resources.requests.storage": "1Gi"},
		},
		{
			name: "a Deployment with startApplications false is scaled to 0 and keeps 3 in the annotation",
			obj: &appsv1.Deployment{ObjectMeta: sourceMeta("web"), Spec: appsv1.DeploymentSpec{
				Replicas: replicas,
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeName: "node-7"}},
			}, Status: appsv1.DeploymentStatus{ReadyReplicas: 3}},
			kind:   "Deployment",
			opts:   Options{StartApplications: false},
			absent: [][]string{{"spec", "template", "spec", "nodeName"}, {"status"}},
			want: map[string]any{
				"spec.replicas": int64(0),
				"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "3",
			},
		},
		{
			name: "a Deployment with startApplications true keeps its replicas and gets no annotation",
			obj:  &appsv1.Deployment{ObjectMeta: sourceMeta("web"), Spec: appsv1.DeploymentSpec{Replicas: replicas}},
			kind: "Deployment",
			opts: Options{StartApplications: true},
			absent: [][]string{
				{"metadata", "annotations", volsyncv1alpha1.MigrationReplicasAnnotation},
			},
			want: map[string]any{"spec.replicas": int64(3)},
		},
		{
			name: "a Deployment without replicas counts as the API's default of 1",
			obj:  &appsv1.Deployment{ObjectMeta: sourceMeta("web")},
			kind: "Deployment",
			want: map[string]any{
				"spec.replicas": int64(0),
				"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "1",
			},
		},
		{
			name: "a Deployment already stopped on the source keeps the count it was stopped from",
			obj: &appsv1.Deployment{ObjectMeta: func() metav1.ObjectMeta {
				m := sourceMeta("web")
				m.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] = "5"
				return m
			}(), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0)}},
			kind: "Deployment",
			want: map[string]any{
				"spec.replicas": int64(0),
				"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "5",
			},
		},
		{
			name: "a running Deployment overwrites a stale count from an earlier chain",
			obj: &appsv1.Deployment{ObjectMeta: func() metav1.ObjectMeta {
				m := sourceMeta("web")
				m.Annotations[volsyncv1alpha1.MigrationReplicasAnnotation] = "5"
				return m
			}(), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)}},
			kind: "Deployment",
			want: map[string]any{"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "2"},
		},
		{
			name: "a StatefulSet is scaled to 0 and its claim templates lose their status",
			obj: &appsv1.StatefulSet{ObjectMeta: sourceMeta("db"), Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To[int32](2),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
				}},
			}},
			kind: "StatefulSet",
			want: map[string]any{
				"spec.replicas": int64(0),
				"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "2",
			},
		},
		{
			name: "a CronJob with startApplications false is suspended and remembers it was running",
			obj: &batchv1.CronJob{ObjectMeta: sourceMeta("report"), Spec: batchv1.CronJobSpec{
				Schedule: "0 * * * *", Suspend: ptr.To(false),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeName: "n"}}}},
			}},
			kind:   "CronJob",
			absent: [][]string{{"spec", "jobTemplate", "spec", "template", "spec", "nodeName"}},
			want: map[string]any{
				"spec.suspend": true, "spec.schedule": "0 * * * *",
				"metadata.annotations." + volsyncv1alpha1.MigrationSuspendAnnotation: "false",
			},
		},
		{
			name: "a CronJob with startApplications true runs as it does on the source",
			obj: &batchv1.CronJob{ObjectMeta: sourceMeta("report"), Spec: batchv1.CronJobSpec{
				Schedule: "0 * * * *", Suspend: ptr.To(false),
			}},
			kind:   "CronJob",
			opts:   Options{StartApplications: true},
			absent: [][]string{{"metadata", "annotations", volsyncv1alpha1.MigrationSuspendAnnotation}},
			want:   map[string]any{"spec.suspend": false},
		},
		{
			name: "a ServiceAccount drops its generated token Secrets and keeps the ones listed by hand",
			obj: &corev1.ServiceAccount{ObjectMeta: sourceMeta("app"),
				Secrets:          []corev1.ObjectReference{{Name: "app-token-x7k2p"}, {Name: "app-dockercfg-9qz"}, {Name: "registry"}},
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
			},
			kind: "ServiceAccount",
			want: map[string]any{"secrets": []any{map[string]any{"name": "registry"}}},
		},
		{
			name:   "a ServiceAccount with only generated Secrets lists none",
			obj:    &corev1.ServiceAccount{ObjectMeta: sourceMeta("app"), Secrets: []corev1.ObjectReference{{Name: "app-token-x7k2p"}}},
			kind:   "ServiceAccount",
			absent: [][]string{{"secrets"}},
		},
		{
			name:   "a Namespace loses its spec and phase",
			obj:    &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "x", Labels: map[string]string{"team": "a"}}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			kind:   "Namespace",
			absent: [][]string{{"spec"}, {"status"}, {"metadata", "uid"}, {"metadata", "namespace"}},
			want:   map[string]any{"metadata.labels.team": "a"},
		},
		{
			name: "every copy is marked with the source cluster and what copied it",
			obj:  &corev1.ConfigMap{ObjectMeta: sourceMeta("settings")},
			kind: "ConfigMap",
			opts: Options{SourceCluster: sourceID, MigratedBy: "ops/nightly"},
			want: map[string]any{
				"metadata.labels." + volsyncv1alpha1.MigratedFromLabel:         sourceID,
				"metadata.annotations." + volsyncv1alpha1.MigratedByAnnotation: "ops/nightly",
			},
		},
		{
			name: "a copy of a copy is marked with its own source, not the first one",
			obj: &corev1.ConfigMap{ObjectMeta: func() metav1.ObjectMeta {
				m := sourceMeta("settings")
				m.Labels[volsyncv1alpha1.MigratedFromLabel] = "another-cluster"
				return m
			}()},
			kind: "ConfigMap",
			opts: Options{SourceCluster: sourceID},
			want: map[string]any{"metadata.labels." + volsyncv1alpha1.MigratedFromLabel: sourceID},
		},
		{
			name: "an object of a mapped namespace goes to its destination namespace, labelled with the one it came from",
			obj:  &corev1.ConfigMap{ObjectMeta: sourceMeta("settings")},
			kind: "ConfigMap",
			opts: Options{SourceCluster: sourceID, NamespaceMapping: NamespaceMapping{"shop": "shop-dr"}},
			want: map[string]any{
				"metadata.namespace": "shop-dr", "metadata.name": "settings",
				"metadata.labels." + volsyncv1alpha1.MigratedFromNamespaceLabel: "shop", "metadata.labels." + volsyncv1alpha1.MigratedFromLabel: sourceID,
			},
		},
		{
			name:   "an object of a namespace the mapping does not list keeps its namespace and gets no namespace label",
			obj:    &corev1.ConfigMap{ObjectMeta: sourceMeta("settings")},
			kind:   "ConfigMap",
			opts:   Options{NamespaceMapping: NamespaceMapping{"other": "other-dr"}},
			absent: [][]string{{"metadata", "labels", volsyncv1alpha1.MigratedFromNamespaceLabel}},
			want:   map[string]any{"metadata.namespace": "shop"},
		},
		{
			name: "a copy of a renamed copy, migrated under its own name, loses the earlier namespace label",
			obj: &corev1.ConfigMap{ObjectMeta: func() metav1.ObjectMeta {
				m := sourceMeta("settings")
				m.Labels[volsyncv1alpha1.MigratedFromNamespaceLabel] = "first-hop"
				return m
			}()},
			kind:   "ConfigMap",
			absent: [][]string{{"metadata", "labels", volsyncv1alpha1.MigratedFromNamespaceLabel}},
			want:   map[string]any{"metadata.namespace": "shop", "metadata.labels.app": "shop"},
		},
		{
			name: "a mapped Namespace gets its destination name, in the name label too",
			obj: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "u",
				Labels: map[string]string{"kubernetes.io/metadata.name": "shop", "team": "payments"}}},
			kind:   "Namespace",
			opts:   Options{NamespaceMapping: NamespaceMapping{"shop": "shop-dr"}},
			absent: [][]string{{"metadata", "namespace"}, {"metadata", "uid"}},
			want: map[string]any{
				"metadata.name": "shop-dr", "metadata.labels.kubernetes.io/metadata.name": "shop-dr",
				"metadata.labels.team": "payments", "metadata.labels." + volsyncv1alpha1.MigratedFromNamespaceLabel: "shop",
			},
		},
		{
			name: "a RoleBinding's ServiceAccount subjects of mapped namespaces follow their namespace; others stay",
			obj: &rbacv1.RoleBinding{ObjectMeta: sourceMeta("readers"),
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
				Subjects: []rbacv1.Subject{
					{Kind: rbacv1.ServiceAccountKind, Name: "web", Namespace: "shop"},
					{Kind: rbacv1.ServiceAccountKind, Name: "batch", Namespace: "jobs"},
					{Kind: rbacv1.ServiceAccountKind, Name: "monitor", Namespace: "monitoring"},
					{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"},
				}},
			kind: "RoleBinding",
			opts: Options{NamespaceMapping: NamespaceMapping{"shop": "shop-dr", "jobs": "jobs-dr"}},
			want: map[string]any{
				"metadata.namespace": "shop-dr",
				"subjects": []any{
					map[string]any{"kind": "ServiceAccount", "name": "web", "namespace": "shop-dr"},
					map[string]any{"kind": "ServiceAccount", "name": "batch", "namespace": "jobs-dr"},
					map[string]any{"kind": "ServiceAccount", "name": "monitor", "namespace": "monitoring"},
					map[string]any{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
				},
			},
		},
		{
			name: "a ClusterRoleBinding's ServiceAccount subjects of mapped namespaces follow their namespace",
			obj: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "shop-reads-nodes"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-reader"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "web", Namespace: "shop"}}},
			kind:   "ClusterRoleBinding",
			opts:   Options{NamespaceMapping: NamespaceMapping{"shop": "shop-dr"}},
			absent: [][]string{{"metadata", "namespace"}},
			want: map[string]any{
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "web", "namespace": "shop-dr"}},
			},
		},
		{
			name: "an aggregated ClusterRole loses the rules the source's aggregation filled in",
			obj: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"},
				AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"agg": "mon"}}}},
				Rules:           []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}},
			kind:   "ClusterRole",
			absent: [][]string{{"rules"}},
		},
		{
			name: "a plain ClusterRole keeps its rules",
			obj: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "node-reader"},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}}},
			kind: "ClusterRole",
			want: map[string]any{"rules": []any{map[string]any{"verbs": []any{"get"}, "apiGroups": []any{""}, "resources": []any{"nodes"}}}},
		},
		{
			name: "a ReplicaSet with startApplications false is scaled to 0 and keeps its count",
			obj:  &appsv1.ReplicaSet{ObjectMeta: sourceMeta("legacy"), Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2)}},
			kind: "ReplicaSet",
			want: map[string]any{
				"spec.replicas": int64(0),
				"metadata.annotations." + volsyncv1alpha1.MigrationReplicasAnnotation: "2",
			},
		},
		{
			name: "a DaemonSet with startApplications false is kept off every node, beside its own node selector",
			obj: &appsv1.DaemonSet{ObjectMeta: func() metav1.ObjectMeta {
				m := sourceMeta("agent")
				m.Annotations["deprecated.daemonset.template.generation"] = "4"
				return m
			}(), Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: map[string]string{"disk": "ssd"}}}}},
			kind:   "DaemonSet",
			absent: [][]string{{"metadata", "annotations", "deprecated.daemonset.template.generation"}},
			want: map[string]any{"spec.template.spec.nodeSelector": map[string]any{
				"disk": "ssd", volsyncv1alpha1.MigrationStoppedNodeLabel: "true",
			}},
		},
		{
			name:   "a DaemonSet with startApplications true runs where it ran",
			obj:    &appsv1.DaemonSet{ObjectMeta: sourceMeta("agent")},
			kind:   "DaemonSet",
			opts:   Options{StartApplications: true},
			absent: [][]string{{"spec", "template", "spec", "nodeSelector"}},
		},
		{
			name: "a Job loses the selector and Pod labels the source made from its UID, and is suspended",
			obj: &batchv1.Job{ObjectMeta: sourceMeta("migrate-db"), Spec: batchv1.JobSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "u1"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1", "batch.kubernetes.io/job-name": "migrate-db", "app": "db",
				}}},
			}},
			kind:   "Job",
			absent: [][]string{{"spec", "selector"}, {"spec", "template", "metadata", "labels", "controller-uid"}, {"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"}},
			want: map[string]any{
				"spec.suspend": true, "metadata.annotations." + volsyncv1alpha1.MigrationSuspendAnnotation: "false",
				"spec.template.metadata.labels": map[string]any{"batch.kubernetes.io/job-name": "migrate-db", "app": "db"},
			},
		},
		{
			name: "a Job with a selector of its user's keeps it",
			obj: &batchv1.Job{ObjectMeta: sourceMeta("manual"), Spec: batchv1.JobSpec{ManualSelector: ptr.To(true),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"run": "once"}}}},
			kind:   "Job",
			opts:   Options{StartApplications: true},
			want:   map[string]any{"spec.selector": map[string]any{"matchLabels": map[string]any{"run": "once"}}},
			absent: [][]string{{"spec", "suspend"}},
		},
		{
			name: "Endpoints keep their addresses but not the source's nodes and objects",
			obj: &corev1.Endpoints{ObjectMeta: sourceMeta("external-db"), Subsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "192.0.2.7", NodeName: ptr.To("node-1"),
					TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "p", UID: "u"}}},
				Ports: []corev1.EndpointPort{{Port: 5432}},
			}}},
			kind: "Endpoints",
			want: map[string]any{"subsets": []any{map[string]any{
				"addresses": []any{map[string]any{"ip": "192.0.2.7"}},
				"ports":     []any{map[string]any{"port": int64(5432)}},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := toUnstructured(t, tt.obj, tt.kind)
			before := in.DeepCopy()
			got, err := Prepare(in, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in.Object, before.Object) {
				t.Error("Prepare modified its input")
			}
			for _, path := range tt.absent {
				if v, found := field(got, path...); found {
					t.Errorf("%s is still there: %v", strings.Join(path, "."), v)
				}
			}
			for path, want := range tt.want {
				v, found := field(got, splitPath(path)...)
				if !found {
					t.Errorf("%s is missing", path)
					continue
				}
				if !reflect.DeepEqual(v, want) {
					t.Errorf("%s = %#v, want %#v", path, v, want)
				}
			}
			if got.GetKind() != tt.kind {
				t.Errorf("kind = %q, want %q", got.GetKind(), tt.kind)
			}
		})
	}
}

// splitPath splits "metadata.annotations.volsync.backube/x" after the second dot when the path
// goes into labels or annotations, whose keys contain dots.
func splitPath(p string) []string {
	for _, m := range []string{"metadata.annotations.", "metadata.labels."} {
		if strings.HasPrefix(p, m) {
			return []string{"metadata", strings.TrimSuffix(strings.TrimPrefix(m, "metadata."), "."), strings.TrimPrefix(p, m)}
		}
	}
	return strings.Split(p, ".")
}

func TestPrepareKeepsOnlyNameNamespaceLabelsAnnotationsInMetadata(t *testing.T) {
	in := toUnstructured(t, &corev1.ConfigMap{ObjectMeta: sourceMeta("settings")}, "ConfigMap")
	// A field a future API server might add to metadata.
	if err := unstructured.SetNestedField(in.Object, "x", "metadata", "futureField"); err != nil {
		t.Fatal(err)
	}
	dt := metav1.Now()
	in.SetDeletionTimestamp(&dt)
	in.SetDeletionGracePeriodSeconds(ptr.To[int64](30))
	got, err := Prepare(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got.Object["metadata"].(map[string]any) {
		keys = append(keys, k)
	}
	for _, k := range keys {
		switch k {
		case "name", "namespace", "labels", "annotations":
		default:
			t.Errorf("metadata.%s was kept", k)
		}
	}
}

func TestPrepareRefusesASourceIDThatIsNoLabelValue(t *testing.T) {
	in := toUnstructured(t, &corev1.ConfigMap{ObjectMeta: sourceMeta("settings")}, "ConfigMap")
	if _, err := Prepare(in, Options{SourceCluster: "not a label value!"}); err == nil {
		t.Fatal("Prepare accepted a source cluster id with spaces")
	}
}

func TestSkipReason(t *testing.T) {
	controlled := sourceMeta("owned")
	controlled.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Database", Name: "db", UID: "u", Controller: ptr.To(true)}}
	plain := sourceMeta("plain")
	deleting := sourceMeta("leaving")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	tests := []struct {
		name string
		obj  runtime.Object
		kind string
		skip bool
	}{
		{"the cluster's kube-root-ca.crt ConfigMap is skipped", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}}, "ConfigMap", true},
		{"OpenShift's service CA ConfigMap is skipped", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "openshift-service-ca.crt"}}, "ConfigMap", true},
		{"a user's ConfigMap is copied", &corev1.ConfigMap{ObjectMeta: plain}, "ConfigMap", false},
		{"a service account token Secret is skipped", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-token-x"}, Type: corev1.SecretTypeServiceAccountToken}, "Secret", true},
		{"an Opaque Secret is copied", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Type: corev1.SecretTypeOpaque}, "Secret", false},
		{"a TLS Secret is copied", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls"}, Type: corev1.SecretTypeTLS}, "Secret", false},
		{"an object a controller owns is left to that controller", &corev1.ConfigMap{ObjectMeta: controlled}, "ConfigMap", true},
		{"an object with a non-controller owner is copied", &corev1.ConfigMap{ObjectMeta: sourceMeta("loose")}, "ConfigMap", false},
		{"a PVC a StatefulSet owns is still copied: it is the application's data", &corev1.PersistentVolumeClaim{ObjectMeta: controlled}, "PersistentVolumeClaim", false},
		{"an object being deleted on the source is skipped", &corev1.ConfigMap{ObjectMeta: deleting}, "ConfigMap", true},
		{"an object annotated skip-resource is skipped", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local-only",
			Annotations: map[string]string{"volsync.backube/skip-resource": "true"}}}, "ConfigMap", true},
		{"skip-resource other than true copies", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept",
			Annotations: map[string]string{"volsync.backube/skip-resource": "false"}}}, "ConfigMap", false},
		{"the default namespace's kubernetes Service is skipped", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}}, "Service", true},
		{"a Service named kubernetes elsewhere is copied", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "app"}}, "Service", false},
		{"the default namespace's kubernetes Endpoints are skipped", &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}}, "Endpoints", true},
		{"a built-in ClusterRole is skipped", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view",
			Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}}}, "ClusterRole", true},
		{"a ClusterRoleBinding named system: is skipped", &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:auth-delegator-x"}}, "ClusterRoleBinding", true},
		{"an application's ClusterRole is copied", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "shop-node-reader"}}, "ClusterRole", false},
		{"a ReplicaSet nothing controls is copied", &appsv1.ReplicaSet{ObjectMeta: plain}, "ReplicaSet", false},
		{"a ReplicaSet a Deployment controls is left to the Deployment", &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u", Controller: ptr.To(true)}}}}, "ReplicaSet", true},
		{"a Job a CronJob controls is left to the CronJob", &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "report-2890",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "report", UID: "u", Controller: ptr.To(true)}}}}, "Job", true},
		{"a Job nothing controls is copied", &batchv1.Job{ObjectMeta: plain}, "Job", false},
		{"a mover's temporary PVC is skipped", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "volsync-src-x",
			Labels: map[string]string{"volsync.backube/cleanup": "some-uid"}}}, "PersistentVolumeClaim", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason := SkipReason(toUnstructured(t, tt.obj, tt.kind))
			if (reason != "") != tt.skip {
				t.Errorf("SkipReason = %q, want skip=%v", reason, tt.skip)
			}
		})
	}
}

func TestSelectKinds(t *testing.T) {
	tests := []struct {
		name        string
		exclude     []string
		without     []string
		unknown     []string
		wantAllElse bool
	}{
		{"nothing excluded copies every kind but the optional Job", nil, nil, nil, true},
		{"a kind name excludes it", []string{"Secret"}, []string{"Secret"}, nil, true},
		{"the plural resource excludes it", []string{"secrets"}, []string{"Secret"}, nil, true},
		{"case does not matter", []string{"SECRET", "configMap"}, []string{"Secret", "ConfigMap"}, nil, true},
		{"a resource with its group excludes it", []string{"deployments.apps"}, []string{"Deployment"}, nil, true},
		{"a kind with its group excludes it", []string{"StatefulSet.apps"}, []string{"StatefulSet"}, nil, true},
		{"kubectl's short names exclude it", []string{"pvc", "netpol", "sa"}, []string{"PersistentVolumeClaim", "NetworkPolicy", "ServiceAccount"}, nil, true},
		{"a typo is reported, not ignored", []string{"Secrte"}, nil, []string{"Secrte"}, true},
		{"the wrong group matches nothing", []string{"deployments.extensions"}, nil, []string{"deployments.extensions"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unknown := SelectKinds(tt.exclude, nil, nil)
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("unknown = %v, want %v", unknown, tt.unknown)
			}
			names := map[string]bool{}
			for _, k := range got {
				names[k.Kind] = true
			}
			for _, w := range tt.without {
				if names[w] {
					t.Errorf("%s was not excluded", w)
				}
			}
			if names["Job"] {
				t.Error("Job was selected without includeOptionalResourceTypes")
			}
			if want := len(Kinds()) - len(tt.without) - 1; len(got) != want {
				t.Errorf("%d kinds selected, want %d", len(got), want)
			}
		})
	}
}

func TestSelectKindsOptionalAndCustom(t *testing.T) {
	widget := Kind{Group: "example.com", Version: "v1", Kind: "Widget", Resource: "widgets", Namespaced: true, Definition: "widgets.example.com"}
	tests := []struct {
		name    string
		exclude []string
		include []string
		want    map[string]bool // kind -> selected
		unknown []string
	}{
		{"Job is copied only when includeOptionalResourceTypes names it", nil, []string{"Job"},
			map[string]bool{"Job": true, "Widget": true}, nil},
		{"includeOptionalResourceTypes takes the resource name too", nil, []string{"jobs"},
			map[string]bool{"Job": true}, nil},
		{"excludeResourceTypes wins over includeOptionalResourceTypes", []string{"Job"}, []string{"Job"},
			map[string]bool{"Job": false}, nil},
		{"a custom kind is copied by default", nil, nil,
			map[string]bool{"Widget": true, "Job": false}, nil},
		{"excludeResourceTypes leaves out a custom kind by its resource and group", []string{"widgets.example.com"}, nil,
			map[string]bool{"Widget": false}, nil},
		{"a kind that is not optional is reported as no optional type", nil, []string{"Deployment"},
			map[string]bool{"Deployment": true}, []string{"Deployment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unknown := SelectKinds(tt.exclude, tt.include, []Kind{widget})
			unknown = append(unknown, UnknownOptional(tt.include)...)
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("unknown = %v, want %v", unknown, tt.unknown)
			}
			for kind, want := range tt.want {
				if has := slices.ContainsFunc(got, func(k Kind) bool { return k.Kind == kind }); has != want {
					t.Errorf("%s selected = %v, want %v", kind, has, want)
				}
			}
			if got[len(got)-1].Kind != "Widget" && slices.ContainsFunc(got, func(k Kind) bool { return k.Kind == "Widget" }) {
				t.Errorf("custom kinds must come last: %v", got)
			}
		})
	}
}

func TestKindOrder(t *testing.T) {
	index := map[string]int{}
	for i, k := range Kinds() {
		index[k.Kind] = i
	}
	before := []struct{ first, then, why string }{
		{"Namespace", "ServiceAccount", "everything lives in the namespace"},
		{"ResourceQuota", "Deployment", "quotas constrain what is created after them"},
		{"ServiceAccount", "Deployment", "Pods run as their account"},
		{"Secret", "Deployment", "Pods mount Secrets"},
		{"ConfigMap", "StatefulSet", "Pods mount ConfigMaps"},
		{"Role", "RoleBinding", "a binding names its role"},
		{"RoleBinding", "Deployment", "Pods start with their permissions"},
		{"NetworkPolicy", "Deployment", "Pods are never reachable without isolation"},
		{"PersistentVolumeClaim", "StatefulSet", "Pods claim their volumes"},
		{"Service", "Deployment", "Pods get the environment of existing Services"},
		{"Deployment", "HorizontalPodAutoscaler", "an autoscaler targets a workload"},
		{"Service", "Ingress", "an Ingress routes to a Service"},
		{"ClusterRole", "ClusterRoleBinding", "a binding names its role"},
		{"ClusterRoleBinding", "DaemonSet", "Pods start with their permissions"},
		{"Service", "Endpoints", "Endpoints belong to their Service"},
		{"Endpoints", "Deployment", "Pods get the environment of existing Services"},
		{"ConfigMap", "Job", "Pods mount ConfigMaps"},
	}
	for _, b := range before {
		if index[b.first] >= index[b.then] {
			t.Errorf("%s is applied after %s, but %s", b.first, b.then, b.why)
		}
	}
	if !Kinds()[0].IsNamespace() || Kinds()[0].Namespaced {
		t.Error("the Namespace must come first")
	}
	for _, k := range Kinds() {
		if !k.Namespaced && !k.IsNamespace() && k.Group != rbacGroup {
			t.Errorf("%s is cluster-scoped; only the Namespace and cluster RBAC may be", k)
		}
	}
}

func TestStale(t *testing.T) {
	tests := []struct {
		name        string
		destination []string
		source      []string
		want        []string
	}{
		{"an object gone from the source is stale", []string{"a", "b"}, []string{"a"}, []string{"b"}},
		{"nothing is stale when the source has everything", []string{"a"}, []string{"a", "c"}, nil},
		{"an empty destination has nothing stale", nil, []string{"a"}, nil},
		{"stale names come sorted", []string{"z", "m", "a"}, nil, []string{"a", "m", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Stale(tt.destination, tt.source); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Stale = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPurgeSelector(t *testing.T) {
	tests := []struct {
		name        string
		renamedFrom string
		selectors   map[string]string
		want        string
	}{
		{"a namespace that keeps its name purges this source's copies that no mapping renamed", "", map[string]string{"app": "shop"},
			"app=shop," + volsyncv1alpha1.MigratedFromLabel + "=" + sourceID + ",!" + volsyncv1alpha1.MigratedFromNamespaceLabel},
		{"a renamed namespace purges only the copies renamed from it", "shop", nil,
			volsyncv1alpha1.MigratedFromLabel + "=" + sourceID + "," + volsyncv1alpha1.MigratedFromNamespaceLabel + "=shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := PurgeSelector(sourceID, tt.renamedFrom, tt.selectors)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("PurgeSelector = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	if _, err := Selector(map[string]string{"app": "not valid!"}); err == nil || !strings.Contains(err.Error(), "spec.selectors") {
		t.Errorf("an invalid selector value gave %v, want an error naming spec.selectors", err)
	}
	if s, err := Selector(nil); err != nil || !s.Empty() {
		t.Errorf("no selectors gave %v, %v; want the empty selector", s, err)
	}
}

// cidrPolicy is a NetworkPolicy with an ipBlock among its ingress sources, or else its egress
// destinations.
func cidrPolicy(ingress bool) *networkingv1.NetworkPolicy {
	peer := []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.20.0.0/16"}}}
	np := &networkingv1.NetworkPolicy{ObjectMeta: sourceMeta("office")}
	if ingress {
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: peer}}
	} else {
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: peer}}
	}
	return np
}

func TestSelectionSkipReason(t *testing.T) {
	controlled := sourceMeta("owned")
	controlled.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Database", Name: "db", UID: "u", Controller: ptr.To(true)}}
	labelled := func(name string, l map[string]string) metav1.ObjectMeta {
		m := sourceMeta(name)
		m.Labels = l
		return m
	}
	exclude := map[string]string{"backup": "skip", "tier": "cache"}
	tests := []struct {
		name string
		sel  Selection
		obj  runtime.Object
		kind string
		want string
	}{
		{"an object with an excluded label and value is left out", Selection{Exclude: exclude},
			&corev1.ConfigMap{ObjectMeta: labelled("c", map[string]string{"backup": "skip"})}, "ConfigMap",
			"it has the label backup=skip, which spec.excludeSelectors leaves out"},
		{"an object with any one of several excluded labels is left out", Selection{Exclude: exclude},
			&corev1.ConfigMap{ObjectMeta: labelled("c", map[string]string{"tier": "cache", "app": "web"})}, "ConfigMap",
			"it has the label tier=cache, which spec.excludeSelectors leaves out"},
		{"an object with two excluded labels always names the first in key order", Selection{Exclude: exclude},
			&corev1.ConfigMap{ObjectMeta: labelled("c", map[string]string{"tier": "cache", "backup": "skip"})}, "ConfigMap",
			"it has the label backup=skip, which spec.excludeSelectors leaves out"},
		{"an object with an excluded key but another value is copied", Selection{Exclude: exclude},
			&corev1.ConfigMap{ObjectMeta: labelled("c", map[string]string{"tier": "front"})}, "ConfigMap", ""},
		{"an object without labels is copied", Selection{Exclude: exclude},
			&corev1.ConfigMap{ObjectMeta: sourceMeta("c")}, "ConfigMap", ""},
		{"an excluded PVC is left out, so its data is not moved either", Selection{Exclude: exclude},
			&corev1.PersistentVolumeClaim{ObjectMeta: labelled("data", map[string]string{"backup": "skip"})}, "PersistentVolumeClaim",
			"it has the label backup=skip, which spec.excludeSelectors leaves out"},
		{"an object a controller owns is left out by default", Selection{},
			&corev1.ConfigMap{ObjectMeta: controlled}, "ConfigMap", "it is controlled by Database db, which makes it"},
		{"an object a controller owns is copied with ignoreOwnerReferencesCheck", Selection{IgnoreOwnerReferences: true},
			&corev1.ConfigMap{ObjectMeta: controlled}, "ConfigMap", ""},
		{"ignoreOwnerReferencesCheck still skips a service account token", Selection{IgnoreOwnerReferences: true},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Type: corev1.SecretTypeServiceAccountToken}, "Secret",
			"it is a service account token signed by the source cluster"},
		{"a ReplicaSet a Deployment controls is left out even with ignoreOwnerReferencesCheck", Selection{IgnoreOwnerReferences: true},
			&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u", Controller: ptr.To(true)}}}}, "ReplicaSet",
			"it is made by Deployment web, which is copied"},
		{"a NetworkPolicy with an ipBlock among its ingress sources is left out by default", Selection{},
			cidrPolicy(true), "NetworkPolicy",
			"it names an ipBlock, an address range of the source's network; spec.includeNetworkPolicyWithCIDR copies it"},
		{"a NetworkPolicy with an ipBlock among its egress destinations is left out by default", Selection{},
			cidrPolicy(false), "NetworkPolicy",
			"it names an ipBlock, an address range of the source's network; spec.includeNetworkPolicyWithCIDR copies it"},
		{"a NetworkPolicy with an ipBlock is copied with includeNetworkPolicyWithCIDR", Selection{IncludeNetworkPolicyWithCIDR: true},
			cidrPolicy(true), "NetworkPolicy", ""},
		{"a NetworkPolicy of pod selectors only is copied", Selection{},
			&networkingv1.NetworkPolicy{ObjectMeta: sourceMeta("same-app"), Spec: networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}}},
			"NetworkPolicy", ""},
		{"excludeSelectors win over ignoreOwnerReferencesCheck", Selection{Exclude: exclude, IgnoreOwnerReferences: true},
			&corev1.ConfigMap{ObjectMeta: func() metav1.ObjectMeta { m := controlled; m.Labels = map[string]string{"backup": "skip"}; return m }()}, "ConfigMap",
			"it has the label backup=skip, which spec.excludeSelectors leaves out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sel.SkipReason(toUnstructured(t, tt.obj, tt.kind)); got != tt.want {
				t.Errorf("SkipReason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNamespaces(t *testing.T) {
	tests := []struct {
		name             string
		listed, labelled []string
		want             []string
	}{
		{"listed namespaces keep their order and lose repeats", []string{"web", "db", "web"}, nil, []string{"web", "db"}},
		{"namespaces chosen by label follow, in name order", []string{"web"}, []string{"zeta", "alpha"}, []string{"web", "alpha", "zeta"}},
		{"a namespace both listed and chosen by label is migrated once, where it is listed", []string{"db", "web"}, []string{"web", "cache"}, []string{"db", "web", "cache"}},
		{"with no labelled namespaces only the listed ones are migrated", []string{"app"}, []string{}, []string{"app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Namespaces(tt.listed, tt.labelled); !slices.Equal(got, tt.want) {
				t.Errorf("Namespaces = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSelectionSpecChecks(t *testing.T) {
	if err := CheckExcludeSelectors(map[string]string{"app": "not a value"}); err == nil || !strings.Contains(err.Error(), "spec.excludeSelectors") {
		t.Errorf("an invalid exclude selector: err %v, want one naming spec.excludeSelectors", err)
	}
	if err := CheckExcludeSelectors(nil); err != nil {
		t.Errorf("no exclude selectors: %v", err)
	}
	if err := CheckNamespaceSelectors(nil); err != nil {
		t.Errorf("no namespace selectors: %v", err)
	}
	if err := CheckNamespaceSelectors(map[string]string{"team": "a b"}); err == nil || !strings.Contains(err.Error(), "spec.namespaceSelectors") {
		t.Errorf("an invalid namespace selector: err %v, want one naming spec.namespaceSelectors", err)
	}
}

func TestNamespaceSelectorsChooseANamespaceWithAnyOfTheirLabels(t *testing.T) {
	selectors := map[string]string{"tier": "gold", "team": "shop"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"a namespace with every label is chosen", map[string]string{"tier": "gold", "team": "shop"}, true},
		{"a namespace with one of the labels is chosen, as Stork merges the namespaces of each label", map[string]string{"team": "shop"}, true},
		{"a namespace whose label has another value is not chosen", map[string]string{"tier": "silver"}, false},
		{"a namespace without labels is not chosen", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChosenByNamespaceSelectors(tc.labels, selectors); got != tc.want {
				t.Errorf("chosen = %v, want %v", got, tc.want)
			}
		})
	}
	if ChosenByNamespaceSelectors(map[string]string{"tier": "gold"}, nil) {
		t.Error("no selectors chose a namespace")
	}
}
