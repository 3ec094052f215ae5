// Package chart checks what the Helm chart helm/volsync renders: with its default values, the same
// CRDs, RBAC rules, Deployment, alerts and dashboard as specs/ (the kustomize install); with
// ci/all-values.yaml, each value where it belongs. helm is the pinned one of hack/helm.sh (built on
// first use, or $VOLSYNC_HELM). `make check-chart` checks that the chart's copy of specs/ is fresh
// and lints the chart.
package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	apps "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/volsync/volsync/integration-test/testenv"
)

// helmBinary is the pinned helm: $VOLSYNC_HELM, else the one hack/helm.sh builds into its cache.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VOLSYNC_HELM"); p != "" {
		return p
	}
	out, err := exec.Command("bash", filepath.Join(testenv.RepoRoot(), "hack", "helm.sh")).Output()
	if err != nil {
		t.Fatalf("hack/helm.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return filepath.Join(lines[len(lines)-1], "helm")
}

// object is one rendered manifest: its kind, name and namespace, and its YAML.
type object struct {
	Kind, Name, Namespace string
	Raw                   []byte
}

// render runs helm template on the chart with args and returns its objects by kind/name.
func render(t *testing.T, args ...string) map[string]object {
	t.Helper()
	root := testenv.RepoRoot()
	cmd := exec.Command(helmBinary(t), append([]string{"template", "volsync", filepath.Join(root, "helm", "volsync"), "-n", "volsync-system"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	t.Logf("helm template %v: %d bytes in %v", args, len(out), time.Since(start).Round(time.Millisecond))
	objs := map[string]object{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var meta struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue
		}
		key := meta.Kind + "/" + meta.Metadata.Name
		if _, dup := objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		objs[key] = object{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, Raw: []byte(doc)}
	}
	return objs
}

// get decodes the rendered object kind/name into into, failing when it is missing.
func get(t *testing.T, objs map[string]object, key string, into any) {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		t.Fatalf("%s is not rendered; rendered: %v", key, keys(objs))
	}
	if err := yaml.UnmarshalStrict(o.Raw, into); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}

func keys(objs map[string]object) []string {
	var ks []string
	for k := range objs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// spec decodes a file of specs/ into into.
func spec(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "specs", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("specs/%s: %v", path, err)
	}
}

func requireEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		w, _ := yaml.Marshal(want)
		g, _ := yaml.Marshal(got)
		t.Errorf("%s differs from specs/:\n--- specs:\n%s--- chart:\n%s", what, w, g)
	}
}

// generic is an object decoded without its Go type, for comparing kinds that have none here.
type generic struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
	Data       map[string]any `json:"data,omitempty"`
}

// TestChartDefaultsRenderWhatSpecsInstall: with default values the chart installs what `kubectl
// apply -k specs` does, under the release's names: every CRD with the same spec (and kept on
// uninstall), the same ClusterRole and Role rules, the same volsyncd container, two replicas, the
// PodDisruptionBudget and the metrics Service. Nothing of the Prometheus Operator unless asked.
func TestChartDefaultsRenderWhatSpecsInstall(t *testing.T) {
	objs := render(t)

	crds, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "specs", "crds", "volsync.backube_*.yaml"))
	if len(crds) == 0 {
		t.Fatal("no CRDs in specs/crds")
	}
	for _, f := range crds {
		var want, got generic
		spec(t, filepath.Join("crds", filepath.Base(f)), &want)
		get(t, objs, "CustomResourceDefinition/"+want.Metadata["name"].(string), &got)
		requireEqual(t, "CRD "+want.Metadata["name"].(string), want.Spec, got.Spec)
		if ann, _ := got.Metadata["annotations"].(map[string]any); ann["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall: annotations %v", want.Metadata["name"], ann)
		}
	}
	if n := len(crds); n != countKind(objs, "CustomResourceDefinition") {
		t.Errorf("the chart renders %d CRDs, specs/crds has %d", countKind(objs, "CustomResourceDefinition"), n)
	}

	var wantCR, gotCR rbacv1.ClusterRole
	spec(t, "rbac/role.yaml", &wantCR)
	get(t, objs, "ClusterRole/volsync-manager", &gotCR)
	requireEqual(t, "the ClusterRole's rules", wantCR.Rules, gotCR.Rules)
	var wantRole, gotRole rbacv1.Role
	spec(t, "rbac/leader_election_role.yaml", &wantRole)
	get(t, objs, "Role/volsync-leader-election", &gotRole)
	requireEqual(t, "the leader election Role's rules", wantRole.Rules, gotRole.Rules)
	var crb rbacv1.ClusterRoleBinding
	get(t, objs, "ClusterRoleBinding/volsync-manager", &crb)
	if crb.RoleRef.Name != "volsync-manager" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "volsync" || crb.Subjects[0].Namespace != "volsync-system" {
		t.Errorf("ClusterRoleBinding binds %+v to %+v, want volsync-manager to the ServiceAccount volsync-system/volsync", crb.RoleRef, crb.Subjects)
	}
	get(t, objs, "ServiceAccount/volsync", &corev1.ServiceAccount{})
	get(t, objs, "RoleBinding/volsync-leader-election", &rbacv1.RoleBinding{})

	var wantDep, gotDep apps.Deployment
	spec(t, "manager/deployment.yaml", &wantDep)
	get(t, objs, "Deployment/volsync", &gotDep)
	if *gotDep.Spec.Replicas != 2 || *wantDep.Spec.Replicas != 2 {
		t.Errorf("replicas: chart %d, specs %d, want 2", *gotDep.Spec.Replicas, *wantDep.Spec.Replicas)
	}
	// The names and labels are the release's; the rest of the pod is specs'.
	w, g := wantDep.Spec.Template.Spec, gotDep.Spec.Template.Spec
	if g.ServiceAccountName != "volsync" {
		t.Errorf("the pod runs as %q, want the release's ServiceAccount volsync", g.ServiceAccountName)
	}
	wTerm := w.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	gTerm := g.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(gTerm) != 1 || gTerm[0].Weight != wTerm[0].Weight || gTerm[0].PodAffinityTerm.TopologyKey != wTerm[0].PodAffinityTerm.TopologyKey ||
		!reflect.DeepEqual(gTerm[0].PodAffinityTerm.LabelSelector.MatchLabels, gotDep.Spec.Selector.MatchLabels) {
		t.Errorf("the replicas' anti-affinity %+v is not specs' on the release's pods", gTerm)
	}
	g.ServiceAccountName, g.Affinity = w.ServiceAccountName, w.Affinity
	requireEqual(t, "volsyncd's pod", w, g)
	for k, v := range gotDep.Spec.Selector.MatchLabels {
		if gotDep.Spec.Template.Labels[k] != v {
			t.Errorf("the pod's labels %v miss the selector's %s=%s", gotDep.Spec.Template.Labels, k, v)
		}
	}

	var wantPDB, gotPDB policyv1.PodDisruptionBudget
	spec(t, "manager/poddisruptionbudget.yaml", &wantPDB)
	get(t, objs, "PodDisruptionBudget/volsync", &gotPDB)
	requireEqual(t, "the PodDisruptionBudget's minAvailable", wantPDB.Spec.MinAvailable, gotPDB.Spec.MinAvailable)
	var wantSvc, gotSvc corev1.Service
	spec(t, "manager/metrics_service.yaml", &wantSvc)
	get(t, objs, "Service/volsync-metrics", &gotSvc)
	requireEqual(t, "the metrics Service's ports", wantSvc.Spec.Ports, gotSvc.Spec.Ports)
	requireEqual(t, "the metrics Service's selector", gotDep.Spec.Selector.MatchLabels, gotSvc.Spec.Selector)

	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		if n := countKind(objs, kind); n != 0 {
			t.Errorf("%d %s rendered by default, want none (metrics.* are off)", n, kind)
		}
	}
}

// TestChartMonitoringIsSpecsPrometheus: turned on, the ServiceMonitor, the PrometheusRule and the
// dashboard ConfigMap (with the sidecar's grafana_dashboard label) are those of specs/prometheus.
func TestChartMonitoringIsSpecsPrometheus(t *testing.T) {
	objs := render(t, "--set", "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.dashboard.enabled=true")

	var wantRule, gotRule generic
	spec(t, "prometheus/rules.yaml", &wantRule)
	get(t, objs, "PrometheusRule/volsync", &gotRule)
	requireEqual(t, "the PrometheusRule's groups", wantRule.Spec, gotRule.Spec)
	if len(wantRule.Spec["groups"].([]any)) == 0 {
		t.Fatal("specs/prometheus/rules.yaml has no groups")
	}

	var wantMon, gotMon generic
	spec(t, "prometheus/monitor.yaml", &wantMon)
	get(t, objs, "ServiceMonitor/volsync", &gotMon)
	requireEqual(t, "the ServiceMonitor's endpoints", wantMon.Spec["endpoints"], gotMon.Spec["endpoints"])

	var cm corev1.ConfigMap
	get(t, objs, "ConfigMap/volsync-dashboard", &cm)
	want, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "specs", "prometheus", "dashboard", "volsync.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["volsync.json"] != string(want) {
		t.Error("the dashboard ConfigMap's volsync.json is not specs/prometheus/dashboard/volsync.json")
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap's labels %v lack grafana_dashboard: \"1\" that Grafana's sidecar selects", cm.Labels)
	}
}

// TestChartEveryValueLandsWhereItBelongs renders ci/all-values.yaml, which sets every value, and
// finds each in the object and field it is for.
func TestChartEveryValueLandsWhereItBelongs(t *testing.T) {
	objs := render(t, "-f", filepath.Join(testenv.RepoRoot(), "helm", "volsync", "ci", "all-values.yaml"))

	if n := countKind(objs, "CustomResourceDefinition"); n != 0 {
		t.Errorf("manageCRDs=false rendered %d CRDs", n)
	}
	if n := countKind(objs, "PodDisruptionBudget"); n != 0 {
		t.Errorf("podDisruptionBudget.enabled=false rendered %d PodDisruptionBudgets", n)
	}
	var d apps.Deployment
	get(t, objs, "Deployment/volsync-all", &d) // fullnameOverride
	pod := d.Spec.Template
	c := pod.Spec.Containers[0]
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: not rendered as set", what)
		}
	}
	check("replicaCount", *d.Spec.Replicas == 3)
	check("image.image (a digest)", c.Image == "registry.example/volsyncd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	check("image.pullPolicy", c.ImagePullPolicy == "Always")
	check("nameOverride", d.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == "vs")
	for _, arg := range []string{
		"--mover-image=registry.example/volsync-mover:v9.9.9", "--mover-image-pull-secrets=regcred,other-cred",
		"--log-level=debug", "--log-format=text", "--admin-namespace=volsync-admin",
		"--default-schedule-policies=false", "--max-concurrent-reconciles=4", "--leader-elect",
	} {
		check("argument "+arg, slices.Contains(c.Args, arg))
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for name, want := range map[string]string{
		"RELATED_IMAGE_RSYNC_CONTAINER":     "registry.example/rsync:v1",
		"RELATED_IMAGE_RSYNC_TLS_CONTAINER": "registry.example/rsync-tls@sha256:abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd",
		"RELATED_IMAGE_RCLONE_CONTAINER":    "registry.example/rclone:v2",
		"RELATED_IMAGE_RESTIC_CONTAINER":    "registry.example/restic:v3",
		"RELATED_IMAGE_SYNCTHING_CONTAINER": "registry.example/syncthing:v4",
	} {
		check(name+"="+want, env[name] == want)
	}
	check("imagePullSecrets", len(pod.Spec.ImagePullSecrets) == 2 && pod.Spec.ImagePullSecrets[1].Name == "other-cred")
	check("serviceAccount.name", pod.Spec.ServiceAccountName == "volsync-sa")
	check("podAnnotations", pod.Annotations["example.com/scrape"] == "yes")
	check("podLabels", pod.Labels["team"] == "storage")
	check("podSecurityContext", *pod.Spec.SecurityContext.RunAsUser == 1001)
	check("securityContext", c.SecurityContext != nil && !*c.SecurityContext.AllowPrivilegeEscalation && *c.SecurityContext.ReadOnlyRootFilesystem)
	check("resources", c.Resources.Requests.Cpu().String() == "200m" && c.Resources.Requests.Memory().String() == "128Mi")
	check("nodeSelector", pod.Spec.NodeSelector["kubernetes.io/os"] == "linux")
	check("tolerations", len(pod.Spec.Tolerations) == 1 && pod.Spec.Tolerations[0].Key == "dedicated")
	check("affinity", pod.Spec.Affinity.NodeAffinity != nil && pod.Spec.Affinity.PodAntiAffinity == nil)
	check("priorityClassName", pod.Spec.PriorityClassName == "system-cluster-critical")

	var sa corev1.ServiceAccount
	get(t, objs, "ServiceAccount/volsync-sa", &sa)
	check("serviceAccount.annotations", sa.Annotations["example.com/role"] == "volsync")
	var crb rbacv1.ClusterRoleBinding
	get(t, objs, "ClusterRoleBinding/volsync-all-manager", &crb)
	check("the ClusterRoleBinding's subject", crb.Subjects[0].Name == "volsync-sa" && crb.Subjects[0].Namespace == "volsync-system")
	var svc corev1.Service
	get(t, objs, "Service/volsync-all-metrics", &svc)
	check("metrics.service.port", svc.Spec.Ports[0].Port == 9090)

	var mon generic
	get(t, objs, "ServiceMonitor/volsync-all", &mon)
	labels, _ := mon.Metadata["labels"].(map[string]any)
	check("metrics.serviceMonitor.labels", labels["release"] == "kube-prometheus-stack")
	check("metrics.serviceMonitor.interval", mon.Spec["endpoints"].([]any)[0].(map[string]any)["interval"] == "15s")
	var rule generic
	get(t, objs, "PrometheusRule/volsync-all", &rule)
	labels, _ = rule.Metadata["labels"].(map[string]any)
	check("metrics.prometheusRule.labels", labels["role"] == "alert-rules")
	var cm corev1.ConfigMap
	get(t, objs, "ConfigMap/volsync-all-dashboard", &cm)
	check("metrics.dashboard.namespace", cm.Namespace == "grafana")
	check("metrics.dashboard.labels", cm.Labels["grafana_dashboard"] == "1" && cm.Labels["extra"] == "yes")
	check("metrics.dashboard.annotations", cm.Annotations["grafana_folder"] == "VolSync")
}

func countKind(objs map[string]object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.Kind == kind {
			n++
		}
	}
	return n
}
