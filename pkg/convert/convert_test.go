package convert

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		warnings []string
		check    func(t *testing.T, r *Result)
	}{
		{
			name: "a field volsync lacks is named and left out, with the reason when it is known",
			in: `apiVersion: stork.libopenstorage.org/v1alpha1
kind: Migration
metadata: {name: m, namespace: app}
spec:
  clusterPair: remote
  namespaces: [app]
  adminClusterPair: admin-pair
  someFutureField: 3`,
			warnings: []string{
				"Migration app/m: spec.adminClusterPair was not carried over: volsync has no admin ClusterPair",
				"Migration app/m: spec.someFutureField was not carried over: volsync has no such field",
			},
			check: func(t *testing.T, r *Result) {
				spec := r.Objects[0].Object["spec"].(map[string]any)
				if _, ok := spec["adminClusterPair"]; ok || spec["clusterPair"] != "remote" {
					t.Errorf("spec %v", spec)
				}
			},
		},
		{
			name: "an empty field volsync lacks is dropped without a word: nothing is lost",
			in: `apiVersion: stork.libopenstorage.org/v1alpha1
kind: Migration
metadata: {name: m, namespace: app}
spec: {clusterPair: remote, namespaces: [app], adminClusterPair: "", transformSpecs: null}`,
		},
		{
			name: "what the API server set on an export is dropped",
			in: `apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: p, uid: x, resourceVersion: "5", generation: 2, creationTimestamp: "2026-01-01T00:00:00Z"}
policy: {interval: {intervalMinutes: 30}}
status: {}`,
			check: func(t *testing.T, r *Result) {
				want := map[string]any{"apiVersion": "volsync.backube/v1alpha1", "kind": "SchedulePolicy",
					"metadata": map[string]any{"name": "p"}, "policy": map[string]any{"interval": map[string]any{"intervalMinutes": int64(30)}}}
				if !reflect.DeepEqual(r.Objects[0].Object, want) {
					t.Errorf("got %v, want %v", r.Objects[0].Object, want)
				}
			},
		},
		{
			name:     "a Stork kind volsync has no counterpart for is named and left out",
			in:       "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: ApplicationBackup\nmetadata: {name: b, namespace: app}",
			warnings: []string{"ApplicationBackup app/b: volsync has no ApplicationBackup; left out"},
		},
		{
			name:     "a value of the wrong type leaves the object out and says why",
			in:       "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: SchedulePolicy\nmetadata: {name: p}\npolicy: {interval: {intervalMinutes: often}}",
			warnings: []string{"SchedulePolicy/p: left out: it does not fit volsync's SchedulePolicy"},
		},
		{
			name: "another group's object passes through as it is",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: app, uid: x}\ndata: {a: b}",
			check: func(t *testing.T, r *Result) {
				if r.Objects[0].GetUID() != "" || r.Objects[0].Object["data"].(map[string]any)["a"] != "b" {
					t.Errorf("got %v", r.Objects[0].Object)
				}
			},
		},
		{
			name: "a kubeconfig in the file's own layout (lists of named entries) becomes the Secret too",
			in: `apiVersion: stork.libopenstorage.org/v1alpha1
kind: ClusterPair
metadata: {name: dr, namespace: app}
spec:
  options: {volumeServiceType: ClusterIP}
  config:
    clusters: [{name: c, cluster: {server: "https://192.0.2.1:6443"}}]
    contexts: [{name: x, context: {cluster: c, user: u}}]
    users: [{name: u, user: {token: abc}}]
    current-context: x`,
			check: func(t *testing.T, r *Result) {
				if len(r.Objects) != 2 || r.Objects[0].GetKind() != "Secret" || r.Objects[1].GetKind() != "ClusterPair" {
					t.Fatalf("objects %v", r.Objects)
				}
				enc := r.Objects[0].Object["data"].(map[string]any)["kubeconfig"].(string)
				raw, err := base64.StdEncoding.DecodeString(enc)
				if err != nil {
					t.Fatal(err)
				}
				c, err := clientcmd.Load(raw)
				if err != nil || c.Clusters["c"].Server != "https://192.0.2.1:6443" || c.AuthInfos["u"].Token != "abc" || c.CurrentContext != "x" {
					t.Fatalf("kubeconfig %s (%v)", raw, err)
				}
				spec := r.Objects[1].Object["spec"].(map[string]any)
				if !reflect.DeepEqual(spec["options"], map[string]any{"volumeServiceType": "ClusterIP"}) ||
					!reflect.DeepEqual(spec["kubeconfigSecretRef"], map[string]any{"name": "dr-kubeconfig", "key": "kubeconfig"}) {
					t.Errorf("spec %v", spec)
				}
			},
		},
		{
			name:     "a ClusterPair without a kubeconfig is named",
			in:       "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: ClusterPair\nmetadata: {name: dr, namespace: app}\nspec: {}",
			warnings: []string{"ClusterPair app/dr: has neither spec.config nor spec.kubeconfigSecretRef"},
		},
		{
			name:     "a kubeconfig whose current context is missing is named, and no Secret is made",
			in:       "apiVersion: stork.libopenstorage.org/v1alpha1\nkind: ClusterPair\nmetadata: {name: dr, namespace: app}\nspec:\n  config:\n    clusters: {c: {server: \"https://x\"}}\n    current-context: nowhere",
			warnings: []string{"ClusterPair app/dr: spec.config was not carried over: it is not a kubeconfig volsync can read (its current-context \"nowhere\""},
			check: func(t *testing.T, r *Result) {
				for _, o := range r.Objects {
					if o.GetKind() == "Secret" {
						t.Error("a Secret was made of a broken kubeconfig")
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Convert([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %v, want %d", r.Warnings, len(tc.warnings))
			}
			for i, w := range r.Warnings {
				if !strings.HasPrefix(w.String(), tc.warnings[i]) {
					t.Errorf("warning %q, want it to start %q", w, tc.warnings[i])
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestConvertRefusesWhatIsNotAManifest(t *testing.T) {
	if _, err := Convert([]byte("")); err == nil || !strings.Contains(err.Error(), "no object") {
		t.Errorf("empty input: %v", err)
	}
	if _, err := Convert([]byte("a: [")); err == nil || !strings.Contains(err.Error(), "document 1") {
		t.Errorf("broken YAML: %v", err)
	}
}

func TestFieldPaths(t *testing.T) {
	for in, want := range map[string][]string{
		"spec.adminClusterPair":      {"spec", "adminClusterPair"},
		"rules[0].actions[12].extra": {"rules", "0", "actions", "12", "extra"},
		"spec.template.spec.x":       {"spec", "template", "spec", "x"},
	} {
		if got := splitPath(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", in, got, want)
		}
	}
	obj := map[string]any{"rules": []any{map[string]any{"actions": []any{map[string]any{"extra": 1, "value": "x"}}}}}
	removePath(obj, []string{"rules", "0", "actions", "0", "extra"})
	if want := map[string]any{"rules": []any{map[string]any{"actions": []any{map[string]any{"value": "x"}}}}}; !reflect.DeepEqual(obj, want) {
		t.Errorf("removePath left %v", obj)
	}
}
