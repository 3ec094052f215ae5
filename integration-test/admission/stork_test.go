package admission

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/volsync/volsync/pkg/convert"
)

// storkWarnings are the fields each Stork export loses on the way, as "Kind name: field" (the
// whole object when the field is empty). Everything else must arrive.
var storkWarnings = map[string][]string{
	"clusterpair.yaml": {
		"ClusterPair mysql/remotecluster: spec.options.<insert_storage_options_here>",
		"ClusterPair mysql/remotecluster: spec.options.ip",
		"ClusterPair mysql/remotecluster: spec.options.port",
		"ClusterPair mysql/remotecluster: spec.options.token",
	},
	"migrationschedule.yaml": {
		"MigrationSchedule mysql/mysql-dr: spec.template.spec.transformSpecs",
	},
}

// TestStorkExportsConvertApplyAndRoundTrip converts manifests written field for field as
// storkctl and kubectl write them on a Stork cluster (testdata/stork), expects exactly the known
// losses to be named, applies the output to a real API server with strict field validation, reads
// every object back unchanged, and converts the output again to the same objects with nothing
// to say.
func TestStorkExportsConvertApplyAndRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "stork", "*.yaml"))
	if err != nil || len(files) < 6 {
		t.Fatalf("found %d Stork exports (%v), want 6", len(files), err)
	}
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mysql"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, file := range files {
		base := filepath.Base(file)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := convert.Convert(data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range res.Warnings {
				got = append(got, w.Object+": "+w.Field)
				if w.Why == "" {
					t.Errorf("warning %s gives no reason", w)
				}
			}
			if want := storkWarnings[base]; !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("warnings\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}

			for _, obj := range res.Objects {
				if obj.GetAPIVersion() != "v1" && !strings.HasPrefix(obj.GetAPIVersion(), "volsync.backube/") {
					t.Errorf("%s kept apiVersion %s", obj.GetName(), obj.GetAPIVersion())
				}
				if err := create(obj.DeepCopy()); err != nil {
					t.Fatalf("the API server refused converted %s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
				t.Cleanup(func() { deleteAndWait(t, obj.DeepCopy()) })
				stored := &unstructured.Unstructured{}
				stored.SetGroupVersionKind(obj.GroupVersionKind())
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
					t.Fatal(err)
				}
				for key, want := range obj.Object {
					if key == "apiVersion" || key == "kind" {
						continue
					}
					if missing := missingFields(want, stored.Object[key], key); len(missing) > 0 {
						t.Errorf("stored %s %s lost or changed %v", obj.GetKind(), obj.GetName(), missing)
					}
				}
			}

			var again []byte
			for _, obj := range res.Objects {
				b, err := yaml.Marshal(obj.Object)
				if err != nil {
					t.Fatal(err)
				}
				again = append(append(again, b...), []byte("---\n")...)
			}
			if len(again) == 0 {
				return
			}
			twice, err := convert.Convert(again)
			if err != nil {
				t.Fatal(err)
			}
			if len(twice.Warnings) > 0 {
				t.Errorf("converting the output again warned %v", twice.Warnings)
			}
			if len(twice.Objects) != len(res.Objects) {
				t.Fatalf("converting the output again gave %d objects, want %d", len(twice.Objects), len(res.Objects))
			}
			for i := range res.Objects {
				if !reflect.DeepEqual(normalized(t, twice.Objects[i]), normalized(t, res.Objects[i])) {
					t.Errorf("converting %s again changed it:\n%v\nwas\n%v", res.Objects[i].GetName(), twice.Objects[i].Object, res.Objects[i].Object)
				}
			}
		})
	}
}

// normalized is obj through YAML, so that numbers compare alike whichever decoder read them.
func normalized(t *testing.T, obj *unstructured.Unstructured) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
