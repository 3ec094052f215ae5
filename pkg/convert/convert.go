// Package convert rewrites Stork manifests (SchedulePolicy, NamespacedSchedulePolicy,
// MigrationSchedule, Migration, Rule and ClusterPair of stork.libopenstorage.org/v1alpha1) into
// volsync's, and says what it could not carry over.
//
// Most of Stork's fields have the same name and meaning here, so the conversion is the apiVersion
// plus a few kinds of rewrite (a ClusterPair's inline kubeconfig becomes a Secret). What volsync
// has no field for is found, not listed by hand: each object is read into volsync's Go type and
// every field of the input that the type did not keep is reported and left out of the output.
// An object that is already volsync's passes through the same check, so converting twice gives
// the same output.
package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// StorkGroup is the API group of Stork's kinds.
const StorkGroup = "stork.libopenstorage.org"

// Kinds are the kinds convert rewrites.
var Kinds = []string{"SchedulePolicy", "NamespacedSchedulePolicy", "MigrationSchedule", "Migration", "Rule", "ClusterPair"}

// scheme holds volsync's kinds only: a Stork kind volsync lacks is a warning, never another group's
// type.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := volsyncv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// Warning is one thing of the input that the output does not have, or has differently.
type Warning struct {
	// Object is "Kind/name" (with the namespace, "Kind namespace/name").
	Object string
	// Field is the path of the field in the input, such as spec.adminClusterPair; empty for the
	// whole object.
	Field string
	// Why it was not carried over, and what to do instead when there is something.
	Why string
}

func (w Warning) String() string {
	if w.Field == "" {
		return fmt.Sprintf("%s: %s", w.Object, w.Why)
	}
	return fmt.Sprintf("%s: %s was not carried over: %s", w.Object, w.Field, w.Why)
}

// Result is the converted objects, in input order (a ClusterPair's Secret just before it), and
// the warnings.
type Result struct {
	Objects  []*unstructured.Unstructured
	Warnings []Warning
}

// knownLosses explains fields of Stork's that volsync has no place for. A field not listed here
// is reported with noSuchField.
var knownLosses = map[string]string{
	"spec.adminClusterPair":               "volsync has no admin ClusterPair: a Migration in the admin namespace migrates cluster-scoped objects through its own clusterPair",
	"spec.transformSpecs":                 "volsync has no ResourceTransformation; use namespaceMapping, or change the copies on the destination",
	"spec.template.spec.adminClusterPair": "volsync has no admin ClusterPair: a Migration in the admin namespace migrates cluster-scoped objects through its own clusterPair",
	"spec.template.spec.transformSpecs":   "volsync has no ResourceTransformation; use namespaceMapping, or change the copies on the destination",
	"spec.platformOptions":                "volsync has no platform options (Rancher project mappings); create the projects' namespaces on the destination yourself",
}

const noSuchField = "volsync has no such field"

// serverFields are what an API server wrote on an exported object; they belong to the cluster it
// came from and are dropped without a warning.
var serverFields = [][]string{
	{"metadata", "uid"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
	{"metadata", "creationTimestamp"}, {"metadata", "managedFields"}, {"metadata", "selfLink"},
	{"metadata", "deletionTimestamp"}, {"metadata", "deletionGracePeriodSeconds"}, {"metadata", "ownerReferences"},
	{"metadata", "finalizers"}, {"status"},
}

// Convert reads every document of data (YAML or JSON, separated by ---) and converts it. A
// document that cannot be read at all is an error; one of a kind convert does not know is a
// warning and left out.
func Convert(data []byte) (*Result, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	res := &Result{}
	for doc := 1; ; doc++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d is not valid YAML or JSON: %w", doc, err)
		}
		if len(obj) == 0 {
			continue
		}
		// Whole numbers as int64, as the API machinery keeps them in unstructured objects.
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		if err := utiljson.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.IsList() {
			// kubectl get -o yaml of several objects is a List.
			if err := u.EachListItem(func(o runtime.Object) error {
				res.add(o.(*unstructured.Unstructured))
				return nil
			}); err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			continue
		}
		res.add(u)
	}
	if len(res.Objects) == 0 && len(res.Warnings) == 0 {
		return nil, errors.New("no object in the input")
	}
	return res, nil
}

// add converts one object into res.
func (res *Result) add(u *unstructured.Unstructured) {
	name := objectName(u)
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err == nil && gv.Group != StorkGroup && gv.Group != volsyncv1alpha1.GroupVersion.Group {
		// Another group's object, such as the Secret of a converted ClusterPair: passed on as
		// it is, less what the API server set on its export.
		for _, f := range serverFields {
			unstructured.RemoveNestedField(u.Object, f...)
		}
		res.Objects = append(res.Objects, u)
		return
	}
	if err != nil {
		res.Warnings = append(res.Warnings, Warning{Object: name, Why: fmt.Sprintf("left out: apiVersion %q: %v", u.GetAPIVersion(), err)})
		return
	}
	if !slices.Contains(Kinds, u.GetKind()) {
		res.Warnings = append(res.Warnings, Warning{Object: name,
			Why: fmt.Sprintf("volsync has no %s; left out (convert knows %s)", u.GetKind(), strings.Join(Kinds, ", "))})
		return
	}
	u.SetAPIVersion(volsyncv1alpha1.GroupVersion.String())
	for _, f := range serverFields {
		unstructured.RemoveNestedField(u.Object, f...)
	}
	if u.GetKind() == "ClusterPair" {
		secret, warnings := clusterPair(u, name)
		res.Warnings = append(res.Warnings, warnings...)
		if secret != nil {
			res.Objects = append(res.Objects, secret)
		}
	}
	lost, err := unknownFields(u)
	if err != nil {
		res.Warnings = append(res.Warnings, Warning{Object: name, Why: "left out: " + err.Error()})
		return
	}
	for _, path := range lost {
		if empty(valueAt(u.Object, path)) {
			// Stork writes every field of its Go type, "" and null included: nothing is lost.
			removePath(u.Object, path)
			continue
		}
		why := knownLosses[strings.Join(path, ".")]
		if why == "" {
			why = noSuchField
		}
		res.Warnings = append(res.Warnings, Warning{Object: name, Field: strings.Join(path, "."), Why: why})
		removePath(u.Object, path)
	}
	dropNulls(u.Object)
	res.Objects = append(res.Objects, u)
}

// dropNulls takes out every field set to null, as Stork writes the fields it leaves out: to the
// API server null and absent are the same, and the output reads shorter.
func dropNulls(obj any) {
	switch v := obj.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				delete(v, k)
				continue
			}
			dropNulls(x)
		}
	case []any:
		for _, x := range v {
			dropNulls(x)
		}
	}
}

// unknownFields reads u into volsync's Go type of its kind and returns the path of every field of
// u that the type has no place for, as the API server's strict field validation would name them.
// A value of the wrong type is an error.
func unknownFields(u *unstructured.Unstructured) ([][]string, error) {
	if !scheme.Recognizes(u.GroupVersionKind()) {
		return nil, fmt.Errorf("this volsync has no %s kind", u.GetKind())
	}
	typed, err := scheme.New(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	strict, err := kjson.UnmarshalStrict(raw, typed, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("it does not fit volsync's %s: %w", u.GetKind(), err)
	}
	var paths [][]string
	for _, e := range strict {
		var fe kjson.FieldError
		if errors.As(e, &fe) {
			paths = append(paths, splitPath(fe.FieldPath()))
		}
	}
	return paths, nil
}

// splitPath turns a field path such as rules[0].actions[1].type into its segments, list indexes
// as numbers: rules 0 actions 1 type.
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		for {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			j := strings.IndexByte(part, ']')
			if j < i {
				break
			}
			out = append(out, part[i+1:j])
			part = part[j+1:]
		}
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// valueAt is the value at path in obj, or nil.
func valueAt(obj any, path []string) any {
	for _, seg := range path {
		switch v := obj.(type) {
		case map[string]any:
			obj = v[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(v) {
				return nil
			}
			obj = v[n]
		default:
			return nil
		}
	}
	return obj
}

// empty says whether v holds nothing: null, "", false, 0 or an empty list or map.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int64:
		return x == 0
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// removePath deletes the field at path from obj, walking into lists by index.
func removePath(obj any, path []string) {
	for i, seg := range path {
		last := i == len(path)-1
		switch v := obj.(type) {
		case map[string]any:
			if last {
				delete(v, seg)
				return
			}
			obj = v[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(v) || last {
				return
			}
			obj = v[n]
		default:
			return
		}
	}
}

func objectName(u *unstructured.Unstructured) string {
	kind := u.GetKind()
	if kind == "" {
		kind = "object"
	}
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", kind, ns, u.GetName())
	}
	return kind + "/" + u.GetName()
}
