package admission

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// TestEngineAgreesWithAdmission replays every SchedulePolicy row through both judges: the API
// server (schema and CEL) and pkg/schedule.ValidatePolicy, which the controller and the CLI use.
// They must give the same verdict, name the same fields, and word each problem the same way, so a
// policy the API server stored is never refused later by the controller, and a user reading
// `volsyncctl validate` sees the message kubectl would show.
func TestEngineAgreesWithAdmission(t *testing.T) {
	type row struct {
		name string
		body string
		want []cause
	}
	var rows []row
	for _, r := range schedulePolicyRefusals {
		rows = append(rows, row{r.name, r.body, r.want})
	}
	for _, a := range schedulePolicyAcceptances {
		rows = append(rows, row{a.name, a.body, nil})
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			var policy volsyncv1alpha1.SchedulePolicy
			if err := yaml.UnmarshalStrict([]byte(r.body), &policy); err != nil {
				t.Fatalf("the row does not decode into a SchedulePolicy: %v", err)
			}
			engineErrs := schedule.ValidatePolicy(policy.Policy)

			obj, err := newObject("SchedulePolicy", "engine", r.body)
			if err != nil {
				t.Fatal(err)
			}
			apiErr := create(obj)
			if apiErr == nil {
				deleteAndWait(t, obj)
			}

			if apiAccepts, engineAccepts := apiErr == nil, len(engineErrs) == 0; apiAccepts != engineAccepts {
				t.Fatalf("the API server accepts: %v (%v), the engine accepts: %v (%v)",
					apiAccepts, apiErr, engineAccepts, engineErrs.ToAggregate())
			}
			if apiErr == nil {
				return
			}
			apiCauses := causesOf(apiErr)
			for _, fe := range engineErrs {
				if !names(apiCauses, fe.Field, fe.Detail) {
					t.Errorf("the engine says %q, but the API server says nothing like it for %s: %v",
						fe.Error(), fe.Field, apiErr)
				}
			}
			for _, c := range apiCauses {
				// A cause without a field ("<nil>") is the API server's note that it skipped the
				// CEL rules because of a schema error; it is about the answer, not the policy.
				if c.Field != "" && c.Field != "<nil>" && !namesField(engineErrs, c.Field) {
					t.Errorf("the API server names %s (%s), the engine does not: %v", c.Field, c.Message,
						engineErrs.ToAggregate())
				}
			}
			for _, w := range r.want {
				if !names(apiCauses, w.field, w.phrase) {
					t.Errorf("the API server does not say %q for %s: %v", w.phrase, w.field, apiErr)
				}
				if !engineSays(engineErrs, w.field, w.phrase) {
					t.Errorf("the engine does not say %q for %s: %v", w.phrase, w.field, engineErrs.ToAggregate())
				}
			}
		})
	}
}

// TestCronParserAgreesWithAdmission replays every cron row of the ReplicationSource tables through
// pkg/schedule.ParseCron: whatever the API server stores, the controller must be able to run, and
// what it refuses the CLI must refuse too.
func TestCronParserAgreesWithAdmission(t *testing.T) {
	for _, r := range replicationSourceRefusals {
		expr, ok := cronOf(t, r.body)
		if !ok || len(r.want) != 1 || r.want[0].field != "spec.trigger.schedule" {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			if _, err := schedule.ParseCron(expr); err == nil {
				t.Errorf("admission refuses %q but the engine parses it", expr)
			} else if !strings.Contains(err.Error(), r.want[0].phrase) {
				t.Errorf("the engine refuses %q with %q, which lacks admission's %q", expr, err, r.want[0].phrase)
			}
		})
	}
	for _, a := range replicationSourceAcceptances {
		expr, ok := cronOf(t, a.body)
		if !ok {
			continue
		}
		t.Run(a.name, func(t *testing.T) {
			if _, err := schedule.ParseCron(expr); err != nil {
				t.Errorf("admission accepts %q but the engine refuses it: %v", expr, err)
			}
		})
	}
}

// cronOf returns spec.trigger.schedule of a ReplicationSource body, if it has one.
func cronOf(t *testing.T, body string) (string, bool) {
	t.Helper()
	var src volsyncv1alpha1.ReplicationSource
	if err := yaml.Unmarshal([]byte(body), &src); err != nil {
		t.Fatalf("a ReplicationSource row does not decode: %v", err)
	}
	if src.Spec.Trigger == nil || src.Spec.Trigger.Schedule == nil ||
		src.Spec.Trigger.Manual != "" || src.Spec.Trigger.SchedulePolicyName != "" {
		return "", false
	}
	return *src.Spec.Trigger.Schedule, true
}

// namesField says whether errs has an error about path.
func namesField(errs field.ErrorList, path string) bool {
	for _, fe := range errs {
		if fe.Field == path {
			return true
		}
	}
	return false
}

// engineSays says whether errs has an error about path whose text holds phrase.
func engineSays(errs field.ErrorList, path, phrase string) bool {
	for _, fe := range errs {
		if fe.Field == path && strings.Contains(fe.ErrorBody(), phrase) {
			return true
		}
	}
	return false
}
