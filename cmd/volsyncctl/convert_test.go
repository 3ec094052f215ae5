package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// convert rewrites a storkctl export into manifests a real API server takes with strict field
// validation, as 'volsyncctl convert -f FILE | kubectl apply -f -' would apply them, and names
// on stderr what it left out.
func TestConvertPrintsWhatTheClusterAccepts(t *testing.T) {
	env, _ := startCluster(t)
	ctx := context.Background()
	const export = "../../integration-test/admission/testdata/stork/"
	for _, f := range []string{"clusterpair.yaml", "migrationschedule.yaml"} {
		r := executeAll(t, "convert", "-f", export+f)
		if r.errLine != "" {
			t.Fatal(r.errLine)
		}
		if !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, "was not carried over") {
			t.Errorf("%s: stderr %q names nothing left out", f, r.stderr)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(r.out)), 4096)
		n := 0
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: the output is not YAML: %v\n%s", f, err, r.out)
			}
			if len(u.Object) == 0 {
				continue
			}
			if u.GetNamespace() != "" {
				if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.GetNamespace()}}); err != nil && !strings.Contains(err.Error(), "already exists") {
					t.Fatal(err)
				}
			}
			if err := env.Client.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
				t.Fatalf("%s: the API server refused %s %s: %v", f, u.GetKind(), u.GetName(), err)
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s: nothing printed", f)
		}
	}
	if r := executeAll(t, "convert", "-f", "no-such-file.yaml"); !strings.Contains(r.errLine, "no-such-file.yaml") || !strings.Contains(r.errLine, "pass -f FILE") {
		t.Errorf("a missing file: %q", r.errLine)
	}
}
