package schedulepolicy

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// DefaultMigrationPolicy is the policy `volsyncctl create migrationschedule` uses without -s, as
// storkctl does.
const DefaultMigrationPolicy = "default-migration-policy"

// +kubebuilder:rbac:groups=volsync.backube,resources=schedulepolicies,verbs=create

// Defaults are the SchedulePolicies Stork creates when it starts, with Stork's values, so that
// manifests and commands that name them work here too.
func Defaults() []volsyncv1alpha1.SchedulePolicy {
	policy := func(name string, item volsyncv1alpha1.SchedulePolicyItem) volsyncv1alpha1.SchedulePolicy {
		return volsyncv1alpha1.SchedulePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{volsyncv1alpha1.CreatedByLabel: volsyncv1alpha1.CreatedByValue}},
			Policy:     item,
		}
	}
	return []volsyncv1alpha1.SchedulePolicy{
		policy(DefaultMigrationPolicy, volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 30}}),
		policy("default-interval-policy", volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: 15, Retain: ptr.To[int32](10)}}),
		policy("default-daily-policy", volsyncv1alpha1.SchedulePolicyItem{Daily: &volsyncv1alpha1.DailyPolicy{Time: "12:00am", Retain: ptr.To[int32](7)}}),
		policy("default-weekly-policy", volsyncv1alpha1.SchedulePolicyItem{Weekly: &volsyncv1alpha1.WeeklyPolicy{Day: "Sunday", Time: "12:00am", Retain: ptr.To[int32](4)}}),
		policy("default-monthly-policy", volsyncv1alpha1.SchedulePolicyItem{Monthly: &volsyncv1alpha1.MonthlyPolicy{Date: 15, Time: "12:00am", Retain: ptr.To[int32](12)}}),
	}
}

// EnsureDefaults creates each default policy that does not exist and returns the names it
// created. One that exists is left as it is: an admin may have changed it, and it is theirs now.
func EnsureDefaults(ctx context.Context, c client.Client) ([]string, error) {
	var created []string
	for _, p := range Defaults() {
		err := c.Create(ctx, &p)
		switch {
		case err == nil:
			created = append(created, p.Name)
		case apierrors.IsAlreadyExists(err):
		default:
			return created, fmt.Errorf("creating the default schedule policy %s: %w", p.Name, err)
		}
	}
	return created, nil
}

// DefaultsRunnable creates the default policies once the manager runs (on the leader only),
// retrying every few seconds while the API server refuses, until it succeeds or volsyncd stops.
func DefaultsRunnable(c client.Client) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		logger := log.FromContext(ctx).WithName("default-schedule-policies")
		_ = wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
			created, err := EnsureDefaults(ctx, c)
			if len(created) > 0 {
				logger.Info("created the default schedule policies", "names", created)
			}
			if err != nil {
				logger.Error(err, "creating the default schedule policies; retrying")
				return false, nil
			}
			return true, nil
		})
		return nil
	})
}
