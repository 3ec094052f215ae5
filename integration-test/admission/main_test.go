package admission

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// env is the control plane every test of the package talks to.
var env *testenv.Env

// testNamespace holds the namespaced objects the tables create. The seed manifests bring their own
// namespaces (seedNamespaces).
const testNamespace = "admission"

// seedNamespaces are the namespaces the seed manifests in testdata name, plus "default" for those
// that name none (their guides create them with kubectl -n).
var seedNamespaces = []string{"source", "dest", "migrationnamespace"}

// requestTimeout bounds each call to the API server, so a wedged server fails a test instead of
// hanging the suite.
const requestTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	e, err := testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "admission suite: %v\n", err)
		return 1
	}
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "admission suite: stopping the control plane: %v\n", err)
		}
	}()
	env = e
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, ns := range append([]string{testNamespace}, seedNamespaces...) {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			fmt.Fprintf(os.Stderr, "admission suite: creating namespace %s: %v\n", ns, err)
			return 1
		}
	}
	return m.Run()
}

// cause is one thing the API server's answer must say: the field path it names and a key phrase of
// the message for that field.
type cause struct {
	field  string
	phrase string
}

// refusal is an object the API server must refuse.
type refusal struct {
	// name is the behaviour, as a sentence.
	name string
	// kind is the volsync kind of the object.
	kind string
	// body is the object in YAML without apiVersion and kind; metadata.name defaults to "refused".
	body string
	// want lists every field the answer must name, each with a key phrase of its message.
	want []cause
}

// acceptance is an object the API server must accept.
type acceptance struct {
	// name is the behaviour, as a sentence.
	name string
	// kind is the volsync kind of the object.
	kind string
	// body is the object in YAML without apiVersion and kind; metadata.name defaults to "accepted".
	body string
}

// newObject builds an unstructured volsync object of kind from a YAML body. Namespaced kinds land in
// testNamespace unless the body names a namespace.
func newObject(kind, defaultName, body string) (*unstructured.Unstructured, error) {
	data, err := yaml.YAMLToJSON([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("the %s body is not YAML: %w", kind, err)
	}
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	// utiljson keeps whole numbers as int64, as the API machinery expects of unstructured objects.
	if err := utiljson.Unmarshal(data, &u.Object); err != nil {
		return nil, fmt.Errorf("the %s body is not an object: %w", kind, err)
	}
	if u.Object == nil {
		u.Object = map[string]interface{}{}
	}
	u.SetAPIVersion(volsyncv1alpha1.GroupVersion.String())
	u.SetKind(kind)
	if u.GetName() == "" {
		u.SetName(defaultName)
	}
	if kind != "SchedulePolicy" && u.GetNamespace() == "" {
		u.SetNamespace(testNamespace)
	}
	return u, nil
}

// create sends obj to the API server with strict field validation, so that a misspelt field in a
// row fails loudly instead of being pruned and letting the row pass for the wrong reason.
func create(obj client.Object) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return env.Client.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict))
}

// deleteAndWait removes obj and polls until the API server no longer has it, so that the next row
// may reuse the name.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := env.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("deleting %s %s: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	waitGone(t, obj)
}

// waitGone polls until obj's name is free.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	key := client.ObjectKeyFromObject(obj)
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, key, probe)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("%s %s is still there: %v", probe.GetKind(), key, err)
	}
}

// exists says whether the API server has obj, for checking that a refused object left nothing.
func exists(t *testing.T, obj client.Object) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	probe := &unstructured.Unstructured{}
	probe.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), probe)
	switch {
	case err == nil:
		return true
	case apierrors.IsNotFound(err):
		return false
	default:
		t.Fatalf("reading %s: %v", client.ObjectKeyFromObject(obj), err)
		return false
	}
}

// causesOf returns the field causes of an API error, or nil when it carries none.
func causesOf(err error) []metav1.StatusCause {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	return status.Status().Details.Causes
}

// names says whether one of causes is about field and contains phrase.
func names(causes []metav1.StatusCause, field, phrase string) bool {
	for _, c := range causes {
		if c.Field == field && strings.Contains(c.Message, phrase) {
			return true
		}
	}
	return false
}

// checkRefused asserts that err is the API server refusing an object as invalid, naming each of
// want's fields with its phrase, both in the structured causes and in the error text a user sees.
func checkRefused(t *testing.T, err error, want []cause) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted it; want a refusal naming %v", want)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid refusal, got %v", err)
	}
	t.Logf("refused: %v", err)
	causes := causesOf(err)
	for _, w := range want {
		if !names(causes, w.field, w.phrase) {
			t.Errorf("the refusal does not name %s with %q; it says: %v", w.field, w.phrase, err)
		}
		if !strings.Contains(err.Error(), w.field) || !strings.Contains(err.Error(), w.phrase) {
			t.Errorf("the message a user sees lacks %s or %q: %v", w.field, w.phrase, err)
		}
	}
}

// runRefusals creates each row's object and expects a refusal that names the row's fields and
// leaves nothing behind.
func runRefusals(t *testing.T, rows []refusal) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			obj, err := newObject(row.kind, "refused", row.body)
			if err != nil {
				t.Fatal(err)
			}
			err = create(obj)
			if err == nil {
				deleteAndWait(t, obj)
			}
			checkRefused(t, err, row.want)
			if exists(t, obj) {
				t.Errorf("a refused %s was stored anyway", row.kind)
			}
		})
	}
}

// runAcceptances creates each row's object, expects it accepted, and deletes it again.
func runAcceptances(t *testing.T, rows []acceptance) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			obj, err := newObject(row.kind, "accepted", row.body)
			if err != nil {
				t.Fatal(err)
			}
			if err := create(obj); err != nil {
				t.Fatalf("the API server refused it: %v", err)
			}
			deleteAndWait(t, obj)
		})
	}
}
