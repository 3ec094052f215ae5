package admission

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// TestSeedManifestsAreAccepted applies the seed documents' own manifests (testdata), written for
// Stork and Scribe and changed only in apiVersion, and expects every one to be stored as written:
// strict field validation refuses any field our types lack, and the object read back must still
// hold every field of the manifest, so that nothing is silently pruned.
func TestSeedManifestsAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d seed manifests in testdata, want at least 10", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file)+" is accepted", func(t *testing.T) {
			manifest := readManifest(t, file)
			gvk := manifest.GroupVersionKind()
			if gvk.GroupVersion() != volsyncv1alpha1.GroupVersion {
				t.Fatalf("apiVersion is %s, want %s", manifest.GetAPIVersion(), volsyncv1alpha1.GroupVersion)
			}
			checkTypedDecode(t, file, gvk)
			obj := manifest.DeepCopy()
			if gvk.Kind != "SchedulePolicy" && obj.GetNamespace() == "" {
				obj.SetNamespace("default")
			}
			if err := create(obj); err != nil {
				t.Fatalf("the API server refused the seed's manifest: %v", err)
			}
			t.Cleanup(func() { deleteAndWait(t, obj) })

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(gvk)
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
				t.Fatal(err)
			}
			for key, want := range manifest.Object {
				if key == "metadata" || key == "apiVersion" || key == "kind" {
					continue
				}
				if missing := missingFields(want, stored.Object[key], key); len(missing) > 0 {
					t.Errorf("the stored object lost or changed %v", missing)
				}
			}
		})
	}
}

// readManifest reads one YAML manifest into an unstructured object.
func readManifest(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s is not YAML: %v", file, err)
	}
	u := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(data, &u.Object); err != nil {
		t.Fatalf("%s is not an object: %v", file, err)
	}
	return u
}

// checkTypedDecode decodes the manifest strictly into our Go type, so that the controller (which
// reads typed objects) sees every field the manifest sets.
func checkTypedDecode(t *testing.T, file string, gvk schema.GroupVersionKind) {
	t.Helper()
	typed, err := env.Scheme.New(gvk)
	if err != nil {
		t.Fatalf("no Go type for %s: %v", gvk, err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, typed); err != nil {
		t.Errorf("%s does not decode strictly into %T: %v", file, typed, err)
	}
}

// missingFields lists the paths of want (a manifest's value) that got differs on. Fields got has
// beyond want (defaults) are fine; quantities are compared as the server normalises them.
func missingFields(want, got interface{}, path string) []string {
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return []string{path}
		}
		var missing []string
		for k, v := range w {
			missing = append(missing, missingFields(v, g[k], path+"."+k)...)
		}
		return missing
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return []string{path}
		}
		var missing []string
		for i := range w {
			missing = append(missing, missingFields(w[i], g[i], path+"[]")...)
		}
		return missing
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{path}
		}
		return nil
	}
}
