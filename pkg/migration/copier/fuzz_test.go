package copier

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FuzzPrepare feeds Prepare objects of every copied kind with arbitrary bodies, as a newer or a
// misbehaving API server might return them: it must never panic, never keep the source's identity
// and never modify its input.
func FuzzPrepare(f *testing.F) {
	f.Add("Deployment", `{"metadata":{"name":"a","uid":"u","resourceVersion":"1"},"spec":{"replicas":3}}`, false)
	f.Add("Service", `{"metadata":{"name":"a"},"spec":{"clusterIP":"None","ports":[{"nodePort":3}]}}`, true)
	f.Add("Service", `{"metadata":{"name":"a"},"spec":{"ports":"not a list"}}`, true)
	f.Add("StatefulSet", `{"metadata":{"name":"a"},"spec":{"replicas":"three","volumeClaimTemplates":[1,{"status":{}}]}}`, false)
	f.Add("ServiceAccount", `{"metadata":{"name":"a"},"secrets":[{"name":"a-token-x"},"x",{"name":7}]}`, false)
	f.Add("CronJob", `{"metadata":{"name":"a","annotations":{"volsync.backube/migration-suspend":"x"}},"spec":{"suspend":"yes"}}`, false)
	f.Add("PersistentVolumeClaim", `{"metadata":{"name":"a"},"spec":null}`, false)
	f.Add("RoleBinding", `{"metadata":{"name":"a","namespace":"shop"},"subjects":[{"kind":"ServiceAccount","namespace":"shop"},"x",{"kind":"ServiceAccount","namespace":7}]}`, false)
	f.Add("Namespace", `{"metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop"}}}`, false)
	f.Fuzz(func(t *testing.T, kind, body string, start bool) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(body), &obj); err != nil || obj == nil {
			return
		}
		if _, ok := obj["metadata"].(map[string]any); !ok {
			return // the API server always sends metadata
		}
		in := &unstructured.Unstructured{Object: obj}
		in.SetKind(kind)
		in.SetAPIVersion("v1")
		before, _ := json.Marshal(in.Object)
		out, err := Prepare(in, Options{StartApplications: start, SourceCluster: "src", MigratedBy: "ns/x",
			NamespaceMapping: NamespaceMapping{"shop": "shop-dr"}})
		after, _ := json.Marshal(in.Object)
		if string(before) != string(after) {
			t.Fatalf("Prepare modified its input:\n%s\n%s", before, after)
		}
		if err != nil {
			return
		}
		if out.GetUID() != "" || out.GetResourceVersion() != "" {
			t.Fatalf("identity kept: %v", out.Object["metadata"])
		}
		if _, ok := out.Object["status"]; ok {
			t.Fatal("status kept")
		}
	})
}
