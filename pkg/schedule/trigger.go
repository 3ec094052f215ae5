package schedule

import (
	"fmt"

	"github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// ReplicationTrigger turns a ReplicationSource's spec.trigger into the Trigger the controller asks.
// lastManualSync is status.lastManualSync. policy is the compiled SchedulePolicy named by
// schedulePolicyName; the caller fetches it because this package reads nothing from the cluster.
// A nil or empty spec means "always".
func ReplicationTrigger(spec *v1alpha1.ReplicationTriggerSpec, lastManualSync string, policy *Policy) (Trigger, error) {
	if spec == nil {
		return AlwaysTrigger{}, nil
	}
	if spec.Schedule != nil && spec.SchedulePolicyName != "" {
		return nil, fmt.Errorf("trigger takes schedule or schedulePolicyName, not both (manual may go with either, and wins)")
	}
	switch {
	case spec.Manual != "":
		// Manual wins over a schedule beside it, as in VolSync.
		return ManualTrigger{Requested: spec.Manual, Completed: lastManualSync}, nil
	case spec.Schedule != nil:
		c, err := ParseCron(*spec.Schedule)
		if err != nil {
			return nil, fmt.Errorf("trigger.schedule: %w", err)
		}
		return c, nil
	case spec.SchedulePolicyName != "":
		if policy == nil {
			return nil, fmt.Errorf("trigger.schedulePolicyName: schedule policy %q was not supplied", spec.SchedulePolicyName)
		}
		if policy.Name != spec.SchedulePolicyName {
			return nil, fmt.Errorf("trigger.schedulePolicyName: names %q but schedule policy %q was supplied", spec.SchedulePolicyName, policy.Name)
		}
		return policy, nil
	}
	return AlwaysTrigger{}, nil
}
