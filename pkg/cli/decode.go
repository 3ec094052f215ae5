package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// DecodeSchedulePolicies reads every SchedulePolicy of a YAML or JSON file (several documents may
// be separated by ---). Fields the API does not know are errors, so that a misspelt field is not
// silently dropped as the API server would prune it. A policy written for Stork is recognised and
// the fix named.
func DecodeSchedulePolicies(data []byte) ([]volsyncv1alpha1.SchedulePolicy, error) {
	want := volsyncv1alpha1.GroupVersion.String()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []volsyncv1alpha1.SchedulePolicy
	for doc := 1; ; doc++ {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d is not valid YAML or JSON: %w", doc, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() != "SchedulePolicy" {
			return nil, fmt.Errorf("document %d is a %q, not a SchedulePolicy", doc, u.GetKind())
		}
		if av := u.GetAPIVersion(); av != want {
			if strings.HasPrefix(av, "stork.libopenstorage.org/") {
				return nil, fmt.Errorf("document %d: apiVersion %q is Stork's: change it to %q", doc, av, want)
			}
			return nil, fmt.Errorf("document %d: apiVersion %q is not %q", doc, av, want)
		}
		raw, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		var p volsyncv1alpha1.SchedulePolicy
		if err := yaml.UnmarshalStrict(raw, &p); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", doc, u.GetName(), err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no SchedulePolicy in the file")
	}
	return out, nil
}
